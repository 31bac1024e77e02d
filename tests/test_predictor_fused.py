"""A fused model folder (inference.yml's Heads: face status and both expression heads in one graph): the Predictor
routes every face with one pass of it, as it routes with three separate models. Paddle Inference runs in float32
here, where the graph's own answer is the reference (bfloat16 is tests/test_predictor.py's)."""
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import paddle
import pytest
import yaml
from skimage import data

from deploy.faces import crop, status_crop
from deploy.predictor import FUSED_MODEL, MASKED_FROM, Predictor
from engine.config import ConfigError, load_config
from engine.export import export
from engine.model import build_model
from predictor_models import fastdeploy_probs

ROOT = Path(__file__).resolve().parents[1]
HEADS = {"face_status": ["masked", "unmasked", "no_face"], "masked": ["angry", "fear", "happy", "surprise"],
         "unmasked": ["angry", "fear", "happy", "surprise"]}


def export_fused(folder, heads=HEADS, seed=0, no_face_logit=-20.0):
    """A FaceCNN_x0_5 of these heads, its random head's weights spread wide enough that its heads answer
    unevenly, exported as engine.export writes a fused model; its no-face logit is no_face_logit on every input."""
    folder.mkdir(parents=True)
    overrides = [f"Arch.class_num={sum(map(len, heads.values()))}", "Global.dataset=null",
                 f"Global.save_inference_dir={folder}", f"Global.output_dir={folder}"]
    for name, labels in heads.items():
        (folder / f"{name}.txt").write_text("".join(f"{i} {label}\n" for i, label in enumerate(labels)))
    overrides.append("Global.heads={%s}" % ", ".join(f"{name}: {folder / name}.txt" for name in heads))
    config = load_config(ROOT / "configs" / "masked_fer" / "FaceCNN_cpu.yaml", overrides)
    model = build_model(config)
    model.eval()
    # Random weights answer every input alike. The status logits get the direction along which these faces'
    # features spread most, centred on their mean, so that about half of them are called masked, and no face is
    # taken for no face (unless no_face_logit says otherwise).
    x = np.stack([np.repeat((face[None] / 255.0 - 0.5) / 0.5, 3, axis=0) for face in faces()]).astype(np.float32)
    features = model.features(paddle.to_tensor(x)).mean([2, 3]).numpy()
    spread = features - features.mean(axis=0)
    direction = np.linalg.svd(spread, full_matrices=False)[2][0]
    gain = 4.0 / (spread @ direction).std()
    rng = np.random.default_rng(seed)
    weight = rng.normal(0, 3 * gain * spread.std(), model.fc.weight.shape)
    weight[:, :2] = np.stack([direction, -direction], axis=1) * gain
    bias = np.zeros(model.fc.bias.shape)
    bias[:3] = [-(features.mean(axis=0) @ direction) * gain, (features.mean(axis=0) @ direction) * gain, no_face_logit]
    weight[:, 2] = 0
    model.fc.weight.set_value(weight.astype(np.float32))
    model.fc.bias.set_value(bias.astype(np.float32))
    paddle.save(model.state_dict(), str(folder / "weights.pdparams"))
    config["Global"]["pretrained_model"] = str(folder / "weights")
    return export(config)


@pytest.fixture(scope="module")
def fused_dir(inference_dir, tmp_path_factory):
    """The shipped masked model's folder, with a fused model beside it in place of its other two."""
    folder = tmp_path_factory.mktemp("with_fused") / "inference"
    folder.mkdir()
    for name in ("inference.pdmodel", "inference.pdiparams", "inference.yml"):
        shutil.copy(Path(inference_dir) / name, folder / name)
    export_fused(folder / FUSED_MODEL)
    return folder


def faces(count=24, seed=1):
    """Noise around grey levels from dark to bright, which the random network answers unevenly."""
    rng = np.random.default_rng(seed)
    return [np.clip(rng.normal(level, 40, (48, 48)), 0, 255).astype(np.uint8)
            for level in np.linspace(20, 235, count)]


def graph_answer(predictor, folder, images):
    """The fused graph's own output for the images, through Paddle's loader rather than the predictor."""
    graph = paddle.jit.load(str(Path(folder) / "inference"))
    return graph(paddle.to_tensor(predictor.preprocess.batch(images))).numpy()


