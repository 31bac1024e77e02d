"""Checks on the input faces that a user should hear about before training on them.

Sharpness is the variance of the Laplacian of the 48x48 source face. A model learns only what its training faces
show: if the training split is far blurrier than the evaluation split (or than the photos it will serve), it is
tested on detail it never saw. Measured here on ../shared/fer2013: Training median 6.2, PublicTest 2150, which
is what a Gaussian blur of sigma 3 px does to the PublicTest faces (median 6.4).
"""
from typing import Optional

import cv2
import numpy as np

from .readers import load_gray

# Faces per split: on ../shared's PublicTest, 400 gave a median of 2228 against 2150 over all 3,589.
SHARPNESS_SAMPLE = 400
# A Gaussian blur of sigma 0.5 px divides the PublicTest median by 2.2, of 1 px by 14.5: 4x is a visible blur.
BLUR_RATIO_WARNING = 4.0


def sharpness(gray: np.ndarray) -> float:
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def sample_faces(samples, seed: int = 0) -> dict:
    """{split: up to SHARPNESS_SAMPLE readable source faces}, drawn with a fixed seed."""
    by_split = {}
    for sample in samples:
        by_split.setdefault(sample.split, []).append(sample)
    rng = np.random.default_rng(seed)
    faces = {}
    for split, members in sorted(by_split.items()):
        chosen = rng.choice(len(members), min(SHARPNESS_SAMPLE, len(members)), replace=False)
        faces[split] = []
        for index in chosen:
            try:
                faces[split].append(load_gray(members[index]))
            except ValueError:
                continue
    return faces


def _median_sharpness(faces) -> float:
    return float(np.median([sharpness(face) for face in faces]))


def split_sharpness(faces: dict) -> dict:
    """{split: median sharpness} of sample_faces' faces."""
    return {split: round(_median_sharpness(members), 1) for split, members in faces.items() if members}


def matching_blur_sigma(faces: dict) -> float:
    """The Gaussian sigma (px, one decimal) that makes the eval faces as blurred as the train faces (equal median
    sharpness) in sample_faces' faces; 0.0 unless the train faces are BLUR_RATIO_WARNING times blurrier. On
    ../shared/fer2013: 3.1."""
    train, evaluation = faces.get("train"), faces.get("eval")
    if not train or not evaluation:
        return 0.0
    target = _median_sharpness(train)
    if _median_sharpness(evaluation) < BLUR_RATIO_WARNING * target:
        return 0.0
    low, high = 0.0, 8.0             # sharpness falls as sigma grows: bisect for the crossing
    for _ in range(12):
        middle = (low + high) / 2
        blurred = [cv2.GaussianBlur(face, (0, 0), middle) for face in evaluation]
        low, high = (middle, high) if _median_sharpness(blurred) > target else (low, middle)
    return round((low + high) / 2, 1)


def blur_warning(medians: dict, faces: dict, train_mask_blur: float) -> Optional[str]:
    """A sentence for the user when the train split is much blurrier than the eval split, else None; medians:
    split_sharpness(faces); train_mask_blur: the blur the run drew the training masks with."""
    train, evaluation = medians.get("train"), medians.get("eval")
    if not train or not evaluation or evaluation / train < BLUR_RATIO_WARNING:
        return None
    if train_mask_blur:
        advice = f"their masks were drawn blurred by {train_mask_blur} px"
    else:
        advice = (f"a blur of sigma {matching_blur_sigma(faces)} px makes the evaluation faces as "
                  f"blurred: pass --train-mask-blur auto to draw the training masks that blurred")
    return (f"the training faces are much blurrier than the evaluation faces (median Laplacian variance "
            f"{train} vs {evaluation}, {evaluation / train:.0f}x): {advice}, and blur the model's inputs after "
            f"training to match (Arch.infer_blur_sigma; docs/masker.md#sharpness)")
