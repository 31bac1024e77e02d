"""A fresh mask on every draw, for the training loader: the masker's drawing on faces whose points are cached.

`make data` draws one mask on each face, once; a model trained on it sees the same mask on the same face every
epoch. FreshMask draws a new style, colour, pattern and fit (geometry.refitted) each time it is called. Finding a
face's six points is most of what masking costs, so they are found once per face and cached beside the images
(POINTS_CACHE, keyed by the points model): a mask then costs only its drawing.
"""
import hashlib
import io
import zlib
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from basics import atomic_write_bytes

from .compose import apply_mask
from .geometry import DegenerateFace, mask_box, refitted
from .points import MODEL, mask_points, predictor
from .templates import STYLES, choose_style, parse_styles

POINTS_CACHE = "mask_points.npz"


def points_model_id() -> str:
    predictor()                             # a missing model is named, with how to rebuild it
    return hashlib.sha256(MODEL.read_bytes()).hexdigest()[:16]


def cached_points(image_root, files, progress: bool = True) -> np.ndarray:
    """(len(files), 6, 2) mask points of the gray faces image_root/files, NaN where no mask can be placed; read from
    image_root/POINTS_CACHE where it holds them for this points model and these very bytes, else found and added."""
    root, files = Path(image_root), list(files)
    cache = root / POINTS_CACHE
    known = {}
    try:
        with np.load(cache) as saved:
            if str(saved["model"]) == points_model_id():
                known = dict(zip(saved["faces"].tolist(), saved["points"]))
    except (OSError, KeyError, ValueError):         # none yet, or not one this code wrote: found again
        pass
    data = {}
    for name in files:
        try:
            data[name] = (root / name).read_bytes()
        except OSError:
            data[name] = b""
    # A face is known by its name and its bytes: a folder written again from other faces is not mistaken for it.
    keys = [f"{name} {zlib.crc32(data[name]):08x}" for name in files]
    missing = [(name, key) for name, key in zip(files, keys) if key not in known]
    cv2.setNumThreads(1)
    for name, key in tqdm(missing, desc=f"mask points of {root}", unit="face", disable=not progress or not missing):
        gray = cv2.imdecode(np.frombuffer(data[name], np.uint8), cv2.IMREAD_GRAYSCALE) if data[name] else None
        known[key] = np.full((6, 2), np.nan)
        if gray is not None:
            try:
                points = mask_points(gray)
                mask_box(points, gray.shape[::-1])      # make data's check: it skips such faces
                known[key] = points
            except (ValueError, DegenerateFace):
                pass
    if missing:
        buffer = io.BytesIO()
        np.savez(buffer, model=points_model_id(), faces=np.array(list(known)),
                 points=np.array(list(known.values()), dtype=np.float64))
        atomic_write_bytes(cache, buffer.getvalue())
    return np.array([known[key] for key in keys], dtype=np.float64).reshape(len(files), 6, 2)


class FreshMask:
    """Masks gray face number `index` of `files` (under image_root) with a mask drawn from rng: style, colour and
    pattern (of `styles`, comma-separated), then the fit. A face without points comes back unmasked."""

    def __init__(self, image_root, files, styles: str = ",".join(STYLES)):
        self.styles = parse_styles(styles)
        self.points = cached_points(image_root, files)
        self.unmaskable = int(np.isnan(self.points).any(axis=(1, 2)).sum())

    def __call__(self, gray: np.ndarray, index: int, rng: np.random.Generator) -> np.ndarray:
        points = self.points[index]
        if np.isnan(points).any():
            return gray
        style = choose_style(rng, self.styles)
        box = refitted(mask_box(points, gray.shape[::-1]), rng)
        return apply_mask(gray, box, style)
