"""Config-driven training, evaluation, inference and export (PaddleClas's configs and commands)."""
import basics  # noqa: F401  (sets MKL_DEBUG_CPU_TYPE before anything imports paddle)
