"""The engines side by side (tools/benchmark.py engines): masking with the pool and with Ray, prediction in one
process and on Ray, each the user's own command timed whole (Ray's start included), on the same inputs in one
run; and the peak resident memory of a long streaming Ray job, driver and Ray's processes together."""
import csv
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


def _timed(args, cwd=ROOT) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=cwd, check=True, capture_output=True, text=True)
    return time.perf_counter() - started


def masking_engines(fer2013, limit: int, workers=(1, 2)) -> list:
    """Rows of (engine, workers, faces, wall seconds, images/s over the run, images/s of the masking alone)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for engine in ("pool", "ray"):
            for count in workers:
                out = Path(tmp) / f"{engine}{count}"
                wall = _timed(["tools/make_dataset.py", "--fer2013", str(fer2013), "--out", str(out), "--limit",
                               str(limit), "--workers", str(count), "--engine", engine])
                timing = json.loads((out / "manifest.json").read_text())["timing"]
                rows.append({"engine": engine, "workers": count, "faces": timing["processed"], "wall_s": wall,
                             "masking_ips": timing["images_per_second"]})
    return rows


def prediction_engines(photos, model_dir, workers=(1, 2)) -> list:
    """Rows of (engine, workers, photos, faces, wall seconds): the photos of a folder, faces found and answered."""
    photos = Path(photos)
    count = sum(1 for p in photos.iterdir() if p.is_file())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "single.csv"
        wall = _timed(["tools/predict.py", "--model-dir", str(model_dir), "--faces", "--csv", str(table),
                       str(photos)])
        with open(table) as handle:
            faces = sum(1 for _ in csv.DictReader(handle))
        rows.append({"engine": "one process", "workers": 1, "photos": count, "faces": faces, "wall_s": wall})
        for n in workers:
            out = Path(tmp) / f"ray{n}"
            wall = _timed(["tools/predict.py", "--model-dir", str(model_dir), "--engine", "ray", "--faces",
                           "--workers", str(n), "--out", str(out), "--csv", str(out / "faces.csv"), str(photos)])
            with open(out / "faces.csv") as handle:
                faces = sum(1 for _ in csv.DictReader(handle))
            rows.append({"engine": "ray", "workers": n, "photos": count, "faces": faces, "wall_s": wall})
    return rows


def clip_720p(path: Path, frames: int = 60, faces: int = 3) -> Path:
    """A 1280x720 clip of `faces` copies of scikit-image's astronaut, one masked, drifting a pixel a frame."""
    import cv2
    import numpy as np
    from skimage import data

    from masker.photo import mask_photo

    astronaut = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    tiles = [cv2.resize(mask_photo(astronaut) if i == 1 else astronaut, (400, 400)) for i in range(faces)]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (1280, 720))
    for frame in range(frames):
        canvas = np.full((720, 1280, 3), 90, np.uint8)
        for i, tile in enumerate(tiles):
            left = 20 + i * 420 + frame % 20
            canvas[160:560, left:left + 400] = tile
        writer.write(canvas)
    writer.release()
    return path


