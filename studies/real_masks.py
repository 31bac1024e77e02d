"""Drawn masks against real ones, with the label kept: each validation face of `make data` keeps its upper half and
takes the lower half of a real masked face, found by the face finder in the tuning photos of ../shared/realmask
(never the held-out ones). The masked model's accuracy on those faces beside the same faces under make data's
drawn mask says how far the drawn masks are from real ones; routed, how many the face-status model then calls
unmasked, and the routed accuracy.

The two halves are joined at the face's nose bridge (the masker's six points), the real face moved so that its
own bridge lies there, with a few rows of blend: above the bridge, the face as it was; below it, the real mask and
what shows around it.
"""
import numpy as np
import cv2
from tqdm import tqdm

from deploy.face_status_data import MASKED, match, read_boxes, read_photo, split_of
from deploy.faces import FaceFinder, crop
from masker.geometry import CHIN, DegenerateFace, NOSE_BRIDGE, mask_box
from masker.points import mask_points
from studies.round_trip import eval_faces

# Real faces smaller than this (annotated box side, px) are too blurred at 48 px to stand for a real mask.
MIN_SIDE = 40
# Rows over which the two halves are blended, centred on the bridge.
BLEND_ROWS = 4
# A face takes a real half from a face whose bridge lies at most this far (px) from its own, so that the real
# face is moved little and nothing past its edge shows.
MAX_SHIFT = 4.0


def real_masked_faces(realmask, min_side: int = MIN_SIDE, progress: bool = True) -> list:
    """[(48x48 gray crop framed like FER2013's, its six mask points)] of the masked faces of the tuning photos
    that the finder finds (an annotated with_mask or mask_weared_incorrect box of min_side px or more)."""
    boxes = read_boxes(realmask)
    photos = sorted(image for image in boxes if image.startswith("photos/") and split_of(image) == "tune")
    finder, faces = FaceFinder(), []
    for image in tqdm(photos, desc="real masked faces", unit="photo", disable=not progress):
        annotated = [box for label, box in boxes[image]
                     if label in MASKED and min(box[2] - box[0], box[3] - box[1]) >= min_side]
        if not annotated:
            continue
        bgr = read_photo(realmask, image)
        found = finder(bgr)
        for _, j in match([face.box for face in found], annotated).items():
            gray = cv2.cvtColor(crop(bgr, found[j]), cv2.COLOR_BGR2GRAY)
            try:
                points = mask_points(gray)
                mask_box(points, gray.shape[::-1])
            except (ValueError, DegenerateFace):
                continue
            faces.append((gray, points))
    return faces


def real_mask_greys(donors, percentiles) -> list:
    """The mean grey of each real mask (the donors' middle of the mask: from 0.3 to 0.8 of the way from the nose
    bridge to the chin, 16 px wide), at `percentiles`: masker.online's REAL_MASK_GREYS."""
    means = []
    for gray, points in donors:
        (x, top), bottom = points[NOSE_BRIDGE], points[CHIN][1]
        patch = gray[max(int(top + 0.3 * (bottom - top)), 0):int(top + 0.8 * (bottom - top)),
                     max(int(x - 8), 0):int(x + 8)]
        if patch.size >= 20:
            means.append(float(patch.mean()))
    return [round(float(v)) for v in np.percentile(means, percentiles)]


def with_real_half(face: np.ndarray, points: np.ndarray, donor: np.ndarray, donor_points: np.ndarray) -> np.ndarray:
    """`face` (48x48 gray) above its nose bridge, `donor` (a real masked face) below it, the donor moved so that
    its own bridge meets the face's."""
    shift = points[NOSE_BRIDGE] - donor_points[NOSE_BRIDGE]
    moved = cv2.warpAffine(donor, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), face.shape[::-1],
                           flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    rows = np.arange(face.shape[0], dtype=np.float32)[:, None]
    below = np.clip((rows - points[NOSE_BRIDGE][1]) / BLEND_ROWS + 0.5, 0.0, 1.0)
    return np.clip(face * (1 - below) + moved * below + 0.5, 0, 255).astype(np.uint8)


