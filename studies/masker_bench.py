"""Throughput and coverage of the masker on FER2013's Training images, beside its peer, and where the time goes.

Every run reads the same faces. What made one worker look slow (2.2-2.7x with two) was the order of the runs: the
first run timed, always the one-worker run, read the faces from disk (after one untimed read that brings them
into the page cache, a two-worker run went from 661 to 902 images/s), and paid for the file system's writeback of
whatever was written before it (the kernel's share of its CPU time, 0.07 ms per face in a quiet file system, was
0.17-0.31 right after tens of thousands of files were written or deleted). So the faces are read once untimed,
the disk is synced before each run, and each run is made `repeats` times, alternating, keeping the fastest.
"""
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import cv2
import dlib

from basics import atomic_write_bytes
from masker import DEFAULT_CLASSES
from masker.compose import apply_mask
from masker.dataset import RunConfig, build_dataset, encode_jpeg, relpath_of, sample_rng, select
from masker.geometry import mask_box
from masker.points import located, upscaled_crop
from masker.readers import load_gray, read_inputs
from masker.templates import choose_style
from studies.peer_face_mask import run_peer

OURS = "ours"


def machine_description() -> dict:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": model, "cores": usable, "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
            "python": platform.python_version(), "dlib": dlib.__version__, "opencv": cv2.__version__}


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _training_faces(tmp: Path, fer2013_dir, classes, limit) -> tuple:
    """(root, samples): a root holding only a link to the Training folder (never a copy), and its selection."""
    train = Path(fer2013_dir).resolve() / "train"
    if not train.is_dir():
        raise ValueError(f"{fer2013_dir} has no train/ folder: expected FER2013's image-folder layout")
    root = tmp / "fer2013"
    root.mkdir()
    (root / "train").symlink_to(train, target_is_directory=True)
    samples, _ = read_inputs(root, classes)
    samples = select(samples, limit)
    for sample in samples:                       # into the page cache, untimed
        Path(sample.path).read_bytes()
    return root, samples


def _our_run(root: Path, out: Path, workers: int, classes, limit, progress) -> dict:
    config = RunConfig(fer2013=str(root), classes=tuple(classes), limit=limit)
    os.sync()
    cpu, start = _cpu_seconds(), time.perf_counter()
    manifest = build_dataset(config, out, workers=workers, progress=progress)
    cpu, wall = _cpu_seconds() - cpu, time.perf_counter() - start
    inputs = sum(manifest["inputs"]["train"].values())
    return {"masker": OURS, "workers": workers, "images": inputs,
            "written": sum(manifest["written"]["train"].values()), "coverage": manifest["coverage"],
            "seconds": manifest["timing"]["seconds"], "images_per_second": manifest["timing"]["images_per_second"],
            "cpu_ms_per_image": 1000 * cpu / inputs if inputs else None, "skipped": manifest["skipped"],
            "run_seconds": wall}


def run_benchmark(fer2013_dir, workers=(1, 2), classes=DEFAULT_CLASSES, limit=None, progress=True,
                  peer=False, repeats: int = 1) -> list:
    """Masks the Training split of the image-folder layout with each worker count, then (peer=True) has
    face-mask 0.3.0 mask the same faces in one process; every run `repeats` times, the fastest kept.

    Returns one row per worker count (and the peer): masker, workers, images, written, coverage, seconds,
    images_per_second, cpu_ms_per_image (CPU time of the maskers' processes, which other jobs on a shared CPU
    barely change) and runs.
    """
    fastest = {}
    with tempfile.TemporaryDirectory(prefix="bench_masker_") as tmp:
        root, samples = _training_faces(Path(tmp), fer2013_dir, classes, limit)
        for repeat in range(repeats):
            for n in workers:
                # Outputs are deleted at the end only: a deletion's discards would land in the next run.
                out = Path(tmp) / f"out_{n}_{repeat}"
                _keep_fastest(fastest, n, _our_run(root, out, n, classes, limit, progress))
            if peer:
                os.sync()
                _keep_fastest(fastest, "peer", {**run_peer([s.path for s in samples]), "workers": 1, "skipped": []})
    return [fastest[n] for n in workers] + ([fastest["peer"]] if peer else [])


def _keep_fastest(fastest: dict, key, row: dict) -> None:
    runs = fastest[key]["runs"] + 1 if key in fastest else 1
    if key not in fastest or row["images_per_second"] > fastest[key]["images_per_second"]:
        fastest[key] = row
    fastest[key]["runs"] = runs


