"""Builds dataset/: masked 48x48 faces, PaddleClas lists, label map, manifest and contact sheet.

Layout and list format: docs/architecture.md. Images are written temp-then-rename, and lists, manifest and
contact sheet only at the end, so an interrupted run leaves whole files only; re-running the same arguments
resumes by keeping the images already written.
"""
import hashlib
import json
import multiprocessing
import os
import shutil
import time
import zlib
from collections import Counter
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from basics import atomic_write_bytes, atomic_write_text, written_atomically

from . import SPLITS
from .compose import apply_mask
from .geometry import DegenerateFace, mask_box
from .points import MODEL, mask_points, predictor
from .quality import blur_warning, sample_faces, split_sharpness
from .readers import Sample, load_gray, read_inputs
from .templates import STYLES, choose_style

RUN_MARKER = ".make_dataset_run.json"
OUTPUTS = [*SPLITS, *(f"{s}_list.txt" for s in SPLITS), "val_list.txt", "label_list.txt", "manifest.json",
           "contact_sheet.png", RUN_MARKER]
JPEG_QUALITY = 95
CONTACT_PER_CLASS = 8


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides the bytes written; two runs with equal configs write identical datasets."""
    fer2013: str
    classes: tuple
    masks: tuple = STYLES
    seed: int = 0
    limit: Optional[int] = None           # at most this many inputs per split and class (first by name)
    no_mask: bool = False
    # The styles of the train split, when it must not see some of `masks` (a held-out style); None: `masks`.
    # Every other split draws from `masks`, so its images are those of a run without train_masks.
    train_masks: Optional[tuple] = None
    # The share of each class's Training faces listed in val_list.txt instead of train_list.txt (in_validation).
    val_percent: int = 10

    def identity(self) -> dict:
        """The config and the masker's version: a folder written by another masker is not resumed into."""
        d = asdict(self)
        d["masker"] = masker_version()
        d["classes"], d["masks"] = list(self.classes), list(self.masks)
        d["train_masks"] = None if self.train_masks is None else list(self.train_masks)
        return d


# Bumped when the drawing or the way points are found changes the bytes written (2: six-point predictor, 2x warp).
DRAWING_VERSION = 2


@lru_cache(maxsize=None)
def masker_version() -> str:
    predictor()                             # a missing model is named, with how to rebuild it
    return f"{DRAWING_VERSION}, mask_points.dat sha256 {hashlib.sha256(MODEL.read_bytes()).hexdigest()[:16]}"


@dataclass
class Result:
    key: str
    relpath: Optional[str] = None          # written image, relative to the output folder
    style: Optional[dict] = None
    reason: Optional[str] = None           # why the input was skipped
    resumed: bool = False
    image: Optional[bytes] = None          # the JPEG to write, until it is written


class OutputInUse(RuntimeError):
    pass


def sample_rng(seed: int, sample: Sample) -> np.random.Generator:
    """A generator for one image, from the run seed and the image's identity only (not worker or order)."""
    return np.random.default_rng([seed, zlib.crc32(sample.key.encode())])


def in_validation(name: str, val_percent: int) -> bool:
    """Whether a Training face belongs to the validation split: by a hash of its file name alone, so the split is
    stable across runs, readers (CSV or folders), mask styles and the masked and unmasked datasets, which keeps
    pairs paired. About val_percent % of each class."""
    return zlib.crc32(name.encode()) % 100 < val_percent


def relpath_of(sample: Sample) -> str:
    return f"{sample.split}/{sample.class_name}/{sample.name}.jpg"


def mask_face(gray: np.ndarray, rng: np.random.Generator, masks=STYLES, no_mask: bool = False) -> tuple:
    """(image, style dict) for one 48x48 face; raises DegenerateFace when no mask can be placed.

    The style is drawn first, so it depends on the generator alone and a resumed run can recover it
    without redoing the landmarks. With no_mask the landmarks still run, so masked and unmasked datasets
    skip exactly the same faces.
    """
    style = choose_style(rng, masks)
    box = mask_box(mask_points(gray), gray.shape[::-1])
    if no_mask:
        return gray, None
    return apply_mask(gray, box, style), style.as_dict()


