"""FaceCNN and the averaging of evaluation and export (Global.flip_average, Global.view_average) on the shipped
config with the views it shipped until 2026-12-06: the exported graph averages as the dygraph model does, and runs
in Paddle Inference, FastDeploy (Python 3.10) and Paddle Lite's ARM conversion."""
from pathlib import Path

import cv2
import numpy as np
import paddle
import pytest

from deploy.android import package_model as packager
from deploy.predictor import Predictor
from engine.backbones import BACKBONES, widen_channels
from engine.config import ConfigError, load_config
from engine.export import export
from engine.backbones import build_backbone
from engine.model import as_deployed, build_model
from engine.weights import WeightsError, exported_weights, load_weights
from predictor_models import fastdeploy_probs

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "configs" / "masked_fer" / "FaceCNN_cpu.yaml"

# The shipped config runs one pass a face; these are the views and mirroring it averaged until 2026-12-06.
AVERAGED = ["Global.flip_average=True", "Global.view_average=[[0.8, 0, 0], [0.85, 0, 0], [0.9, 0, 0], [0.95, 0, 0]]"]


def faces(count=6, size=48):
    rng = np.random.default_rng(5)
    return [cv2.GaussianBlur(rng.integers(0, 256, (size, size), dtype=np.uint8), (0, 0), 1) for _ in range(count)]


def as_input(images):
    return np.stack([cv2.cvtColor(f, cv2.COLOR_GRAY2RGB).transpose(2, 0, 1) for f in images]).astype(np.float32) \
        / 127.5 - 1


@pytest.mark.parametrize("name, channels", [("FaceCNN_x0_5", 128), ("FaceCNN_x1_0", 256), ("FaceCNN_x2_0", 512)])
def test_facecnn_widths_and_output(name, channels):
    model = BACKBONES[name](class_num=4)
    assert model.fc.weight.shape == [channels, 4]
    model.eval()
    assert model(paddle.to_tensor(as_input(faces(2)))).shape == [2, 4]


def test_flip_average_is_the_mean_of_both_answers():
    paddle.seed(3)
    config = load_config(SHIPPED, ["Global.flip_average=True", "Global.view_average=[]"])
    model = build_model(config)
    model.eval()
    x = as_input(faces(5))
    single = paddle.nn.functional.softmax(model(paddle.to_tensor(x))).numpy()
    mirrored = paddle.nn.functional.softmax(model(paddle.to_tensor(x[:, :, :, ::-1].copy()))).numpy()
    averaged = as_deployed(model, config)(paddle.to_tensor(x)).numpy()
    np.testing.assert_allclose(averaged, (single + mirrored) / 2, atol=1e-6)
    assert not np.allclose(single, mirrored, atol=1e-3)      # else the test could not tell them apart
    plain = as_deployed(model, load_config(SHIPPED, ["Global.flip_average=False", "Global.view_average=[]"]))(
        paddle.to_tensor(x)).numpy()
    np.testing.assert_allclose(plain, single, atol=1e-6)


def test_view_average_is_the_mean_over_the_crops_and_their_mirrors():
    """The shipped config's views, worked out by hand: each centred crop resized back to 48 px, and mirrored."""
    paddle.seed(5)
    config = load_config(SHIPPED, AVERAGED)
    views = config["Global"]["view_average"]
    assert views and config["Global"]["flip_average"]
    model = build_model(config)
    model.eval()
    x = as_input(faces(3))
    answers = []
    for share, dx, dy in [[1.0, 0, 0]] + views:
        size = int(round(share * 48))
        start = (48 - size) // 2
        crop = x[:, :, start + dy:start + dy + size, start + dx:start + dx + size]
        view = paddle.nn.functional.interpolate(paddle.to_tensor(np.ascontiguousarray(crop)), size=[48, 48],
                                                mode="bilinear", align_corners=False).numpy()
        for image in (view, view[:, :, :, ::-1].copy()):
            answers.append(paddle.nn.functional.softmax(model(paddle.to_tensor(image))).numpy())
    averaged = as_deployed(model, config)(paddle.to_tensor(x)).numpy()
    np.testing.assert_allclose(averaged, np.mean(answers, axis=0), atol=1e-6)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("facecnn")
    (root / "labels.txt").write_text("0 angry\n1 fear\n2 happy\n3 surprise\n")
    config = load_config(SHIPPED, [f"Global.save_inference_dir={root / 'model'}",
                                   f"Infer.PostProcess.class_id_map_file={root / 'labels.txt'}",
                                   f"Global.pretrained_model={root / 'weights'}", *AVERAGED])
    paddle.seed(11)
    paddle.save(build_model(config).state_dict(), str(root / "weights.pdparams"))
    return export(config), config