def test_the_fused_model_routes_each_face_with_one_pass(fused_dir):
    predictor = Predictor(fused_dir, batch_size=32, precision="fp32")
    assert predictor.routes and predictor.fused is not None
    assert "heads of one graph" in predictor.describe() and f"inference/{FUSED_MODEL}/" in predictor.describe()
    passes = []
    predictor.time_stages(lambda stage, seconds: passes.append(stage))
    images = faces()
    predictions = predictor.predict(images)
    assert passes.count("graph") == 1, "one batch of faces must cost one pass of one graph"
    probs = graph_answer(predictor, fused_dir / FUSED_MODEL, images)
    mask_score = probs[:, 0] / (probs[:, 0] + probs[:, 1])
    masked = mask_score >= MASKED_FROM
    assert 0 < masked.sum() < len(images), "the test needs both routes"
    for prediction, row, score, is_masked in zip(predictions, probs, mask_score, masked):
        expected = row[3:7] if is_masked else row[7:11]
        assert prediction.masked == is_masked and prediction.mask_score == pytest.approx(score, abs=1e-5)
        np.testing.assert_allclose(prediction.probs, expected, atol=1e-5)
        assert prediction.label == HEADS["masked"][int(np.argmax(expected))]
    np.testing.assert_allclose(predictor.face_status(images)[:, 1], mask_score, atol=1e-5)


def test_a_photo_takes_its_status_from_the_status_crop_and_its_expression_from_the_expression_crop(fused_dir):
    predictor = Predictor(fused_dir, precision="fp32")
    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    found = predictor.predict_faces(photo)
    assert len(found) == 1
    face = found[0].face
    gray = lambda image: cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)  # noqa: E731
    status = graph_answer(predictor, fused_dir / FUSED_MODEL, [gray(status_crop(photo, face))])[0]
    expression = graph_answer(predictor, fused_dir / FUSED_MODEL, [gray(crop(photo, face))])[0]
    score = status[0] / (status[0] + status[1])
    assert found[0].prediction.mask_score == pytest.approx(score, abs=1e-5)
    np.testing.assert_allclose(found[0].prediction.probs, expression[3:7] if score >= MASKED_FROM else expression[7:],
                               atol=1e-5)


def with_face_status(fused_folder, folder):
    """fused_folder's models with the shipped face-status graph beside them, in folder."""
    shutil.copytree(fused_folder, folder)
    shutil.copytree(ROOT / "inference" / "face_status", folder / "face_status")
    return folder


def test_a_face_status_model_beside_the_fused_one_checks_the_faces_it_is_unsure_of(fused_dir, tmp_path):
    """The shipped face-status graph beside fused/: a photo's found faces whose fused pass gives P(no_face) of
    FUSED_SURE_FACE or more take their no-face check and mask status from it (here every face: this fused graph
    takes everything for no face); crops still take everything from the fused graph's one pass."""
    unsure = tmp_path / "unsure"
    export_fused(unsure / FUSED_MODEL, no_face_logit=20.0)
    for name in ("inference.pdmodel", "inference.pdiparams", "inference.yml"):
        shutil.copy(fused_dir / name, unsure / name)
    folder = with_face_status(unsure, tmp_path / "inference")
    predictor = Predictor(folder, batch_size=32, precision="fp32")
    assert predictor.photo_status_model is not predictor.status_model
    assert "a photo's faces checked by" in predictor.describe() and "inference/face_status/" in predictor.describe()
    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    found = predictor.predict_faces(photo)
    assert len(found) == 1
    face = found[0].face
    gray = lambda image: cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)  # noqa: E731
    status_graph = paddle.jit.load(str(folder / "face_status" / "inference"))
    status = status_graph(paddle.to_tensor(predictor.preprocess.batch([gray(status_crop(photo, face))]))).numpy()[0]
    score = status[0] / (status[0] + status[1])
    # The shipped graph calls her unmasked, so the fused graph's unmasked head answers.
    assert found[0].prediction.mask_score == pytest.approx(score, abs=1e-5) and not found[0].prediction.masked
    expression = graph_answer(predictor, folder / FUSED_MODEL, [gray(crop(photo, face))])[0]
    np.testing.assert_allclose(found[0].prediction.probs, expression[7:11], atol=1e-5)
    passes = []
    predictor.time_stages(lambda stage, seconds: passes.append(stage))
    crops = predictor.predict_probs(faces())
    assert passes.count("graph") == 1
    np.testing.assert_allclose(crops, Predictor(unsure, precision="fp32").predict_probs(faces()), atol=1e-6)


