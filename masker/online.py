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

from .compose import apply_mask, mask_layer
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
    cache, model = root / POINTS_CACHE, points_model_id()
    known = {}
    try:
        with np.load(cache) as saved:
            if str(saved["model"]) == model:
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
        np.savez(buffer, model=model, faces=np.array(list(known)),
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
        return self.draw(gray, refitted(mask_box(points, gray.shape[::-1]), rng), style, rng)

    def draw(self, gray, box, style, rng) -> np.ndarray:
        return apply_mask(gray, box, style)


# The mean grey (0-255) of real masks in photos, at the percentiles REAL_MASK_PERCENTILES: the middle of the mask
# (from 0.3 to 0.8 of the way from the nose bridge to the chin, 16 px wide) of the 298 masked faces of 40 px or more
# that the face finder finds in the tuning photos of ../shared/realmask (studies/real_masks.py's real_mask_greys),
# 2026-12-07 afternoon, with the finder's scaled full-range passes. The realistic-mask runs of docs/history.md drew
# from the 297 faces of its tiles, (28, 50, 95, 127, 144, 157, 169, 180, 195, 213, 225).
REAL_MASK_PERCENTILES = (5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95)
REAL_MASK_GREYS = (28, 49, 94, 125, 141, 157, 169, 179, 195, 213, 224)


def worn(gray: np.ndarray, luma: np.ndarray, alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The mask (mask_layer's luma x alpha and alpha) on the gray face as masks look in photos: the grey of a
    real mask, the face's own light and shade across it, soft folds, fabric grain, and the photo's blur."""
    h, w = gray.shape
    covered = alpha > 1e-3
    colour = np.where(covered, luma / np.maximum(alpha, 1e-3), 0.0)
    target = np.interp(rng.uniform(REAL_MASK_PERCENTILES[0], REAL_MASK_PERCENTILES[-1]), REAL_MASK_PERCENTILES,
                       REAL_MASK_GREYS) / 255.0
    colour *= target / max(float((colour * alpha).sum() / max(alpha.sum(), 1e-6)), 1e-3)
    # The light that falls on the face falls on the mask: the face's low frequencies, softened.
    light = cv2.GaussianBlur(gray.astype(np.float32), (0, 0), 8.0) + 1.0
    colour *= (light / light.mean()) ** rng.uniform(0.3, 0.8)
    rows = np.flatnonzero(covered.any(axis=1))
    y = np.arange(h, dtype=np.float32)[:, None]
    for _ in range(rng.integers(0, 4)):                          # folds: a soft band, lit or in shadow
        centre, width = rng.uniform(rows[0], rows[-1] + 1), rng.uniform(1.0, 2.5)
        colour *= 1.0 + rng.uniform(-0.12, 0.12) * np.exp(-((y - centre) / width) ** 2)
    grain = cv2.GaussianBlur(rng.normal(0.0, rng.uniform(0.01, 0.035), (h, w)).astype(np.float32), (0, 0), 0.6)
    colour = np.clip(colour + grain, 0.0, 1.0)
    out = gray.astype(np.float32) * (1.0 - alpha) + 255.0 * colour * alpha
    sigma = rng.uniform(0.0, 0.8)
    if sigma > 0.3:                                              # the photo's blur, on the mask and its edge
        near = cv2.GaussianBlur(alpha, (0, 0), 1.5)
        out = out * (1.0 - near) + cv2.GaussianBlur(out, (0, 0), sigma) * near
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


class RealisticFreshMask(FreshMask):
    """FreshMask's masks as they look in photos (worn): the same style, fit and geometry, then real masks' greys,
    the face's light, folds, grain and blur."""

    def draw(self, gray, box, style, rng) -> np.ndarray:
        return worn(gray, *mask_layer(box, style, gray.shape), rng)
