"""FaceCNN and its in-model blur, on the shipped config: the blur is cv2's, applies only outside training, and
survives export to Paddle Inference, FastDeploy (Python 3.10) and Paddle Lite's ARM conversion."""
import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import paddle
import pytest

from deploy.android import package_model as packager
from deploy.predictor import Predictor
from engine.backbones import FaceCNN, GaussianBlur
from engine.config import ConfigError, load_config
from engine.export import export
from engine.model import build_model, load_weights

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "configs" / "masked_fer" / "FaceCNN_cpu.yaml"


def faces(count=6, size=48):
    rng = np.random.default_rng(5)
    return [cv2.GaussianBlur(rng.integers(0, 256, (size, size), dtype=np.uint8), (0, 0), 1) for _ in range(count)]


@pytest.mark.parametrize("sigma", [0.8, 1.5, 3.0])
def test_gaussian_blur_layer_equals_opencv(sigma):
    image = faces(1)[0].astype(np.float32)
    radius = int(np.ceil(3 * sigma))
    expected = cv2.GaussianBlur(image, (2 * radius + 1, 2 * radius + 1), sigma)   # BORDER_REFLECT_101
    got = GaussianBlur(sigma, channels=1)(paddle.to_tensor(image[None, None])).numpy()[0, 0]
    np.testing.assert_allclose(got, expected, atol=1e-3)


def test_blur_applies_at_evaluation_only():
    paddle.seed(3)
    blurred_model = FaceCNN(class_num=4, scale=0.5, infer_blur_sigma=1.5)
    plain = FaceCNN(class_num=4, scale=0.5)
    plain.set_state_dict({k: v for k, v in blurred_model.state_dict().items() if k != "infer_blur.kernel"})
    x = np.stack([np.repeat(f[None], 3, 0) for f in faces(4, 24)]).astype(np.float32) / 127.5 - 1
    blurred_x = np.stack([[cv2.GaussianBlur(c, (11, 11), 1.5) for c in img] for img in x])
    for model in (blurred_model, plain):
        model.eval()
    np.testing.assert_allclose(blurred_model(paddle.to_tensor(x)).numpy(),
                               plain(paddle.to_tensor(blurred_x)).numpy(), atol=1e-4)
    paddle.seed(0)
    blurred_model.train()
    training = blurred_model(paddle.to_tensor(x)).numpy()
    paddle.seed(0)
    plain.train()
    np.testing.assert_allclose(training, plain(paddle.to_tensor(x)).numpy(), atol=1e-5)


def test_paddleclas_backbones_refuse_the_facecnn_blur():
    config = load_config(SHIPPED, ["Arch.name=ResNet18"])
    with pytest.raises(ConfigError, match="infer_blur_sigma is a FaceCNN parameter; ResNet18 does not accept it"):
        build_model(config)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("facecnn")
    (root / "labels.txt").write_text("0 angry\n1 fear\n2 happy\n3 surprise\n")
    config = load_config(SHIPPED, [f"Global.save_inference_dir={root / 'model'}",
                                   f"Infer.PostProcess.class_id_map_file={root / 'labels.txt'}",
                                   f"Global.pretrained_model={root / 'weights'}"])
    paddle.seed(11)
    paddle.save(build_model(config).state_dict(), str(root / "weights.pdparams"))
    return export(config), config


def test_exported_model_blurs_as_the_dygraph_model(exported):
    model_dir, config = exported
    images = faces()
    probs = Predictor(model_dir).predict_probs(images)
    assert probs.shape == (6, 4) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    model = build_model(config)
    load_weights(model, config["Global"]["pretrained_model"])
    model.eval()
    small = [cv2.resize(cv2.cvtColor(f, cv2.COLOR_GRAY2RGB), (24, 24)) for f in images]
    x = np.stack([s.transpose(2, 0, 1) for s in small]).astype(np.float32) / 127.5 - 1
    expected = paddle.nn.functional.softmax(model(paddle.to_tensor(x))).numpy()
    np.testing.assert_allclose(probs, expected, atol=1e-4)


def test_fastdeploy_and_paddle_lite_run_the_exported_blur(exported, py310, tmp_path):
    exported, _ = exported
    images = faces()
    files = []
    for i, image in enumerate(images):
        files.append(str(tmp_path / f"face{i}.png"))
        cv2.imwrite(files[-1], image)
    script = ("import sys, numpy as np, cv2; from deploy.predictor import Predictor; "
              "p = Predictor(sys.argv[1], backend='fastdeploy', runtime='paddle'); "
              "np.save(sys.argv[2], p.predict_probs([cv2.imread(f, cv2.IMREAD_UNCHANGED) for f in sys.argv[3:]]))")
    result = subprocess.run([str(py310), "-c", script, str(exported), str(tmp_path / "fd.npy"), *files], cwd=ROOT,
                            capture_output=True, text=True, timeout=300,
                            env={"PATH": "/usr/bin:/bin", "MKL_DEBUG_CPU_TYPE": "5"})
    assert result.returncode == 0, result.stderr[-3000:]
    np.testing.assert_allclose(np.load(tmp_path / "fd.npy"), Predictor(exported).predict_probs(images), atol=1e-4)
    opt = str(py310.parent / "paddle_lite_opt")
    support = packager.check_arm_support(opt, exported / "inference.pdmodel", exported / "inference.pdiparams")
    assert not support.unsupported, support.unsupported
    packager.convert_to_nb(opt, exported / "inference.pdmodel", exported / "inference.pdiparams", tmp_path / "m.nb")
    assert (tmp_path / "m.nb").stat().st_size > 100_000


def test_the_config_sets_the_blur_not_the_weights_file(tmp_path):
    sharp = load_config(SHIPPED, ["Arch.infer_blur_sigma=0"])
    paddle.save(build_model(sharp).state_dict(), str(tmp_path / "sharp.pdparams"))
    for sigma in (1.5, 2.5):
        model = build_model(load_config(SHIPPED, [f"Arch.infer_blur_sigma={sigma}"]))
        expected = model.infer_blur.kernel.numpy()
        load_weights(model, tmp_path / "sharp")
        np.testing.assert_array_equal(model.infer_blur.kernel.numpy(), expected)
    paddle.save(model.state_dict(), str(tmp_path / "blurred.pdparams"))
    load_weights(build_model(sharp), tmp_path / "blurred")          # the file's kernel is simply not used
    with pytest.raises(ConfigError, match="infer_blur_sigma is -1"):
        build_model(load_config(SHIPPED, ["Arch.infer_blur_sigma=-1"]))
