"""The face-status model's data set (masked / unmasked / no_face; tools/make_face_status_data.py): real photos'
faces as the face finder finds and crops them, and FER2013's faces from `make data`, in make_dataset.py's layout.

It reads ../shared/realmask: photos, and a box per face (boxes.csv). The photos are split once, by a hash of the
file name, into a tuning part (thresholds, the face-status model's training faces) and a held-out part that
nothing is tuned on (studies/realmask.py measures on it); webcam/ is held out whole.
"""
import csv
import random
import zlib
from collections import defaultdict
from pathlib import Path

import cv2
from tqdm import tqdm

from basics import UserError, atomic_write_text
from deploy.faces import FaceFinder, status_crop
from deploy.tracking import iou

# Of every 10 photos (by a CRC32 of the name), these go to the tuning part.
TUNING_SHARE = 6
# Of the tuning photos (by CRC32 again), these of every 10 give the face-status model's validation faces.
VALIDATION_SHARE = 2
# A found box and an annotated one are the same face from this overlap on: the annotators boxed the whole head,
# the detector the face (../shared/README.md expects 0.4-0.7 for a hit).
MATCH_IOU = 0.4
# The annotations that count as a masked face: a mask worn wrongly still hides the mouth.
MASKED = ("with_mask", "mask_weared_incorrect")
# The finder's detection threshold when collecting training faces: below the shipped one, so that the model
# sees the false detections it is there to reject.
FINDER_SCORE_FOR_DATA = 0.2
# The face-status model's classes, in label order.
FACE_STATUS_LABELS = ("masked", "unmasked", "no_face")


def split_of(image: str) -> str:
    """'tune' or 'held_out' for an image path relative to realmask/; all of webcam/ is held out."""
    if image.startswith("webcam/"):
        return "held_out"
    return "tune" if zlib.crc32(Path(image).name.encode()) % 10 < TUNING_SHARE else "held_out"


def is_validation(image: str) -> bool:
    """Whether a tuning photo's faces are the face-status model's validation faces."""
    return zlib.crc32(("validation:" + Path(image).name).encode()) % 10 < VALIDATION_SHARE


def read_boxes(realmask: Path) -> dict:
    """{image relative path: [(label, (l, t, r, b))]} from realmask/boxes.csv."""
    path = Path(realmask) / "boxes.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: point --realmask at ../shared/realmask")
    boxes = defaultdict(list)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            boxes[row["image"]].append((row["label"], tuple(int(row[k]) for k in ("xmin", "ymin", "xmax", "ymax"))))
    return dict(boxes)


def match(found, annotated, threshold: float = MATCH_IOU) -> dict:
    """{index in annotated: index in found}: greedy, best overlap first, each box used once."""
    pairs = sorted(((iou(f, a), i, j) for j, f in enumerate(found) for i, a in enumerate(annotated)), reverse=True)
    taken, used = {}, set()
    for overlap, i, j in pairs:
        if overlap < threshold:
            break
        if i not in taken and j not in used:
            taken[i] = j
            used.add(j)
    return taken


def read_photo(realmask: Path, image: str):
    bgr = cv2.imread(str(Path(realmask) / image), cv2.IMREAD_COLOR)
    if bgr is None:
        raise OSError(f"cannot read {Path(realmask) / image}")
    return bgr


def face_status_samples(finder, realmask: Path, images, boxes: dict, crop, progress: bool = False):
    """(image, index, crop, label) for every face `finder` finds in `images`: a found face that matches an
    annotated one is masked or unmasked as the annotation says, one that matches none is no_face.
    crop(bgr, face) frames the model's input, in grey."""
    samples = []
    for image in tqdm(images, unit="photo", desc="real photos", disable=not progress):
        bgr = read_photo(realmask, image)
        faces, annotated = finder(bgr), boxes.get(image, [])
        by_found = {j: annotated[i][0] for i, j in match([f.box for f in faces], [b for _, b in annotated]).items()}
        for j, face in enumerate(faces):
            label = by_found.get(j)
            status = "no_face" if label is None else ("masked" if label in MASKED else "unmasked")
            samples.append((image, j, cv2.cvtColor(crop(bgr, face), cv2.COLOR_BGR2GRAY), status))
    return samples


def write_face_status_data(realmask, masked_data, unmasked_data, fer_per_class: int, out) -> dict:
    """The face-status data set (see tools/make_face_status_data.py); {split: {label: count}}."""
    realmask, out = Path(realmask), Path(out)
    if not (realmask / "boxes.csv").is_file():
        raise UserError(f"{realmask}/boxes.csv not found: point --realmask at ../shared/realmask")
    fer = {}
    for label, folder in (("masked", Path(masked_data)), ("unmasked", Path(unmasked_data))):
        files = sorted((folder / "train").rglob("*.jpg"))
        if fer_per_class and not files:
            raise UserError(f"no faces in {folder}/train: run `make data` first, or pass --fer-per-class 0")
        fer[label] = random.Random(f"face-status:{label}").sample(files, min(fer_per_class, len(files)))
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file: give a folder")
    boxes = read_boxes(realmask)
    tune = sorted(image for image in boxes if split_of(image) == "tune")
    finder = FaceFinder(short_range_score=FINDER_SCORE_FOR_DATA, full_range_score=FINDER_SCORE_FOR_DATA)
    samples = face_status_samples(finder, realmask, tune, boxes, status_crop, progress=True)
    lists = {"train": [], "val": []}
    counts = {"train": defaultdict(int), "val": defaultdict(int)}
    label_of = {label: i for i, label in enumerate(FACE_STATUS_LABELS)}

    def add(split, label, name, image):
        path = out / split / label / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 95]):
            raise OSError(f"cannot write {path}")
        lists[split].append(f"{split}/{label}/{name} {label_of[label]}")
        counts[split][label] += 1

    for image, j, face, label in samples:
        add("val" if is_validation(image) else "train", label, f"{Path(image).stem}_{j}.jpg", face)
    for label, files in fer.items():
        for file in tqdm(files, unit="face", desc=f"FER2013 {label}"):
            face = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE)
            photo = cv2.copyMakeBorder(cv2.resize(face, (144, 144), interpolation=cv2.INTER_CUBIC),
                                       56, 56, 56, 56, cv2.BORDER_REPLICATE)
            found = finder(photo)
            # The model's own crop where the finder finds the face; FER2013's framing, which it copies, where not.
            add("train", label, f"fer_{file.stem}.jpg", status_crop(photo, found[0]) if found else face)
    for split, rows in lists.items():
        atomic_write_text(out / f"{split}_list.txt", "\n".join(rows) + "\n")
    atomic_write_text(out / "label_list.txt", "".join(f"{i} {label}\n" for i, label in enumerate(FACE_STATUS_LABELS)))
    return {split: dict(c) for split, c in counts.items()}
