"""The masking stage: FER2013 faces in, synthetically masked PaddleClas image lists out."""
import os

# Paddle's MKL takes a slow path on AMD CPUs without it (docs/architecture.md); set before anything imports paddle.
os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")

# FER2013's emotion codes 0..6, in order.
FER2013_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
DEFAULT_CLASSES = ("angry", "fear", "happy", "surprise")
USAGE_TO_SPLIT = {"Training": "train", "PublicTest": "eval", "PrivateTest": "test"}
SPLITS = ("train", "eval", "test")