def test_exported_model_averages_as_the_dygraph_model(exported):
    model_dir, config = exported
    images = faces()
    probs = Predictor(model_dir, precision="fp32").predict_probs(images)
    assert probs.shape == (6, 4) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    model = build_model(config)
    load_weights(model, config["Global"]["pretrained_model"])
    model.eval()
    expected = as_deployed(model, config)(paddle.to_tensor(as_input(images))).numpy()
    np.testing.assert_allclose(probs, expected, atol=1e-4)


def test_fastdeploy_and_paddle_lite_run_the_exported_averaging(exported, py310, tmp_path):
    exported, _ = exported
    images = faces()
    np.testing.assert_allclose(fastdeploy_probs(py310, exported, images, tmp_path, runtime="paddle"),
                               Predictor(exported, precision="fp32").predict_probs(images), atol=1e-4)
    opt = str(py310.parent / "paddle_lite_opt")
    support = packager.check_arm_support(opt, exported / "inference.pdmodel", exported / "inference.pdiparams")
    assert not support.unsupported, support.unsupported
    packager.convert_to_nb(opt, exported / "inference.pdmodel", exported / "inference.pdiparams", tmp_path / "m.nb")
    assert (tmp_path / "m.nb").stat().st_size > 100_000


GROWN = [{"se_reduction": 4}, {"spatial_head": True}, {"se_reduction": 4, "spatial_head": True}]
TWIN = ROOT / "models" / "twin_x0_5" / "inference"


@pytest.mark.parametrize("options", GROWN, ids=["se", "spatial", "se+spatial"])
def test_a_grown_facecnn_starts_from_the_plain_twin_with_its_answers(options, tmp_path):
    """Squeeze-excitation and a spatial head, warm-started from the committed plain twin (its exported graph, and
    a .pdparams of it): the same answers, and the new parts still learn."""
    x = paddle.to_tensor(as_input(faces(4)))
    plain = build_backbone({"name": "FaceCNN_x0_5", "class_num": 4})
    load_weights(plain, TWIN)
    plain.eval()
    paddle.save(plain.state_dict(), str(tmp_path / "plain.pdparams"))
    for source in (TWIN, tmp_path / "plain"):
        grown = build_backbone({"name": "FaceCNN_x0_5", "class_num": 4, **options})
        load_weights(grown, source)
        grown.eval()
        np.testing.assert_allclose(grown(x).numpy(), plain(x).numpy(), atol=1e-5)
    grown.train()
    grown(x).sum().backward()
    new_part = grown.se[0].excite.weight if "se_reduction" in options else grown.fc.weight
    assert float(new_part.grad.abs().sum()) > 0


@pytest.mark.parametrize("options", [{"name": "FaceCNN_x1_0"}, {"name": "FaceCNN_x1_0", "spatial_head": True}],
                         ids=["x1_0", "x1_0+spatial"])
def test_a_wider_facecnn_starts_from_the_narrow_twin_with_its_answers(options):
    """Net2WiderNet from the committed x0_5 twin: without the tie-breaking noise the same answers; with it (as
    loading does) nearly the same, and a channel's copies no longer equal, so that they can learn apart."""
    x = paddle.to_tensor(as_input(faces(4)))
    plain = build_backbone({"name": "FaceCNN_x0_5", "class_num": 4})
    load_weights(plain, TWIN)
    plain.eval()
    expected = plain(x).numpy()
    wide = build_backbone({"class_num": 4, **options})
    exact = widen_channels(wide, exported_weights(wide, TWIN), noise=0)
    wide.set_state_dict(wide.fit_pretrained(exact))
    wide.eval()
    np.testing.assert_allclose(wide(x).numpy(), expected, atol=1e-4)
    load_weights(wide, TWIN)
    np.testing.assert_allclose(wide(x).numpy(), expected, atol=0.1)
    conv, narrow = wide.features[3].weight.numpy(), plain.features[3].weight.shape[0]     # 32 channels from 16
    assert conv.shape[0] == 2 * narrow and not np.allclose(conv[:narrow], conv[narrow:], atol=1e-4)


@pytest.mark.parametrize("source, message", [("ResNet18", "another architecture"),
                                             ("FaceCNN_x2_0", "does not fit the model, shapes differ")])
def test_weights_a_facecnn_cannot_widen_from_are_the_loaders_clear_error(source, message, tmp_path):
    """Widening fits only a narrower FaceCNN; another network's weights, or a wider FaceCNN's, reach the loader's
    checks unchanged (not a KeyError or a shape error from inside the widening)."""
    paddle.save(build_backbone({"name": source, "class_num": 4}).state_dict(), str(tmp_path / "other.pdparams"))
    with pytest.raises(WeightsError, match=message):
        load_weights(build_backbone({"name": "FaceCNN_x1_0", "class_num": 4}), tmp_path / "other")


