"""Latency and throughput of a Predictor on this machine (`python tools/benchmark.py predictor`, and the
predictor section of its report).

Single-image latency runs batch 1 through the whole predict() path (preprocessing included); throughput runs
batches of 32. Both after warm-up, repeated, and the median over repeats is reported.
"""
import importlib.util
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from deploy.backends import cpu_threads_or_all
from deploy.predictor import Predictor

ROOT = Path(__file__).resolve().parents[1]


def _timed(fn, runs: int) -> list:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def mixed_faces() -> list:
    """Two real faces as the predictor gets them, 48x48 grey crops of scikit-image's astronaut: plain and wearing
    our drawn mask, so that a routed predictor sends one to each expression model."""
    import cv2
    import skimage.data

    from deploy.faces import FaceFinder, crop
    from masker.photo import mask_photo

    photo = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    finder = FaceFinder()
    return [cv2.cvtColor(crop(image, finder(image)[0]), cv2.COLOR_BGR2GRAY)
            for image in (photo, mask_photo(photo, "surgical", "blue"))]


def benchmark(model_dir, backend: str = "paddle", batch_size: int = 32, single_runs: int = 100,
              batch_runs: int = 10, repeats: int = 3, warmup: int = 5, images=None, route: bool = False,
              **backend_options) -> dict:
    """{'p50_ms', 'p95_ms' (batch 1), 'throughput_ips' (batch batch_size), ...}: medians over `repeats`.

    images: gray or BGR uint8 faces to cycle through; by default 48x48 gray noise (timing does not depend on content),
    and with route (the face-status model, then the masked or unmasked model: the predictor as users run it) a
    batch half masked, half not (mixed_faces).
    """
    predictor = Predictor(model_dir, backend=backend, batch_size=batch_size, route=route, **backend_options)
    if images is None and route:
        images = mixed_faces()
    if images is None:
        rng = np.random.default_rng(0)
        images = [rng.integers(0, 256, (48, 48), dtype=np.uint8) for _ in range(batch_size)]
    batch = [images[i % len(images)] for i in range(batch_size)]
    for _ in range(warmup):
        predictor.predict(batch[:1])
        predictor.predict(batch)

    p50, p95, throughput = [], [], []
    for _ in range(repeats):
        latencies = np.array(_timed(lambda: predictor.predict(batch[:1]), single_runs)) * 1000
        p50.append(float(np.percentile(latencies, 50)))
        p95.append(float(np.percentile(latencies, 95)))
        seconds = _timed(lambda: predictor.predict(batch), batch_runs)
        throughput.append(batch_size * batch_runs / sum(seconds))
    return {"backend": backend, "model_dir": str(model_dir), "batch_size": batch_size, "routed": predictor.routes,
            "cpu_threads": cpu_threads_or_all(backend_options.get("cpu_threads")),
            "precision": predictor.backend.precision,
            "p50_ms": round(statistics.median(p50), 3), "p95_ms": round(statistics.median(p95), 3),
            "throughput_ips": round(statistics.median(throughput), 1),
            "runs": {"single": single_runs, "batch": batch_runs, "repeats": repeats, "warmup": warmup},
            # Timings on a shared CPU mean little without the load they ran under.
            "load_avg_1min": round(os.getloadavg()[0], 2)}


def benchmark_backends(model_dir, backends=("paddle", "onnx", "fastdeploy"), py310=None, **kwargs) -> list:
    """benchmark() for each backend; fastdeploy runs in the Python 3.10 environment (py310, default
    .venv310/bin/python) when this interpreter has no FastDeploy. onnx needs MODEL_DIR/inference.onnx."""
    results = []
    for backend in backends:
        if backend == "fastdeploy" and importlib.util.find_spec("fastdeploy") is None:
            py310 = Path(py310 or ROOT / ".venv310" / "bin" / "python")
            if not py310.exists():
                raise FileNotFoundError(f"{py310} not found: FastDeploy needs the Python 3.10 environment "
                                        f"(`make setup`)")
            args = [str(py310), str(ROOT / "tools" / "benchmark.py"), "predictor", "--model-dir", str(model_dir),
                    "--backend", backend]
            for key, value in kwargs.items():
                flag = f"--{key.replace('_', '-')}"
                args += [flag] if value is True else [] if value is False or value is None else [flag, str(value)]
            with tempfile.TemporaryDirectory() as tmp:
                if kwargs.get("route"):    # the 3.10 environment lacks scikit-image: the faces go as a file
                    np.save(Path(tmp) / "faces.npy", np.stack(mixed_faces()))
                    args += ["--faces", str(Path(tmp) / "faces.npy")]
                done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
            if done.returncode:
                raise RuntimeError(f"fastdeploy benchmark failed in {py310}:\n{done.stderr[-2000:]}")
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        else:
            results.append(benchmark(model_dir, backend, **kwargs))
    return results
