"""Checks on the input faces that a user should hear about before training on them.

Sharpness is the variance of the Laplacian of the 48x48 source face. A model learns only what its training faces
show: if the training split is far blurrier than the evaluation split (or than the photos it will serve), it is
tested on detail it never saw. On ../shared/fer2013 the medians were 1,845 (Training) and 2,228 (PublicTest) in
`make data`'s manifest.
"""
from typing import Optional

import cv2
import numpy as np

from .readers import load_gray

# Faces per split: on ../shared's PublicTest, 400 gave a median of 2228 against 2150 over all 3,589.
SHARPNESS_SAMPLE = 400
# On FER2013's PublicTest faces a Gaussian blur of sigma 0.5 px divides the median by 2.2, of 1 px by 14.5: 4x is
# a visible blur.
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


def blur_warning(medians: dict) -> Optional[str]:
    """A sentence for the user when the train split is much blurrier than the eval split, else None; medians:
    split_sharpness(faces)."""
    train, evaluation = medians.get("train"), medians.get("eval")
    if not train or not evaluation or evaluation / train < BLUR_RATIO_WARNING:
        return None
    return (f"the training faces are much blurrier than the evaluation faces (median variance of the Laplacian "
            f"{train} vs {evaluation}, {evaluation / train:.0f}x): a model learns only the detail its training "
            f"faces show, so expect it to do worse on the sharper evaluation faces, and on sharp photos, than on "
            f"faces like its training ones. Sharper training images are the remedy")