def encode_jpeg(image: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {image.shape} {image.dtype} image as JPEG")
    return encoded.tobytes()


class SampleMasker:
    """Masks one sample into its JPEG bytes (a picklable callable for the pool and for Ray's workers; the dlib
    models are a per-process cache in masker.points, loaded before fork() so that the pool's workers share them).
    The caller writes the bytes, so that every engine writes the same files the same way."""

    def __init__(self, config: RunConfig):
        self.config = config

    def masks_of(self, sample: Sample) -> tuple:
        if sample.split == "train" and self.config.train_masks is not None:
            return self.config.train_masks
        return self.config.masks

    def resumed(self, sample: Sample) -> Result:
        """The result of a sample whose image an earlier run wrote: its style is the generator's first draw."""
        style = None if self.config.no_mask else \
            choose_style(sample_rng(self.config.seed, sample), self.masks_of(sample)).as_dict()
        return Result(sample.key, relpath_of(sample), style, resumed=True)

    def __call__(self, sample: Sample) -> Result:
        try:
            gray = load_gray(sample)
            image, style = mask_face(gray, sample_rng(self.config.seed, sample), self.masks_of(sample),
                                     self.config.no_mask)
        except (ValueError, DegenerateFace) as error:
            return Result(sample.key, reason=str(error))
        return Result(sample.key, relpath_of(sample), style, image=encode_jpeg(image))


def prepare_output(out_dir: Path, config: RunConfig, overwrite: bool) -> None:
    """Refuses an output folder holding a different run (unless overwrite); a same-config folder is resumed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    marker = out_dir / RUN_MARKER
    ours = [name for name in OUTPUTS if (out_dir / name).exists()]
    if ours and not overwrite:
        if not marker.exists():
            raise OutputInUse(f"{out_dir} already holds {', '.join(ours)} from an unknown run; "
                              "pass --overwrite to replace them or choose another --out")
        earlier = json.loads(marker.read_text())
        if earlier != config.identity():
            differ = sorted(k for k in set(earlier) | set(config.identity())
                            if earlier.get(k) != config.identity().get(k))
            raise OutputInUse(f"{out_dir} holds a different earlier run (differs in: {', '.join(differ)}); "
                              "pass --overwrite to replace it, or re-run with the same arguments to resume it")
    for split in SPLITS:
        for stale in (out_dir / split).glob("*/.*.tmp*"):     # an interrupted write; the image is redone
            stale.unlink()
    if overwrite:
        for name in ours:
            path = out_dir / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    atomic_write_text(marker, json.dumps(config.identity(), indent=1))


def select(samples: list, limit: Optional[int]) -> list:
    samples = sorted(samples, key=lambda s: (s.split, s.class_name, s.name))
    if limit is None:
        return samples
    taken = Counter()
    chosen = []
    for s in samples:
        if taken[(s.split, s.class_name)] < limit:
            taken[(s.split, s.class_name)] += 1
            chosen.append(s)
    return chosen


ENGINES = ("pool", "ray")


def _results(masker: SampleMasker, samples: list, workers: int, engine: str = "pool", address=None):
    if engine == "ray":
        from .on_ray import mask_on_ray
        for key, relpath, style, reason, image in mask_on_ray(masker, samples, workers, address):
            yield Result(key, relpath, style, reason, image=image)
        return
    # Each image is tiny: OpenCV's own thread pool only adds contention with the other workers.
    cv2.setNumThreads(1)
    if workers <= 1:
        yield from map(masker, samples)
        return
    pool = multiprocessing.get_context("fork").Pool(workers)
    try:
        yield from pool.imap_unordered(masker, samples, chunksize=64)
    except BaseException:
        pool.terminate()
        raise
    # Workers that run out of work exit by themselves. terminate() (what `with Pool()` does) sends them SIGTERM;
    # in a process that has loaded Paddle, Paddle's signal handler then prints a FatalError report and the parent
    # could crash.
    pool.close()
    pool.join()


def build_dataset(config: RunConfig, out_dir, workers: int = 1, overwrite: bool = False,
                  progress: bool = True, engine: str = "pool", address=None) -> dict:
    """Writes the dataset; returns the manifest (also written to out_dir/manifest.json). engine: "pool" (processes
    on this machine) or "ray" (Ray Data's workers, on a local cluster or the one at `address`); both write the same
    bytes."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    out_dir = Path(out_dir)
    samples, read_skips = read_inputs(config.fer2013, config.classes)
    samples = select(samples, config.limit)
    faces = sample_faces(samples, config.seed)      # for the sharpness check
    prepare_output(out_dir, config, overwrite)
    for split, class_name in {(s.split, s.class_name) for s in samples}:
        (out_dir / split / class_name).mkdir(parents=True, exist_ok=True)

    masker = SampleMasker(config)
    written = [os.path.exists(os.path.join(out_dir, relpath_of(s))) for s in samples]
    results = {s.key: masker.resumed(s) for s, done in zip(samples, written) if done}
    todo = [s for s, done in zip(samples, written) if not done]
    predictor()    # loaded before the clock starts, and before fork() so the workers share it
    start = time.perf_counter()
    bar = tqdm(total=len(samples), initial=len(results), unit="img", disable=not progress, smoothing=0.05,
               desc="masking" if not config.no_mask else "checking faces")
    for result in _results(masker, todo, workers, engine, address):
        if result.image is not None:
            atomic_write_bytes(out_dir / result.relpath, result.image)
            result.image = None
        results[result.key] = result
        bar.update()
    bar.close()
    seconds = time.perf_counter() - start

    manifest = _manifest(config, samples, read_skips, results, seconds, workers, out_dir)
    manifest["timing"]["engine"] = engine
    manifest["sharpness"] = split_sharpness(faces)
    manifest["warnings"] = [w for w in [blur_warning(manifest["sharpness"])] if w]
    _write_lists(out_dir, config, samples, results)
    _write_contact_sheet(out_dir, config, samples, results)
    atomic_write_text(out_dir / "manifest.json", json.dumps(manifest, indent=1))
    return manifest


def _write_lists(out_dir: Path, config: RunConfig, samples: list, results: dict) -> None:
    label = {c: i for i, c in enumerate(config.classes)}
    lines = {split: [] for split in (*SPLITS, "val")}
    for s in samples:
        r = results[s.key]
        if r.relpath:
            split = "val" if s.split == "train" and in_validation(s.name, config.val_percent) else s.split
            lines[split].append(f"{r.relpath} {label[s.class_name]}\n")
    for split, rows in lines.items():
        atomic_write_text(out_dir / f"{split}_list.txt", "".join(rows))
    atomic_write_text(out_dir / "label_list.txt", "".join(f"{i} {c}\n" for i, c in enumerate(config.classes)))


def _manifest(config, samples, read_skips, results, seconds, workers, out_dir) -> dict:
    inputs = {split: {c: 0 for c in config.classes} for split in SPLITS}
    written = {split: {c: 0 for c in config.classes} for split in SPLITS}
    validation = {c: 0 for c in config.classes}     # of written["train"]: listed in val_list.txt
    skipped = [{"input": s.source, "reason": s.reason} for s in read_skips]
    styles = {}
    for s in samples:
        r = results[s.key]
        inputs[s.split][s.class_name] += 1
        if r.relpath:
            written[s.split][s.class_name] += 1
            if s.split == "train" and in_validation(s.name, config.val_percent):
                validation[s.class_name] += 1
            styles[r.relpath] = r.style
        else:
            skipped.append({"input": s.path or s.key, "reason": r.reason})
    total_in = len(samples) + len(read_skips)
    total_written = sum(sum(v.values()) for v in written.values())
    processed = sum(not r.resumed for r in results.values())
    coverage_by_split = {split: (sum(written[split].values()) / sum(inputs[split].values()))
                         for split in SPLITS if sum(inputs[split].values())}
    return {
        "args": {**config.identity(), "out": str(out_dir), "workers": workers},
        "seed": config.seed,
        "classes": list(config.classes),
        "labels": {i: c for i, c in enumerate(config.classes)},
        "masks": [] if config.no_mask else list(config.masks),
        "inputs": inputs,
        "written": written,
        "validation": validation,
        "coverage": total_written / total_in if total_in else 0.0,
        "coverage_by_split": coverage_by_split,
        "skipped": skipped,
        "mask_style": styles,
        "timing": {"seconds": round(seconds, 3), "processed": processed, "resumed": len(results) - processed,
                   "images_per_second": round(processed / seconds, 1) if seconds > 0 and processed else None,
                   "workers": workers},
    }


def _write_contact_sheet(out_dir: Path, config: RunConfig, samples: list, results: dict) -> None:
    """Random written samples per class (train split first), labelled, at 2x."""
    rng = np.random.default_rng(config.seed)
    scale, label_width = 2, 90
    tile = 48 * scale
    sheet = Image.new("L", (label_width + CONTACT_PER_CLASS * tile, len(config.classes) * tile), 255)
    draw = ImageDraw.Draw(sheet)
    for row, class_name in enumerate(config.classes):
        written = [results[s.key].relpath for s in samples if s.class_name == class_name and results[s.key].relpath]
        written.sort(key=lambda rel: (SPLITS.index(rel.split("/")[0]), rel))
        pool = [r for r in written if r.startswith("train/")] or written
        picks = rng.choice(len(pool), size=min(CONTACT_PER_CLASS, len(pool)), replace=False) if pool else []
        draw.text((6, row * tile + tile // 2 - 6), f"{row} {class_name}", fill=0)
        for col, index in enumerate(sorted(picks)):
            with Image.open(out_dir / pool[index]) as face:
                sheet.paste(face.convert("L").resize((tile, tile), Image.NEAREST),
                            (label_width + col * tile, row * tile))
    with written_atomically(out_dir / "contact_sheet.png") as tmp:
        sheet.save(tmp, format="PNG")