def real_half_faces(unmasked_data, donors, seed: int = 0) -> tuple:
    """(faces with a real lower half, their labels, the indices of the validation faces used): each validation face
    of make data's unmasked folder whose six points are found, with a donor drawn at random (seeded) from those
    whose bridge lies within MAX_SHIFT px of its own."""
    faces, labels = eval_faces(unmasked_data, split="val")
    bridges = np.array([points[NOSE_BRIDGE] for _, points in donors])
    rng = np.random.default_rng(seed)
    out, kept_labels, kept = [], [], []
    for index, (face, label) in enumerate(zip(faces, labels)):
        try:
            points = mask_points(face)
        except (ValueError, DegenerateFace):
            continue
        near = np.flatnonzero(np.abs(bridges - points[NOSE_BRIDGE]).max(axis=1) <= MAX_SHIFT)
        if not len(near):
            continue
        donor, donor_points = donors[near[rng.integers(len(near))]]
        out.append(with_real_half(face, points, donor, donor_points))
        kept_labels.append(label)
        kept.append(index)
    return out, kept_labels, kept


def accuracy(predictions, labels) -> float:
    return float(np.mean([p.label == label for p, label in zip(predictions, labels)])) if labels else 0.0


def real_masks_report(predictor, realmask, masked_data, unmasked_data, progress: bool = True) -> dict:
    """The masked model alone and the routed predictor on the validation faces, under drawn masks and with real
    lower halves; with the standard error of the difference (the same faces, paired)."""
    from studies.round_trip import paired_standard_error

    donors = real_masked_faces(realmask, progress=progress)
    if not donors:
        raise ValueError(f"no masked face of {MIN_SIDE} px or more found in the tuning photos of {realmask}")
    real, labels, kept = real_half_faces(unmasked_data, donors)
    drawn_all, drawn_labels = eval_faces(masked_data, split="val")
    drawn = [drawn_all[i] for i in kept]
    assert [drawn_labels[i] for i in kept] == labels, "make data's masked and unmasked folders hold other faces"
    report = {"donors": len(donors), "faces": len(real), "min_side": MIN_SIDE}
    models = {"masked model alone": predictor.masked_model}
    for name, model in models.items():
        right = {}
        for kind, faces in (("drawn", drawn), ("real", real)):
            probs = model.predict_probs(faces)
            right[kind] = np.array([model.labels[int(np.argmax(p))] == label for p, label in zip(probs, labels)])
        report[name] = {"drawn": float(right["drawn"].mean()), "real": float(right["real"].mean()),
                        "se": paired_standard_error(right["drawn"], right["real"])}
    if predictor.routes:
        routed = {}
        for kind, faces in (("drawn", drawn), ("real", real)):
            predictions = predictor.predict(faces)
            routed[kind] = (np.array([p.label == label for p, label in zip(predictions, labels)]),
                            float(np.mean([not p.masked for p in predictions])))
        report["routed"] = {"drawn": float(routed["drawn"][0].mean()), "real": float(routed["real"][0].mean()),
                            "se": paired_standard_error(routed["drawn"][0], routed["real"][0]),
                            "called_unmasked": {"drawn": routed["drawn"][1], "real": routed["real"][1]}}
    return report


def contact_sheet(path, unmasked_data, masked_data, donors, count: int = 8) -> None:
    """count validation faces: unmasked, under the drawn mask, with a real lower half (rows), at 2x."""
    real, _, kept = real_half_faces(unmasked_data, donors)
    plain, _ = eval_faces(unmasked_data, split="val")
    drawn, _ = eval_faces(masked_data, split="val")
    columns = [np.vstack([plain[i], drawn[i], real[k]]) for k, i in enumerate(kept[:count])]
    sheet = np.hstack(columns)
    cv2.imwrite(str(path), cv2.resize(sheet, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST))
