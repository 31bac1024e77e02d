"""Generated demo faces: a small labelled sample in FER2013's folder layout, since no real data may be shipped.

Each expression shows in the upper face as well as the mouth, so a classifier can still learn it once a mask
covers the lower half (the point of the project):
  angry     brows pulled down and inward, narrowed eyes, a frown crease; lips pressed
  fear      inner brows raised, wide eyes with white above the iris; mouth stretched
  happy     relaxed brows, squinted crescent eyes with raised cheeks; wide smile
  surprise  brows high and arched, round eyes; open "O" mouth
Every face varies in position, scale, tilt, face shape, skin and hair tone, lighting, blur and noise, and each
expression's features vary enough that neighbouring classes overlap a little.
"""
import math
import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from . import DEFAULT_CLASSES

SYNTHETIC_CLASSES = DEFAULT_CLASSES
SCALE = 4                       # drawn at 4x, shrunk to 48 px
SIDE = 48 * SCALE

# Per expression: brow (inner dy, peak dy, outer dy) above the eye centre, eye half-height, iris radius,
# lid (eyelid darkness), mouth kind. Distances in 48 px units; jittered per image.
EXPRESSIONS = {
    "angry":    dict(brow=(-2.6, -4.4, -5.8), eye_h=1.3, iris=1.6, mouth="pressed", crease=True),
    "fear":     dict(brow=(-8.2, -7.6, -6.4), eye_h=2.9, iris=1.4, mouth="stretched", crease=False),
    "happy":    dict(brow=(-5.4, -6.0, -5.6), eye_h=0.9, iris=1.5, mouth="smile", crease=False),
    "surprise": dict(brow=(-8.6, -10.2, -8.0), eye_h=3.2, iris=1.8, mouth="open", crease=False),
}


def _jitter(rng, value, spread):
    return value + rng.normal(0.0, spread)


def _brow(draw, rng, cx, eye_y, side, spec, tone, width):
    inner, peak, outer = (_jitter(rng, v, 0.7) for v in spec["brow"])
    xs = (cx + side * 2.6, cx + side * 6.5, cx + side * 11.0)
    ys = (eye_y + inner, eye_y + peak, eye_y + outer)
    pts = [(x * SCALE, y * SCALE) for x, y in zip(xs, ys)]
    draw.line(pts, fill=tone, width=int(width * SCALE), joint="curve")


def _eye(draw, rng, ex, ey, spec, skin, happy):
    half_w = _jitter(rng, 4.0, 0.25)
    half_h = max(0.5, _jitter(rng, spec["eye_h"], 0.35))
    box = [(ex - half_w) * SCALE, (ey - half_h) * SCALE, (ex + half_w) * SCALE, (ey + half_h) * SCALE]
    white = min(255, skin + 55)
    draw.ellipse(box, fill=white)
    r = min(spec["iris"], half_h + 0.3)
    gaze = rng.normal(0, 0.4)
    # Wide-eyed fear and surprise show white above the iris: keep the iris low in the opening.
    iy = ey + (0.5 * (half_h - r) if half_h > 2.2 else 0)
    draw.ellipse([(ex + gaze - r) * SCALE, (iy - r) * SCALE, (ex + gaze + r) * SCALE, (iy + r) * SCALE], fill=25)
    lid = max(12, skin - 110)
    draw.arc(box, 180, 360, fill=lid, width=SCALE * 1)
    if happy:
        # Raised cheeks push the lower lid up into a crescent.
        draw.arc([box[0], box[1] + half_h * SCALE * 0.9, box[2], box[3] + half_h * SCALE * 2.4], 180, 360,
                 fill=skin - 30, width=SCALE)
        draw.arc([box[0] - SCALE, box[1] + 3 * SCALE, box[2] + SCALE, box[3] + 6 * SCALE], 200, 340,
                 fill=min(255, skin + 18), width=SCALE)


def _mouth(draw, rng, cx, my, kind, skin):
    lip = max(10, skin - 70)
    if kind == "pressed":
        w = _jitter(rng, 5.5, 0.5)
        droop = _jitter(rng, 0.8, 0.3)
        draw.line([((cx - w) * SCALE, (my + droop) * SCALE), (cx * SCALE, my * SCALE),
                   ((cx + w) * SCALE, (my + droop) * SCALE)], fill=lip, width=int(1.3 * SCALE), joint="curve")
    elif kind == "stretched":
        w, h = _jitter(rng, 7.5, 0.6), max(0.6, _jitter(rng, 1.4, 0.4))
        draw.ellipse([(cx - w) * SCALE, (my - h) * SCALE, (cx + w) * SCALE, (my + h) * SCALE], fill=lip - 5)
    elif kind == "smile":
        w, depth = _jitter(rng, 8.0, 0.6), _jitter(rng, 3.2, 0.5)
        box = [(cx - w) * SCALE, (my - depth - 1.5) * SCALE, (cx + w) * SCALE, (my + depth) * SCALE]
        draw.chord(box, 0, 180, fill=lip - 20)
        draw.chord([box[0] + SCALE, box[1], box[2] - SCALE, box[3] - depth * SCALE * 0.9], 0, 180,
                   fill=min(255, skin + 40))                     # teeth
    else:
        w, h = _jitter(rng, 3.4, 0.4), _jitter(rng, 4.2, 0.5)
        draw.ellipse([(cx - w) * SCALE, (my - h) * SCALE, (cx + w) * SCALE, (my + h) * SCALE], fill=lip - 30)


