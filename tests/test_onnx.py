"""tools/export_onnx.py (paddle2onnx 1.3.1) and the onnx backend against Paddle Inference."""
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from deploy.onnx_export import export_onnx
from deploy.predictor import Predictor
from predictor_models import export_discriminating_model, fer2013_faces

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def onnx_model_dir(inference_dir, tmp_path_factory):
    model_dir = export_discriminating_model(inference_dir, tmp_path_factory.mktemp("onnx"))
    export_onnx(model_dir)
    return model_dir


def test_onnx_agrees_with_paddle_inference_on_real_faces(onnx_model_dir, fer2013_dir):
    images = [cv2.imread(str(p)) for p in fer2013_faces(fer2013_dir, 32)]
    paddle_probs = Predictor(onnx_model_dir, backend="paddle", batch_size=16, precision="fp32").predict_probs(images)
    onnx_probs = Predictor(onnx_model_dir, backend="onnx", batch_size=16).predict_probs(images)
    assert paddle_probs.std(axis=0).max() > 0.05  # different faces get different answers
    np.testing.assert_allclose(onnx_probs, paddle_probs, atol=1e-4)


def test_a_batch_of_distinct_faces_gets_each_faces_own_answer(onnx_model_dir):
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, (48, 48), dtype=np.uint8) for _ in range(12)]
    for i, image in enumerate(images):
        image[(i * 4) % 40:(i * 4) % 40 + 8, 4:44] = 250
    predictor = Predictor(onnx_model_dir, backend="onnx", batch_size=12)
    together = predictor.predict_probs(images)
    alone = np.concatenate([predictor.predict_probs([image]) for image in images])
    assert len({tuple(np.round(row, 4)) for row in alone}) == len(images)        # a mix-up would show
    np.testing.assert_allclose(together, alone, atol=1e-6)
    shuffled = predictor.predict_probs(images[::-1])
    np.testing.assert_allclose(shuffled[::-1], alone, atol=1e-6)


def test_onnx_agrees_on_odd_sizes_and_gray(onnx_model_dir):
    """Resize and crop run in deploy.preprocess for both, so sizes other than 48x48 must agree as well."""
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in [(48, 48), (100, 64, 3), (64, 130), (49, 51, 3)]]
    np.testing.assert_allclose(Predictor(onnx_model_dir, backend="onnx").predict_probs(images),
                               Predictor(onnx_model_dir, precision="fp32").predict_probs(images), atol=1e-4)


def test_export_tool_on_the_fixture_model(inference_dir, tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(inference_dir, model_dir)
    result = subprocess.run([sys.executable, "tools/export_onnx.py", "--model-dir", str(model_dir)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert (model_dir / "inference.onnx").stat().st_size > 100_000
    assert not list(model_dir.glob("*.partial"))
    image = [np.full((48, 48), 99, np.uint8)]
    np.testing.assert_allclose(Predictor(model_dir, backend="onnx").predict_probs(image),
                               Predictor(model_dir, precision="fp32").predict_probs(image), atol=1e-4)


def test_export_tool_without_a_model(tmp_path):
    result = subprocess.run([sys.executable, "tools/export_onnx.py", "--model-dir", str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "inference.pdmodel" in result.stderr and "Traceback" not in result.stderr
