"""Predict and serve: the exported `inference/` folder in, labels and scores out (docs/architecture.md).

Nothing here imports paddle or onnxruntime at import time: the package must also load in .venv310, which has
FastDeploy and neither of those.
"""
import os

# Paddle's MKL takes a slow path on AMD CPUs without it; set before any backend imports paddle.
os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")