def video_engines(model_dir, videos: int = 4, frames: int = 60) -> list:
    """Rows of (engine, workers, videos, frames, wall seconds): 720p clips of three faces, in one process one after
    another, and on Ray with two workers (a video a unit of work)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clip = clip_720p(Path(tmp) / "clip.avi", frames)
        clips = Path(tmp) / "clips"
        clips.mkdir()
        for i in range(videos):
            (clips / f"clip{i}.avi").write_bytes(clip.read_bytes())
        started = time.perf_counter()
        for i in range(videos):
            subprocess.run([sys.executable, "tools/predict.py", "--model-dir", str(model_dir), "--video",
                            str(clips / f"clip{i}.avi")], cwd=ROOT, check=True, capture_output=True)
        rows.append({"engine": "one process", "workers": 1, "videos": videos, "frames": videos * frames,
                     "wall_s": time.perf_counter() - started})
        wall = _timed(["tools/predict.py", "--model-dir", str(model_dir), "--engine", "ray", "--workers", "2",
                       "--out", str(Path(tmp) / "job"), str(clips)])
        rows.append({"engine": "ray", "workers": 2, "videos": videos, "frames": videos * frames, "wall_s": wall})
    return rows


def peak_memory(inputs: int, face, model_dir, workers=2) -> dict:
    """Run a Ray job over `inputs` copies of one face crop (a .txt list of paths) and sample the resident memory
    of this machine's processes that the job started, every 0.2 s; returns the peak and the wall time."""
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "paths.txt"
        listing.write_text(f"{face}\n" * inputs)
        before = {p.pid for p in psutil.process_iter()}
        peak, done = [0, 0], threading.Event()

        def sample():
            while not done.is_set():
                total = driver = 0
                for process in psutil.process_iter(["pid", "memory_info"]):
                    if process.info["pid"] in before or process.info["memory_info"] is None:
                        continue
                    total += process.info["memory_info"].rss
                    if process.info["pid"] == job.pid:
                        driver = process.info["memory_info"].rss
                peak[0], peak[1] = max(peak[0], total), max(peak[1], driver)
                time.sleep(0.2)

        started = time.perf_counter()
        job = subprocess.Popen([sys.executable, "tools/predict.py", "--model-dir", str(model_dir), "--engine", "ray",
                                "--workers", str(workers), "--out", str(Path(tmp) / "job"), str(listing)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        watcher = threading.Thread(target=sample, daemon=True)
        watcher.start()
        job.wait()
        done.set()
        watcher.join()
        if job.returncode != 0:
            raise RuntimeError(f"the {inputs}-input Ray job failed (exit {job.returncode})")
        return {"inputs": inputs, "wall_s": time.perf_counter() - started, "peak_mib": peak[0] / 2**20,
                "driver_peak_mib": peak[1] / 2**20}


def engines_tables(fer2013, photos, model_dir, mask_limit: int, memory_inputs=(10_000, 100_000)) -> list:
    """The markdown lines of the engines section."""
    lines = ["| masking | workers | faces | wall s (start included) | images/s |", "|---|---:|---:|---:|---:|"]
    for r in masking_engines(fer2013, mask_limit):
        lines.append(f"| {r['engine']} | {r['workers']} | {r['faces']} | {r['wall_s']:.1f} | "
                     f"{r['faces'] / r['wall_s']:.1f} |")
    rows = prediction_engines(photos, model_dir)
    with tempfile.TemporaryDirectory() as tmp:
        # What each path costs before its first answer: one photo, models loaded (and Ray's cluster started).
        one = next(p for p in sorted(Path(photos).iterdir()) if p.is_file())
        start = {"one process": _timed(["tools/predict.py", "--model-dir", str(model_dir), "--faces", str(one)]),
                 "ray": _timed(["tools/predict.py", "--model-dir", str(model_dir), "--engine", "ray", "--faces",
                                "--workers", "2", "--out", str(Path(tmp) / "one"), str(one)])}
    lines += ["", "| prediction | workers | photos | faces | wall s (start included) | photos/s | faces/s | "
                  "photos/s after the start |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        steady = r["photos"] / (r["wall_s"] - start[r["engine"]])
        lines.append(f"| {r['engine']} | {r['workers']} | {r['photos']} | {r['faces']} | {r['wall_s']:.1f} | "
                     f"{r['photos'] / r['wall_s']:.1f} | {r['faces'] / r['wall_s']:.1f} | {steady:.1f} |")
    single, one_worker = rows[0], rows[1]
    per_photo = ((one_worker["wall_s"] - start["ray"]) - (single["wall_s"] - start["one process"])) / single["photos"]
    lines += ["", f"A one-photo job takes {start['one process']:.1f} s in one process and {start['ray']:.1f} s on "
                  f"Ray (the local cluster's start and two workers loading the models). After that, one Ray worker "
                  f"against one process: {per_photo * 1000:+.1f} ms a photo."]
    lines += ["", "| video (720p, 3 faces, 60 frames a clip) | workers | clips | frames | wall s (start included) | "
                  "frames/s |", "|---|---:|---:|---:|---:|---:|"]
    for r in video_engines(model_dir):
        lines.append(f"| {r['engine']} | {r['workers']} | {r['videos']} | {r['frames']} | {r['wall_s']:.1f} | "
                     f"{r['frames'] / r['wall_s']:.1f} |")
    face = next(Path(fer2013).rglob("*.jpg"))
    lines += ["", "| streaming job (face crops, 2 workers) | inputs | wall s | peak resident MiB, all processes | "
                  "peak MiB, the driver |", "|---|---:|---:|---:|---:|"]
    for count in memory_inputs:
        m = peak_memory(count, face, model_dir)
        lines.append(f"| `predict.py --engine ray` | {m['inputs']:,} | {m['wall_s']:.0f} | {m['peak_mib']:.0f} | "
                     f"{m['driver_peak_mib']:.0f} |")
    return lines