def _timed(stages: dict, name: str, function, items, repeats: int) -> list:
    """function over items, `repeats` times; the fastest pass goes into stages[name]."""
    for _ in range(repeats):
        start = time.perf_counter()
        out = [function(item) for item in items]
        stages[name] = min(stages.get(name, float("inf")), time.perf_counter() - start)
    return out


def stage_profile(fer2013_dir, classes=DEFAULT_CLASSES, limit=None, repeats: int = 3) -> dict:
    """Milliseconds per face of each step of masking one face, each step timed over all faces in turn (one
    process; the fastest of `repeats` passes), beside whole runs (`make_dataset --workers 1`, the fastest):
    masking_ms is their masking loop per face, `other` the loop's time not in the steps (resume check, result
    bookkeeping, and what running every step on one face before the next costs beyond running each step alone:
    caches; 0 when the steps' own noise hides it), and the last row the run's work before and after the loop
    (reading the listing, sharpness check, lists, manifest, contact sheet)."""
    stages = {}
    with tempfile.TemporaryDirectory(prefix="profile_masker_") as tmp:
        root, samples = _training_faces(Path(tmp), fer2013_dir, classes, limit)
        cv2.setNumThreads(1)
        located(*upscaled_crop(load_gray(samples[0])))              # the model loads outside the clock
        grays = _timed(stages, "decode", load_gray, samples, repeats)
        styles = _timed(stages, "style choice", lambda s: choose_style(sample_rng(0, s)), samples, repeats)
        bigs = _timed(stages, "upscale", upscaled_crop, grays, repeats)
        points = _timed(stages, "landmarks", lambda big_scale: located(*big_scale), bigs, repeats)
        boxes = _timed(stages, "geometry", lambda pg: mask_box(pg[0], pg[1].shape[::-1]), list(zip(points, grays)),
                       repeats)
        faces = _timed(stages, "drawing", lambda a: apply_mask(*a), list(zip(grays, boxes, styles)), repeats)
        encoded = _timed(stages, "encode", encode_jpeg, faces, repeats)
        targets = [os.path.join(tmp, "written", relpath_of(s)) for s in samples]   # the run's folders
        for t in targets:
            os.makedirs(os.path.dirname(t), exist_ok=True)
        os.sync()
        _timed(stages, "write", lambda te: atomic_write_bytes(*te), list(zip(targets, encoded)), repeats)
        runs = [_our_run(root, Path(tmp) / f"run_{i}", 1, classes, limit, False) for i in range(repeats)]
    loop, whole = min((run["seconds"], run["run_seconds"]) for run in runs)
    n = len(samples)
    per_face = {name: 1000 * seconds / n for name, seconds in stages.items()}
    masking = 1000 * loop / n
    per_face["other"] = max(0.0, masking - sum(per_face.values()))
    per_face["listing, lists, manifest, contact sheet"] = 1000 * (whole - loop) / n
    return {"images": n, "stages_ms": per_face, "masking_ms": masking, "run_ms": 1000 * whole / n}


def masking_table(rows: list) -> list:
    """Markdown lines: one row per worker count and masker, and how ours compare with the peer and themselves."""
    lines = ["| masker | processes | images | coverage | images/s (fastest of runs) | CPU ms/image |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['masker']} | {r['workers']} | {r['images']} | {r['coverage']:.2%} | "
                     f"{r['images_per_second']:.0f} ({r['runs']}) | {r['cpu_ms_per_image']:.2f} |")
    ours = {r["workers"]: r["images_per_second"] for r in rows if r["masker"] == OURS}
    peers = [r for r in rows if r["masker"] != OURS]
    if 1 in ours and peers:
        lines.append(f"\nOne process: ours {ours[1] / peers[0]['images_per_second']:.2f}x the images/s of "
                     f"{peers[0]['masker']}.")
    if 1 in ours and 2 in ours:
        lines.append(f"Two workers: {ours[2] / ours[1]:.2f}x one worker.")
    return lines


def profile_table(profile: dict) -> list:
    """Markdown lines of stage_profile's result."""
    total = sum(profile["stages_ms"].values())
    lines = [f"Per face, one process, {profile['images']} faces, each step timed alone over all of them (the fastest "
             f"of 3 passes), beside whole `make_dataset --workers 1` runs:", "",
             "| step | ms/face | share |", "|---|---:|---:|"]
    for name, ms in profile["stages_ms"].items():
        lines.append(f"| {name} | {ms:.3f} | {ms / total:.0%} |")
    lines.append(f"| **whole run** (its masking loop: {profile['masking_ms']:.3f}) | {profile['run_ms']:.3f} | |")
    return lines
