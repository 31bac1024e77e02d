"""The round trip of the face finder's framing: FER2013 PublicTest faces pasted, upscaled, into larger photo-like
canvases (several scales, positions and backgrounds), found, cropped and classified again, against classifying
the original 48 px crops. If the finder's crops are framed like FER2013's, the accuracy holds."""
import random
from pathlib import Path

import cv2
import numpy as np

FACE_SIDES = (96, 144, 224)
CANVASES = ((640, 480), (480, 360), (360, 480))


def backgrounds():
    """Photo-like backgrounds without faces: scikit-image's coffee, rocket and chelsea (a cat), and a gradient."""
    from skimage import data

    photos = [cv2.cvtColor(getattr(data, name)(), cv2.COLOR_RGB2BGR) for name in ("coffee", "rocket", "chelsea")]
    ramp = np.linspace(40, 220, 640, dtype=np.uint8)
    photos.append(np.dstack([np.tile(ramp, (480, 1))] * 3))
    return photos


def paste(face: np.ndarray, background: np.ndarray, canvas_size, side: int, rng: random.Random):
    """(canvas, (left, top, right, bottom) of the face in it): face upscaled to side, at a random position."""
    width, height = canvas_size
    canvas = cv2.resize(background, (width, height), interpolation=cv2.INTER_AREA)
    big = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    left, top = rng.randint(0, width - side), rng.randint(0, height - side)
    canvas[top:top + side, left:left + side] = cv2.cvtColor(big, cv2.COLOR_GRAY2BGR) if big.ndim == 2 else big
    return canvas, (left, top, left + side, top + side)


def centred_in(found, box) -> list:
    """The found faces (anything with a .box) whose box's centre lies inside box (left, top, right, bottom): the
    pasted face's own detections."""
    left, top, right, bottom = box
    return [f for f in found
            if left <= (f.box[0] + f.box[2]) / 2 <= right and top <= (f.box[1] + f.box[3]) / 2 <= bottom]


def round_trip(predictor, faces, labels, seed: int = 0) -> dict:
    """faces: gray 48 px crops with their true labels. How many the finder finds again in their canvases, and
    the predictor's accuracy on the original crops against that on the found faces' crops (routed as the
    predictor routes), and the share of the found faces its face-status check called masked."""
    rng = random.Random(seed)
    pool = backgrounds()
    original = [p.label for p in predictor.predict(faces)]
    found, again, originals_of_found, called_masked = 0, [], [], []
    for face, label, first in zip(faces, labels, original):
        canvas, (l, t, r, b) = paste(face, rng.choice(pool), rng.choice(CANVASES), rng.choice(FACE_SIDES), rng)
        hits = centred_in(predictor.predict_faces(canvas), (l, t, r, b))
        if not hits:
            continue
        found += 1
        again.append((hits[0].prediction.label, label))
        originals_of_found.append((first, label))
        called_masked.append(hits[0].prediction.masked)
    accuracy = lambda pairs: round(float(np.mean([a == b for a, b in pairs])), 4) if pairs else float("nan")  # noqa
    routed = [m for m in called_masked if m is not None]
    return {"faces": len(faces), "found": found, "found_share": round(found / max(len(faces), 1), 4),
            "accuracy_original_crops": accuracy(list(zip(original, labels))),
            "accuracy_original_crops_of_found": accuracy(originals_of_found),
            "accuracy_round_trip": accuracy(again),
            "gap_standard_error": round(paired_standard_error([a == b for a, b in originals_of_found],
                                                              [a == b for a, b in again]), 4),
            # None without a face-status check. A masked face it calls unmasked goes to the unmasked model: part
            # of what the round trip loses.
            "called_masked_share": round(float(np.mean(routed)), 4) if routed else None}


def paired_standard_error(right_before, right_after) -> float:
    """The standard error of the accuracy lost between two answers on the same faces (1/0 right per face),
    paired: only the faces answered differently carry it, so it is far smaller than either accuracy's."""
    lost = np.asarray(right_before, float) - np.asarray(right_after, float)
    return float(lost.std(ddof=1) / np.sqrt(len(lost))) if len(lost) > 1 else float("nan")


def eval_faces(folder: Path, every: int = 1, split: str = "eval"):
    """(gray crops, labels) of a make_dataset.py folder's eval (or train) split, every `every`-th face."""
    rows = (Path(folder) / f"{split}_list.txt").read_text().split("\n")
    names = {int(i): name for i, name in
             (line.split(" ", 1) for line in (Path(folder) / "label_list.txt").read_text().splitlines())}
    faces, labels = [], []
    for line in [r for r in rows if r.strip()][::every]:
        path, label = line.rsplit(" ", 1)
        faces.append(cv2.imread(str(Path(folder) / path), cv2.IMREAD_GRAYSCALE))
        labels.append(names[int(label)])
    return faces, labels