def test_a_spatial_head_refuses_another_input_size():
    model = BACKBONES["FaceCNN_x0_5"](class_num=4, spatial_head=True)
    with pytest.raises(ValueError, match="48 px"):
        model(paddle.to_tensor(as_input(faces(1, size=64))))


def test_a_grown_facecnn_exports_and_converts_for_the_phone(py310, tmp_path):
    (tmp_path / "labels.txt").write_text("0 angry\n1 fear\n2 happy\n3 surprise\n")
    config = load_config(SHIPPED, [f"Global.save_inference_dir={tmp_path / 'model'}",
                                   f"Infer.PostProcess.class_id_map_file={tmp_path / 'labels.txt'}",
                                   f"Global.pretrained_model={tmp_path / 'weights'}",
                                   "Arch.se_reduction=4", "Arch.spatial_head=True"])
    paddle.seed(13)
    model = build_model(config)
    for param in model.se.parameters():          # gains other than 1, so that the check can see them
        param.set_value(paddle.randn(param.shape) * 0.3)
    paddle.save(model.state_dict(), str(tmp_path / "weights.pdparams"))
    model_dir = export(config)
    images = faces()
    model.eval()
    expected = as_deployed(model, config)(paddle.to_tensor(as_input(images))).numpy()
    np.testing.assert_allclose(Predictor(model_dir, precision="fp32").predict_probs(images), expected, atol=1e-4)
    opt = str(py310.parent / "paddle_lite_opt")
    support = packager.check_arm_support(opt, model_dir / "inference.pdmodel", model_dir / "inference.pdiparams")
    assert not support.unsupported, support.unsupported


def test_branches_start_as_the_plain_twin_and_learn_apart(py310, tmp_path):
    """FaceCNN's branches ([3, 8]: face status apart from two expression heads): each branch's last stage starts as
    the plain network's, the expression heads as its head (both answer as the twin), the status head new; the
    branches then learn apart, and the export (every head, each its own softmax) runs in Paddle Lite on ARM."""
    x = paddle.to_tensor(as_input(faces(4)))
    plain = build_backbone({"name": "FaceCNN_x0_5", "class_num": 4})
    load_weights(plain, TWIN)
    plain.eval()
    branched = build_backbone({"name": "FaceCNN_x0_5", "class_num": 11, "branches": [3, 8]})
    assert load_weights(branched, TWIN, finetune=True) == ["fc.weight", "fc.bias"]     # the status head is new
    branched.eval()
    out = branched(x).numpy()
    np.testing.assert_allclose(out[:, 3:7], plain(x).numpy(), atol=1e-5)
    np.testing.assert_allclose(out[:, 7:], plain(x).numpy(), atol=1e-5)
    labels = {"status": ["masked", "unmasked", "no_face"], "masked": ["angry", "fear", "happy", "surprise"],
              "unmasked": ["angry", "fear", "happy", "surprise"]}
    for name, names in labels.items():
        (tmp_path / f"{name}.txt").write_text("".join(f"{i} {n}\n" for i, n in enumerate(names)))
    paddle.save(branched.state_dict(), str(tmp_path / "weights.pdparams"))
    config = load_config(SHIPPED, [f"Global.save_inference_dir={tmp_path / 'model'}", "Global.dataset=null",
                                   f"Global.pretrained_model={tmp_path / 'weights'}", "Arch.class_num=11",
                                   "Arch.branches=[3, 8]",
                                   "Global.heads={%s}" % ", ".join(f"{n}: {tmp_path / n}.txt" for n in labels)])
    model_dir = export(config)
    probs = paddle.jit.load(str(model_dir / "inference"))(x).numpy()
    np.testing.assert_allclose(probs[:, 3:7], paddle.nn.functional.softmax(plain(x)).numpy(), atol=1e-5)
    opt = str(py310.parent / "paddle_lite_opt")
    support = packager.check_arm_support(opt, model_dir / "inference.pdmodel", model_dir / "inference.pdiparams")
    assert not support.unsupported, support.unsupported
    branched.train()
    branched(x)[:, :3].sum().backward()
    assert float(branched.features[-7].weight.grad.abs().sum()) > 0     # the status branch's own last stage
    assert branched.branch_stages[0][0].weight.grad is None or \
        float(branched.branch_stages[0][0].weight.grad.abs().sum()) == 0


@pytest.mark.parametrize("branches, message", [([3], "two or more class counts"), ([3, 7], "add up to 10, not"),
                                               ("3,8", "two or more class counts")])
def test_bad_branches_name_the_fix(branches, message):
    with pytest.raises(ConfigError, match=message):
        build_backbone({"name": "FaceCNN_x0_5", "class_num": 11, "branches": branches})
