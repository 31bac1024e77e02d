"""Export: the inference.yml contract (FastDeploy's rules) and Paddle Inference == dygraph within 1e-4."""
from pathlib import Path

import numpy as np
import paddle
import pytest
import yaml

from engine.config import ConfigError, load_config
from engine.export import export
from engine.model import build_model
from engine.weights import load_weights

TINY = Path(__file__).parents[1] / "configs" / "test" / "tiny.yaml"
ALLOWED = {"ResizeImage", "CropImage", "NormalizeImage", "ToCHWImage"}


def check_deploy_yml(path):
    doc = yaml.safe_load(path.read_text())
    assert doc["Global"]["model_name"]
    ops = doc["PreProcess"]["transform_ops"]
    names = [next(iter(op)) for op in ops]
    assert set(names) <= ALLOWED and "DecodeImage" not in names
    assert names[-1] == "ToCHWImage"
    for op in ops:
        if "NormalizeImage" in op:
            assert op["NormalizeImage"]["scale"] == 1 / 255
            assert len(op["NormalizeImage"]["mean"]) == 3 == len(op["NormalizeImage"]["std"])
    post = doc["PostProcess"]
    assert list(post) == ["Topk"] and post["Topk"]["label_list"] == ["angry", "fear", "happy", "surprise"]
    return doc


def test_fixture_model_follows_the_deploy_contract(inference_dir):
    assert (inference_dir / "inference.pdmodel").is_file() and (inference_dir / "inference.pdiparams").is_file()
    check_deploy_yml(inference_dir / "inference.yml")


def exported_tiny(tmp_path, label_names, overrides=()):
    """The tiny config with seeded random weights, exported with check_deploy_yml passing; (weights prefix, config,
    export folder)."""
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"{i} {name}\n" for i, name in enumerate(label_names)))
    config = load_config(TINY, [
        f"Global.save_inference_dir={tmp_path / 'inf'}", f"Infer.PostProcess.class_id_map_file={labels}", *overrides])
    paddle.seed(7)
    paddle.save(build_model(config).state_dict(), str(tmp_path / "weights.pdparams"))
    config["Global"]["pretrained_model"] = str(tmp_path / "weights")
    out = export(config)
    check_deploy_yml(out / "inference.yml")
    return tmp_path / "weights", config, out


def paddle_inference(out, images):
    """The exported model's output for `images`, run by Paddle Inference on the CPU with MKLDNN."""
    predictor_config = paddle.inference.Config(str(out / "inference.pdmodel"), str(out / "inference.pdiparams"))
    predictor_config.disable_gpu()
    predictor_config.enable_mkldnn()
    predictor = paddle.inference.create_predictor(predictor_config)
    assert predictor.get_input_names() == ["x"]
    handle = predictor.get_input_handle("x")
    handle.reshape(images.shape)
    handle.copy_from_cpu(images)
    predictor.run()
    return predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()


def reference_logits(weights, config, images):
    reference = build_model(config)
    load_weights(reference, weights)
    reference.eval()
    return reference(paddle.to_tensor(images))


def test_paddle_inference_matches_dygraph(tmp_path):
    weights, config, out = exported_tiny(tmp_path, ["angry", "fear", "happy", "surprise"])
    images = np.random.default_rng(0).uniform(-1, 1, (3, 3, 48, 48)).astype("float32")
    expected = paddle.nn.functional.softmax(reference_logits(weights, config, images)).numpy()
    got = paddle_inference(out, images)
    assert got.shape == (3, 4)
    np.testing.assert_allclose(got.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_export_refuses_ops_fastdeploy_cannot_run(tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("0 a\n1 b\n2 c\n3 d\n")
    config = load_config(TINY, [
        f"Global.save_inference_dir={tmp_path / 'inf'}", f"Infer.PostProcess.class_id_map_file={labels}"])
    config["Infer"]["transforms"].insert(1, {"RandFlipImage": {"flip_code": 1}})
    with pytest.raises(ConfigError, match="RandFlipImage"):
        export(config)
    assert not (tmp_path / "inf" / "inference.pdmodel").exists()


def test_a_model_trained_on_more_classes_answers_among_the_first(tmp_path):
    """Global.answer_classes: a head trained on FER2013's seven exports a graph that answers among the four, its
    softmax over their logits alone, and inference.yml names those four."""
    weights, config, out = exported_tiny(
        tmp_path, ["angry", "fear", "happy", "surprise", "disgust", "neutral", "sad"],
        ["Arch.class_num=7", "Global.answer_classes=4"])
    images = np.random.default_rng(0).uniform(-1, 1, (3, 3, 48, 48)).astype("float32")
    logits = reference_logits(weights, config, images)
    assert logits.shape == [3, 7]
    expected = paddle.nn.functional.softmax(logits[:, :4]).numpy()
    np.testing.assert_allclose(paddle_inference(out, images), expected, atol=1e-4)


def test_answer_classes_beyond_the_trained_ones_is_an_error():
    with pytest.raises(ConfigError, match=r"Global.answer_classes \(5\) must be at most Arch.class_num \(4\)"):
        load_config(TINY, ["Global.answer_classes=5"])
