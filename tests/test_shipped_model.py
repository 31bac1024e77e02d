"""The model in inference/, as a user gets it: small, in PaddleClas's export format, the same answers from every
backend (Paddle Inference, ONNX Runtime, FastDeploy in .venv310, Paddle Lite's runtime), and its accuracy on masked
FER2013 PublicTest faces (when ../shared is there)."""
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from deploy.android import package_model as packager
from deploy.onnx_export import export_onnx
from deploy.predictor import Predictor
from predictor_models import fastdeploy_probs

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "inference"
# The shipped masked model scores 0.701 on all 2,273 masked PublicTest faces (README, Results): well above the 0.39
# of always answering "happy". On these 240 (the first 60 per class) it scored 0.700 (2026-12-02; the previous
# model 0.704); the threshold leaves the noise of 240 faces (one standard error is 3 points).
MIN_ACCURACY_ON_SAMPLE = 0.65


@pytest.fixture(scope="module")
def faces():
    return packager.photo_faces()


# The models of inference/ (docs/predictor.md): masked expressions, unmasked expressions, face status, and the
# fused graph whose heads answer all three.
EXPRESSIONS, STATUS = ["angry", "fear", "happy", "surprise"], ["masked", "unmasked", "no_face"]
FOLDERS = {".": EXPRESSIONS, "unmasked": EXPRESSIONS, "face_status": STATUS, "fused": STATUS + EXPRESSIONS * 2}


def test_shipped_models_are_small_and_in_paddleclas_format():
    total = sum(f.stat().st_size for f in SHIPPED.rglob("*") if f.is_file())
    assert total <= 10 * 1024 * 1024, total
    for folder, labels in FOLDERS.items():
        config = yaml.safe_load((SHIPPED / folder / "inference.yml").read_text())
        assert config["PostProcess"]["Topk"]["label_list"] == labels
        assert [next(iter(op)) for op in config["PreProcess"]["transform_ops"]] == \
            ["ResizeImage", "NormalizeImage", "ToCHWImage"]


@pytest.mark.parametrize("folder", list(FOLDERS))
def test_every_backend_gives_the_same_answers(faces, tmp_path, py310, folder):
    model = tmp_path / "model"
    shutil.copytree(SHIPPED / folder, model, ignore=shutil.ignore_patterns("unmasked", "face_status", "fused"))
    expected = Predictor(model, route=False, precision="fp32").predict_probs(faces)  # the fused graph's masked head
    export_onnx(model)
    np.testing.assert_allclose(Predictor(model, backend="onnx", route=False).predict_probs(faces), expected,
                               atol=1e-4)
    np.testing.assert_allclose(fastdeploy_probs(py310, model, faces, tmp_path, route=False), expected, atol=1e-4)
    if folder in (".", "fused"):  # the phone's model, and the graph that may replace it there (its every head)
        assert packager.check_lite_runtime(model, faces) <= packager.CHECK_TOLERANCE


def test_accuracy_on_masked_publictest_faces(fer2013_dir, tmp_path):
    from masker.dataset import RunConfig, build_dataset
    from masker import DEFAULT_CLASSES

    data = tmp_path / "masked"
    build_dataset(RunConfig(fer2013=str(fer2013_dir), classes=DEFAULT_CLASSES, limit=60), data, workers=1,
                  progress=False)
    lines = [line.rsplit(maxsplit=1) for line in (data / "eval_list.txt").read_text().splitlines()]
    images = [cv2.imread(str(data / path), cv2.IMREAD_GRAYSCALE) for path, _ in lines]
    labels = np.array([int(label) for _, label in lines])
    accuracy = float((Predictor(SHIPPED, route=False).predict_probs(images).argmax(axis=1) == labels).mean())
    assert len(labels) == 240 and accuracy >= MIN_ACCURACY_ON_SAMPLE, accuracy
