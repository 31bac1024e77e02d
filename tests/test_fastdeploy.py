"""The fastdeploy backend for real: FastDeploy 1.0.7 in .venv310 against Paddle Inference in this environment."""
import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from basics import is_amd_cpu
from deploy.predictor import Predictor
from predictor_models import export_discriminating_model, fer2013_faces

ROOT = Path(__file__).resolve().parents[1]

# Runs in .venv310: our backend (PaddleClasModel.batch_predict with topk = every class) in batches of 5, 5, 5
# and 1 (FastDeploy's Paddle runtime once got every batch size but the first wrong), then FastDeploy's
# single-image predict(im, topk=1) as its docs show it, and proof that paddle was never imported.
FASTDEPLOY_SCRIPT = """
import json, sys
import cv2, numpy as np
from deploy.predictor import Predictor
runtime, model_dir, out, *files = sys.argv[1:]
images = [cv2.imread(f, cv2.IMREAD_UNCHANGED) for f in files]
predictor = Predictor(model_dir, backend="fastdeploy", batch_size=5, runtime=runtime)
np.save(out, predictor.predict_probs(images))
bgr = [im if im.ndim == 3 else cv2.cvtColor(im, cv2.COLOR_GRAY2BGR) for im in images]
top1 = [predictor.backend.model.predict(im, topk=1) for im in bgr]
print(json.dumps({"top1": [[int(r.label_ids[0]), float(r.scores[0])] for r in top1],
                  "paddle_imported": "paddle" in sys.modules, "numpy": np.__version__}))
"""


@pytest.fixture(scope="module")
def model_dir(inference_dir, tmp_path_factory):
    return export_discriminating_model(inference_dir, tmp_path_factory.mktemp("fastdeploy"))


def run_py310(py310, *args, timeout=300):
    result = subprocess.run([str(py310), *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                            timeout=timeout, env={"PATH": "/usr/bin:/bin", **({"MKL_DEBUG_CPU_TYPE": "5"} if is_amd_cpu() else {})})
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def image_files(tmp_path, fer2013_dir):
    """Real FER2013 faces (48x48 gray JPEGs) and PNGs of other sizes, so resize and crop are exercised too."""
    files = [str(p) for p in fer2013_faces(fer2013_dir, 12)]
    rng = np.random.default_rng(3)
    for i, shape in enumerate([(100, 64, 3), (64, 130, 3), (49, 51), (300, 200, 3)]):
        path = tmp_path / f"odd{i}.png"
        cv2.imwrite(str(path), cv2.GaussianBlur(rng.integers(0, 256, shape, dtype=np.uint8), (0, 0), 2))
        files.append(str(path))
    return files


@pytest.mark.parametrize("which, runtime", [("fixture", "paddle"), ("discriminating", "paddle"),
                                           ("discriminating", "ort")])
def test_fastdeploy_scores_match_paddle_inference(which, runtime, py310, inference_dir, model_dir, fer2013_dir,
                                                  tmp_path):
    folder = inference_dir if which == "fixture" else model_dir
    files = image_files(tmp_path, fer2013_dir)
    out = tmp_path / "fastdeploy.npy"
    stdout = run_py310(py310, "-c", FASTDEPLOY_SCRIPT, runtime, folder, out, *files)
    report = json.loads(stdout.strip().splitlines()[-1])
    assert not report["paddle_imported"] and report["numpy"].startswith("1.")
    fastdeploy_probs = np.load(out)
    images = [cv2.imread(f, cv2.IMREAD_UNCHANGED) for f in files]
    paddle_probs = Predictor(folder, precision="fp32").predict_probs(images)
    assert fastdeploy_probs.shape == paddle_probs.shape == (16, 4)
    np.testing.assert_allclose(fastdeploy_probs, paddle_probs, atol=1e-4)
    labels, scores = np.array(report["top1"]).T
    np.testing.assert_allclose(scores, paddle_probs.max(axis=1), atol=1e-4)
    if which == "discriminating":
        assert paddle_probs.std(axis=0).max() > 0.05
        np.testing.assert_array_equal(labels.astype(int), paddle_probs.argmax(axis=1))


def test_the_backend_runs_on_every_core_unless_told(py310, model_dir):
    """As the paddle and onnx backends: cpu_threads, else every core. FastDeploy's own default (-1) made the fused
    graph's batch of one 1.05-1.17 ms against 0.81-0.84 on two threads set (docs/benchmarks.md)."""
    script = ("import json, os, sys; from deploy.backends.fastdeploy_runtime import FastDeployBackend; "
              "threads = [FastDeployBackend(sys.argv[1], cpu_threads=t).option._option.cpu_thread_num "
              "for t in (None, 1)]; print(json.dumps([threads, os.cpu_count()]))")
    (default, one), cores = json.loads(run_py310(py310, "-c", script, model_dir).strip().splitlines()[-1])
    assert (default, one) == (cores, 1)


def test_the_backend_stops_openmp_spinning_soon(py310, model_dir):
    """As the paddle backend: FastDeploy's Paddle runtime's OpenMP threads spin 5 ms after each inference, not
    200 (deploy.backends.OPENMP_BLOCKTIME_MS)."""
    script = ("import ctypes, sys, numpy as np; from deploy.backends.fastdeploy_runtime import FastDeployBackend; "
              "FastDeployBackend(sys.argv[1]).run([np.zeros((48, 48, 3), np.uint8)]); "
              "lib = next(line.split()[-1] for line in open('/proc/self/maps') if 'libiomp5' in line); "
              "print(ctypes.CDLL(lib).kmp_get_blocktime())")
    assert int(run_py310(py310, "-c", script, model_dir).split()[-1]) == 5


def test_cli_and_bench_under_py310(py310, model_dir, fer2013_dir, tmp_path):
    faces = [str(p) for p in fer2013_faces(fer2013_dir, 3)]
    run_py310(py310, "tools/predict.py", "--model-dir", model_dir, "--backend", "fastdeploy", *faces,
              "--json", tmp_path / "p.json")
    report = json.loads((tmp_path / "p.json").read_text())
    expected = Predictor(model_dir, precision="fp32").predict([cv2.imread(f) for f in faces])
    assert [p["label"] for p in report["predictions"]] == [p.label for p in expected]
    bench = json.loads(run_py310(py310, "tools/benchmark.py", "predictor", "--model-dir", model_dir, "--backend", "fastdeploy",
                                 "--single-runs", 5, "--batch-runs", 2, "--repeats", 1).strip().splitlines()[-1])
    assert bench["p50_ms"] > 0 and bench["throughput_ips"] > 0