def test_a_face_the_fused_graph_is_sure_of_skips_the_face_status_graph(fused_dir, tmp_path):
    """This fused graph gives P(no_face) ~ 0 on every face: a photo's face then costs the fused graph's one pass,
    which gives its status and expression both from the expression crop; the face-status graph does not run."""
    predictor = Predictor(with_face_status(fused_dir, tmp_path / "inference"), precision="fp32")
    checks = []
    predictor.photo_status_model.observe_stage = lambda stage, seconds: checks.append(stage)
    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    found = predictor.predict_faces(photo)
    assert len(found) == 1 and checks == []
    answer = graph_answer(predictor, fused_dir / FUSED_MODEL, [cv2.cvtColor(crop(photo, found[0].face),
                                                                            cv2.COLOR_BGR2GRAY)])[0]
    score = answer[0] / (answer[0] + answer[1])
    assert found[0].prediction.mask_score == pytest.approx(score, abs=1e-5)
    np.testing.assert_allclose(found[0].prediction.probs, answer[3:7] if score >= MASKED_FROM else answer[7:11],
                               atol=1e-5)


def test_without_routing_the_folder_answers_with_its_own_model(fused_dir, inference_dir):
    images = faces(4)
    alone = Predictor(fused_dir, route=False, precision="fp32")
    assert not alone.routes and alone.fused is None
    own = Predictor(inference_dir, route=False, precision="fp32")
    np.testing.assert_allclose(alone.predict_probs(images), own.predict_probs(images), atol=1e-6)
    # A fused folder by itself: routed by its heads, or its masked head alone.
    itself = Predictor(fused_dir / FUSED_MODEL, precision="fp32")
    assert itself.routes and f"{FUSED_MODEL}/)" in itself.describe()
    masked_head = Predictor(fused_dir / FUSED_MODEL, route=False, precision="fp32").predict_probs(images)
    np.testing.assert_allclose(masked_head, graph_answer(itself, fused_dir / FUSED_MODEL, images)[:, 3:7], atol=1e-5)


def test_a_fused_model_without_the_routing_heads_is_refused(tmp_path):
    folder = export_fused(tmp_path / "two_heads", {"face_status": HEADS["face_status"], "masked": HEADS["masked"]})
    with pytest.raises(ConfigError, match=r"needs the heads \['face_status', 'masked', 'unmasked'\]; it lacks "
                                          r"\['unmasked'\]"):
        Predictor(folder)
    yml = yaml.safe_load((folder / "inference.yml").read_text())
    yml["Heads"]["masked"] = ["angry", "fear", "happy", "sad"]
    (folder / "inference.yml").write_text(yaml.safe_dump(yml))
    with pytest.raises(ConfigError, match="its Heads' labels, in order, must be PostProcess's label_list"):
        Predictor(folder)


def test_every_backend_routes_a_fused_folder_alike(fused_dir, py310, tmp_path):
    """Paddle Inference, ONNX Runtime (tools/export_onnx.py converts the fused graph too) and FastDeploy (Python
    3.10) give the same routed answers."""
    folder = tmp_path / "inference"
    shutil.copytree(fused_dir, folder)
    converted = subprocess.run([sys.executable, str(ROOT / "tools" / "export_onnx.py"), "--model-dir", str(folder)],
                               capture_output=True, text=True)
    assert converted.returncode == 0 and f"wrote {folder / FUSED_MODEL / 'inference.onnx'}" in converted.stdout
    images = faces()
    expected = Predictor(folder, precision="fp32").predict_probs(images)
    np.testing.assert_allclose(Predictor(folder, backend="onnx").predict_probs(images), expected, atol=1e-5)
    np.testing.assert_allclose(fastdeploy_probs(py310, folder, images, tmp_path), expected, atol=1e-5)
