"""Throughput and coverage of the masker on FER2013's Training images, with the machine they ran on."""
import os
import platform
import resource
import tempfile
from pathlib import Path

import cv2
import dlib

from . import DEFAULT_CLASSES
from .dataset import RunConfig, build_dataset


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


def run_benchmark(fer2013_dir, workers=(1, 2), classes=DEFAULT_CLASSES, limit=None, progress=True) -> list:
    """Masks the Training split of the image-folder layout once per worker count, into a temporary folder.

    The Training folder is linked (never copied) into a temporary root so only Training images are read.
    Returns one row per worker count: images, written, coverage, seconds, images_per_second, and
    cpu_ms_per_image (CPU time of this process and its workers, which other jobs on a shared CPU barely change).
    """
    train = Path(fer2013_dir).resolve() / "train"
    if not train.is_dir():
        raise ValueError(f"{fer2013_dir} has no train/ folder: expected FER2013's image-folder layout")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_masker_") as tmp:
        root = Path(tmp) / "fer2013"
        root.mkdir()
        (root / "train").symlink_to(train, target_is_directory=True)
        for n in workers:
            config = RunConfig(fer2013=str(root), classes=tuple(classes), limit=limit)
            cpu = _cpu_seconds()
            manifest = build_dataset(config, Path(tmp) / f"out_{n}", workers=n, progress=progress)
            cpu = _cpu_seconds() - cpu
            inputs = sum(manifest["inputs"]["train"].values())
            rows.append({"workers": n, "images": inputs, "written": sum(manifest["written"]["train"].values()),
                         "coverage": manifest["coverage"], "seconds": manifest["timing"]["seconds"],
                         "images_per_second": manifest["timing"]["images_per_second"],
                         "cpu_ms_per_image": 1000 * cpu / inputs if inputs else None,
                         "skipped": manifest["skipped"]})
    return rows
