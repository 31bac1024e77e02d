"""Predict and serve: the exported `inference/` folder in, labels and scores out (docs/architecture.md).

Nothing here imports paddle or onnxruntime at import time: the package must also load in .venv310, which has
FastDeploy and neither of those.
"""
import basics  # noqa: F401  (sets MKL_DEBUG_CPU_TYPE before anything imports paddle)
