"""The masking stage: FER2013 faces in, synthetically masked PaddleClas image lists out."""
import basics  # noqa: F401  (sets MKL_DEBUG_CPU_TYPE before anything imports paddle)

# FER2013's emotion codes 0..6, in order.
FER2013_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
DEFAULT_CLASSES = ("angry", "fear", "happy", "surprise")
USAGE_TO_SPLIT = {"Training": "train", "PublicTest": "eval", "PrivateTest": "test"}
SPLITS = ("train", "eval", "test")
