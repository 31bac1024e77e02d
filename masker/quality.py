"""Checks on the input faces that a user should hear about before training on them.

Sharpness is the variance of the Laplacian of the 48x48 source face. A model learns only what its training faces
show: if the training split is far blurrier than the evaluation split (or than the photos it will serve), it is
tested on detail it never saw. Measured here on ../shared/fer2013: Training median 6.2, PublicTest 2150, which
is what a Gaussian blur of sigma 3 px does to the PublicTest faces (median 6.4).
"""
import cv2
import numpy as np

from .readers import load_gray

# Faces per split: on ../shared's PublicTest, 400 gave a median of 2228 against 2150 over all 3,589.
SHARPNESS_SAMPLE = 400
# A Gaussian blur of sigma 0.5 px divides the PublicTest median by 2.2, of 1 px by 14.5: 4x is a visible blur.
BLUR_RATIO_WARNING = 4.0


def sharpness(gray: np.ndarray) -> float:
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def split_sharpness(samples, seed: int = 0) -> dict:
    """{split: median sharpness} over up to SHARPNESS_SAMPLE readable source faces per split."""
    by_split = {}
    for sample in samples:
        by_split.setdefault(sample.split, []).append(sample)
    rng = np.random.default_rng(seed)
    medians = {}
    for split, members in sorted(by_split.items()):
        chosen = rng.choice(len(members), min(SHARPNESS_SAMPLE, len(members)), replace=False)
        values = []
        for index in chosen:
            try:
                values.append(sharpness(load_gray(members[index])))
            except ValueError:
                continue
        if values:
            medians[split] = round(float(np.median(values)), 1)
    return medians


def blur_warning(medians: dict):
    """A sentence for the user when the train split is much blurrier than the eval split, else None."""
    train, evaluation = medians.get("train"), medians.get("eval")
    if not train or not evaluation or evaluation / train < BLUR_RATIO_WARNING:
        return None
    return (f"the training faces are much blurrier than the evaluation faces (median Laplacian variance "
            f"{train} vs {evaluation}, {evaluation / train:.0f}x): a model trained on them sees sharper faces "
            f"than it learned from at evaluation and in use; docs/masker.md#sharpness says what to do")