def synthetic_face(expression: str, rng: np.random.Generator) -> np.ndarray:
    """One 48x48 gray uint8 face showing `expression` (a key of EXPRESSIONS)."""
    spec = EXPRESSIONS[expression]
    background = int(rng.integers(30, 225))
    image = Image.new("L", (SIDE, SIDE), background)
    draw = ImageDraw.Draw(image)
    skin = int(rng.integers(110, 215))
    hair = int(rng.integers(10, max(11, skin - 40)))

    cx, cy = 24.0, 27.0                                   # face centre; FER2013 faces fill the frame
    rx, ry = _jitter(rng, 18.5, 0.8), _jitter(rng, 23.0, 1.0)
    draw.ellipse([(cx - rx - 2) * SCALE, (cy - ry - 4) * SCALE, (cx + rx + 2) * SCALE, (cy + 4) * SCALE],
                 fill=hair)
    draw.rectangle([(cx - 9) * SCALE, (cy + 10) * SCALE, (cx + 9) * SCALE, SIDE], fill=max(0, skin - 35))
    draw.ellipse([(cx - rx) * SCALE, (cy - ry) * SCALE, (cx + rx) * SCALE, (cy + ry) * SCALE], fill=skin)
    hairline = cy - ry + _jitter(rng, 6.0, 1.0)
    draw.chord([(cx - rx) * SCALE, (cy - ry) * SCALE, (cx + rx) * SCALE, (2 * hairline - (cy - ry)) * SCALE],
               180, 360, fill=hair)

    eye_y = _jitter(rng, 21.5, 0.6)
    spacing = _jitter(rng, 8.0, 0.4)
    brow_tone = max(0, min(hair, skin - 80))
    brow_width = _jitter(rng, 1.6, 0.2)
    if spec["crease"]:
        for side in (-1, 1):
            x = cx + side * 1.0
            draw.line([(x * SCALE, (eye_y - 4.5) * SCALE), (x * SCALE, (eye_y - 1.5) * SCALE)],
                      fill=skin - 45, width=SCALE // 2)
    for side in (-1, 1):
        _brow(draw, rng, cx, eye_y, side, spec, brow_tone, brow_width)
        _eye(draw, rng, cx + side * spacing, eye_y, spec, skin, expression == "happy")

    nose_y = _jitter(rng, 31.0, 0.5)
    draw.line([(cx * SCALE, (eye_y + 2) * SCALE), ((cx - 0.8) * SCALE, nose_y * SCALE)], fill=skin - 25, width=SCALE)
    for side in (-1, 1):
        draw.ellipse([(cx + side * 2.0 - 0.9) * SCALE, (nose_y - 0.6) * SCALE, (cx + side * 2.0 + 0.9) * SCALE,
                      (nose_y + 0.6) * SCALE], fill=skin - 60)
    _mouth(draw, rng, cx, _jitter(rng, 38.5, 0.6), spec["mouth"], skin)

    pixels = np.asarray(image, dtype=np.float32)
    # Side light: one cheek brighter than the other, as in most photos.
    light_angle = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE] / SIDE - 0.5
    pixels *= 1.0 + rng.uniform(0.05, 0.3) * (xx * math.cos(light_angle) + yy * math.sin(light_angle))

    # Pose: tilt, scale and shift about the face centre, then shrink the 4x drawing to 48 px.
    tilt, zoom = rng.normal(0, 7.0), rng.uniform(0.9, 1.1)
    shift = rng.normal(0, 1.5, size=2) * SCALE
    matrix = cv2.getRotationMatrix2D((SIDE / 2, SIDE / 2), tilt, zoom)
    matrix[:, 2] += shift
    posed = cv2.warpAffine(pixels, matrix, (SIDE, SIDE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    small = cv2.resize(posed, (48, 48), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), rng.uniform(0.3, 0.9))
    small = small * rng.uniform(0.75, 1.15) + rng.normal(0, 12)
    small += rng.normal(0, rng.uniform(2.0, 9.0), size=small.shape)
    return np.clip(small + 0.5, 0, 255).astype(np.uint8)


def write_synthetic_fer2013(out_dir, per_class: int, seed: int = 0, classes=SYNTHETIC_CLASSES,
                            test_per_class: int = None) -> dict:
    """Writes out_dir/train/<class>/Training_<id>.jpg and out_dir/test/<class>/PublicTest_<id>.jpg.

    test_per_class defaults to a quarter of per_class (at least 1). Every image comes from its own generator
    (seed, class, split, index), so the output is the same for the same arguments; generated faces left in
    out_dir by an earlier call with larger counts are removed. Returns the counts written.
    """
    unknown = [c for c in classes if c not in EXPRESSIONS]
    if unknown:
        raise ValueError(f"no synthetic expression for {unknown}; synthetic classes: {', '.join(EXPRESSIONS)}")
    if per_class < 1:
        raise ValueError(f"per_class must be at least 1, got {per_class}")
    if test_per_class is None:
        test_per_class = max(1, per_class // 4)
    out_dir = Path(out_dir)
    counts = {}
    for split_index, (folder, usage, n) in enumerate((("train", "Training", per_class),
                                                      ("test", "PublicTest", test_per_class))):
        counts[folder] = {}
        for class_name in classes:
            class_index = list(EXPRESSIONS).index(class_name)
            class_dir = out_dir / folder / class_name
            class_dir.mkdir(parents=True, exist_ok=True)
            written = set()
            for i in range(n):
                rng = np.random.default_rng([seed, class_index, split_index, i])
                face = synthetic_face(class_name, rng)
                target = class_dir / f"{usage}_{class_index * 100000 + i}.jpg"
                ok, encoded = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, 95])
                tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
                tmp.write_bytes(encoded.tobytes())
                os.replace(tmp, target)
                written.add(target.name)
            # Faces left by an earlier, larger call would silently join this sample.
            for stale in class_dir.glob(f"{usage}_*.jpg"):
                if stale.name not in written:
                    stale.unlink()
            counts[folder][class_name] = n
    return counts
