"""The six mask points of a FER2013-style face crop, from the project's own compact dlib shape predictor.

dlib's 68-point model (masker.faces.crop_landmarks) costs about 0.8 ms per pass and needs a second pass on one
face in two (the tilted ones): most of the time masking a face took. The mask needs only six points
(masker.geometry.POINT_NAMES), so a small predictor was trained on what the 68-point model says about FER2013's
Training faces (masker.points_training; `make mask-points-model`). It runs the same way: on the bicubic
upscale, from the FER2013 face box, again on a face that still looks tilted (up to PASSES passes). How closely the two agree, and how each
follows a face that moves, is in the report beside the model (MODEL_REPORT).
"""
import json
from functools import lru_cache
from pathlib import Path

import dlib
import numpy as np

from basics import FACE_SIZE

from .faces import ModelMissing, in_crop, levelled_points, predicted, upscaled
from .geometry import eye_line_tilt

MODEL = Path(__file__).resolve().parent / "models" / "mask_points.dat"
MODEL_REPORT = MODEL.with_suffix(".json")
# Passes at most (levelled_points). On 400 PublicTest faces turned 20 degrees either way, the mask's tilt followed
# the turn to within 4 degrees on 82% of them with two passes and 85% with three; the 68-point model's, on 84%.
PASSES = 3


@lru_cache(maxsize=None)
def predictor(path: str = str(MODEL)) -> "dlib.shape_predictor":
    if not Path(path).is_file():
        raise ModelMissing(f"{path} is missing: it is part of the checkout; `make mask-points-model` rebuilds it")
    return dlib.shape_predictor(path)


def upscaled_crop(crop: np.ndarray) -> tuple:
    """(upscaled gray crop, scale) of a 48x48 face crop: the predictor's input."""
    if crop.shape[:2] != (FACE_SIZE, FACE_SIZE):
        raise ValueError(f"expected a {FACE_SIZE}x{FACE_SIZE} face crop, got {crop.shape[1]}x{crop.shape[0]}")
    return upscaled(crop)


def located(big: np.ndarray, scale: float, path: str = str(MODEL)) -> np.ndarray:
    """The six points of an upscaled crop, in the 48 px crop's own pixel coordinates."""
    points = levelled_points(big, lambda image: predicted(predictor(path), image), eye_line_tilt, PASSES)
    return in_crop(points, scale)


def mask_points(crop: np.ndarray, path: str = str(MODEL)) -> np.ndarray:
    """(6, 2) mask points (geometry.POINT_NAMES order) of a 48x48 FER2013-style face crop."""
    return located(*upscaled_crop(crop), path)


def model_report() -> dict:
    return json.loads(MODEL_REPORT.read_text()) if MODEL_REPORT.is_file() else {}
