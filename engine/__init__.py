"""Config-driven training, evaluation, inference and export (PaddleClas's configs and commands)."""
import os

# Paddle's bundled MKL takes a 3-4x slower path on AMD CPUs unless this is set before paddle loads.
os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")
