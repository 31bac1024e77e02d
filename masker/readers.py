"""Readers for both forms FER2013 comes in: fer2013.csv and the <split>/<class>/<Usage>_<id>.jpg folders.

Both yield Sample records; bad inputs become Skip records with a reason instead of stopping the run.
"""
import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
from PIL import Image
from tqdm import tqdm

from basics import FACE_SIZE, is_image_file

from . import FER2013_CLASSES, USAGE_TO_SPLIT

PIXELS = FACE_SIZE * FACE_SIZE
_USAGE_NAME = re.compile(r"^(Training|PublicTest|PrivateTest)_(\w+)$")


@dataclass(frozen=True)
class Sample:
    """One input face. name is the output file stem (e.g. Training_123); exactly one of pixels/path is set."""
    split: str
    class_name: str
    name: str
    pixels: Optional[bytes] = None       # 2304 gray bytes, row-major (CSV input)
    path: Optional[str] = None           # image file (folder input)

    @property
    def key(self) -> str:
        return f"{self.split}/{self.class_name}/{self.name}"


@dataclass(frozen=True)
class Skip:
    source: str
    reason: str


def parse_classes(text: str) -> tuple:
    classes = tuple(c.strip().lower() for c in text.split(",") if c.strip())
    unknown = [c for c in classes if c not in FER2013_CLASSES]
    if unknown or not classes:
        raise ValueError(f"unknown class name(s) {unknown or text!r}; valid FER2013 classes: "
                         f"{', '.join(FER2013_CLASSES)}")
    if len(set(classes)) != len(classes):
        raise ValueError(f"--classes lists a class twice: {text!r}")
    return classes


def read_csv(path, classes) -> tuple:
    """(samples, skips) from fer2013.csv (header emotion,pixels,Usage), keeping only rows of `classes`."""
    samples, skips = [], []
    wanted = set(classes)
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or [h.strip() for h in header[:3]] != ["emotion", "pixels", "Usage"]:
            raise ValueError(f"{path}: expected the header 'emotion,pixels,Usage', got {header!r}; "
                             "is this FER2013's fer2013.csv?")
        for row in tqdm(reader, desc=f"reading {Path(path).name}", unit="row", leave=False):
            line = reader.line_num
            source = f"{path}:{line}"
            if len(row) != 3:
                skips.append(Skip(source, f"expected 3 fields, got {len(row)}"))
                continue
            emotion, pixels, usage = (field.strip() for field in row)
            if not emotion.isdigit() or int(emotion) >= len(FER2013_CLASSES):
                skips.append(Skip(source, f"emotion {emotion!r} is not a code 0..6"))
                continue
            if usage not in USAGE_TO_SPLIT:
                skips.append(Skip(source, f"Usage {usage!r} is not one of {', '.join(USAGE_TO_SPLIT)}"))
                continue
            class_name = FER2013_CLASSES[int(emotion)]
            if class_name not in wanted:
                continue
            values = pixels.split()
            if len(values) != PIXELS:
                skips.append(Skip(source, f"{len(values)} pixel values instead of {PIXELS}"))
                continue
            try:
                array = np.array(values, dtype=np.int64)
            except ValueError:
                skips.append(Skip(source, "pixel values are not all integers"))
                continue
            if array.min() < 0 or array.max() > 255:
                skips.append(Skip(source, "pixel values outside 0..255"))
                continue
            samples.append(Sample(USAGE_TO_SPLIT[usage], class_name, f"{usage}_{line - 1}",
                                  pixels=array.astype(np.uint8).tobytes()))
    return samples, skips


def read_folders(root, classes) -> tuple:
    """(samples, skips) from <root>/<any split folder>/<class>/<Usage>_<id>.<ext>; the Usage prefix sets the split."""
    root = Path(root)
    samples, skips = [], []
    split_dirs = sorted(d for d in root.iterdir() if d.is_dir())
    if not any((d / c).is_dir() for d in split_dirs for c in classes):
        raise ValueError(f"{root} holds no <split>/<class>/ folders for {', '.join(classes)}; expected FER2013's "
                         "train/<class>/Training_*.jpg and test/<class>/PublicTest_*.jpg layout, or pass fer2013.csv")
    for split_dir in split_dirs:
        for class_name in classes:
            class_dir = split_dir / class_name
            if not class_dir.is_dir():
                continue
            for path in sorted(class_dir.iterdir()):
                if not is_image_file(path):
                    continue
                match = _USAGE_NAME.match(path.stem)
                if not match:
                    skips.append(Skip(str(path), "file name does not start with Training_, PublicTest_ or "
                                                 "PrivateTest_, so its split is unknown"))
                    continue
                samples.append(Sample(USAGE_TO_SPLIT[match.group(1)], class_name, path.stem, path=str(path)))
    return samples, skips


def read_inputs(path, classes) -> tuple:
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".csv":
        try:
            samples, skips = read_csv(path, classes)
        except UnicodeDecodeError:
            raise ValueError(f"{path} is not a text CSV (it holds bytes that are not UTF-8): give FER2013's "
                             "fer2013.csv") from None
    elif path.is_dir():
        samples, skips = read_folders(path, classes)
    else:
        raise ValueError(f"--fer2013 {path}: expected fer2013.csv or FER2013's image-folder root (train/, test/)")
    if not samples:
        raise ValueError(f"no faces read from {path} for the classes {', '.join(classes)}"
                         + (f" ({len(skips)} rows or files skipped, the first: {skips[0].source}: {skips[0].reason})"
                            if skips else ""))
    return samples, skips


def load_gray(sample: Sample) -> np.ndarray:
    """The sample's 48x48 gray uint8 face; raises ValueError with the reason when it cannot be used."""
    if sample.pixels is not None:
        return np.frombuffer(sample.pixels, dtype=np.uint8).reshape(48, 48)
    data = Path(sample.path).read_bytes()
    image = None
    if data[:2] == b"\xff\xd8" and data.rstrip(b"\0\r\n ")[-2:] == b"\xff\xd9":
        # A complete JPEG: OpenCV decodes it 7x faster than Pillow.
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None:
        try:
            # Pillow raises on truncated files, where OpenCV would return a half-grey image with a warning.
            with Image.open(io.BytesIO(data)) as opened:
                image = np.asarray(opened.convert("L"))
        except (OSError, SyntaxError) as error:
            raise ValueError(f"unreadable or truncated image ({error})") from None
    if image.shape != (48, 48):
        raise ValueError(f"image is {image.shape[1]}x{image.shape[0]}, expected 48x48")
    return image
