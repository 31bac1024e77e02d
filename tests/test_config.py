"""Config loading: PaddleClas schema, overrides parsed as YAML, typos named with the closest valid key."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from engine.config import ConfigError, load_config, parse_number
from engine.transforms import NormalizeImage

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
ALL = sorted(CONFIGS.rglob("*.yaml"))


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_every_shipped_config_loads_and_keeps_paddleclas_layout(path):
    config = load_config(path)
    assert {"Global", "Arch", "Loss", "Optimizer", "DataLoader", "Infer", "Metric"} <= set(config)
    for mode in ("Train", "Eval"):
        loader = config["DataLoader"][mode]
        assert loader["dataset"]["name"] == "ImageNetDataset"
        assert loader["sampler"]["name"] == "DistributedBatchSampler"
        ops = [next(iter(op)) for op in loader["dataset"]["transform_ops"]]
        assert ops[0] == "DecodeImage" and "ToCHWImage" not in ops  # the dataset itself returns CHW
    infer_ops = [next(iter(op)) for op in config["Infer"]["transforms"]]
    assert infer_ops[-1] == "ToCHWImage"
    assert config["Infer"]["PostProcess"]["name"] == "Topk"
    assert config["Global"]["image_shape"][1:] == [48, 48] or config["Global"]["image_shape"][1] <= 64


def test_seed_recipe_is_the_seed_projects():
    config = load_config(CONFIGS / "masked_fer" / "Xception65.yaml")
    assert config["Arch"] == {"name": "Xception65", "class_num": 4}
    assert config["Optimizer"]["name"] == "Momentum" and config["Optimizer"]["lr"]["name"] == "Cosine"
    assert config["Optimizer"]["regularizer"] == {"name": "L2", "coeff": 0.0001}
    assert config["Global"]["epochs"] == 200 and config["Global"]["use_visualdl"] is True
    assert config["DataLoader"]["Train"]["sampler"]["batch_size"] == 64


def test_overrides_are_yaml_values():
    config = load_config(CONFIGS / "test" / "tiny.yaml", [
        "Global.epochs=7", "Global.use_visualdl=true", "Optimizer.lr.learning_rate=1e-3",
        "Global.image_shape=[3, 64, 64]", "Global.checkpoints=output/x/latest", "Global.output_dir=a=b"])
    assert config["Global"]["epochs"] == 7 and config["Global"]["use_visualdl"] is True
    assert float(config["Optimizer"]["lr"]["learning_rate"]) == 1e-3  # PyYAML reads 1e-3 as text; optim floats it
    assert config["Global"]["image_shape"] == [3, 64, 64]
    assert config["Global"]["output_dir"] == "a=b"


def test_override_values_are_never_evaluated():
    config = load_config(CONFIGS / "test" / "tiny.yaml", ["Global.output_dir=__import__('os').getcwd()"])
    assert config["Global"]["output_dir"] == "__import__('os').getcwd()"


@pytest.mark.parametrize("override, closest", [
    ("Global.epoch=3", "epochs"),
    ("Globl.epochs=3", "Global"),
    ("Optimizer.lr.learningrate=0.1", "learning_rate"),
    ("DataLoader.Train.sampler.batchsize=8", "batch_size"),
])
def test_unknown_override_names_the_closest_key(override, closest):
    with pytest.raises(ConfigError, match=f"did you mean '{closest}'"):
        load_config(CONFIGS / "test" / "tiny.yaml", [override])


def test_misspelt_key_in_a_file_names_file_and_closest_key(tmp_path):
    text = (CONFIGS / "test" / "tiny.yaml").read_text().replace("resize_short: 48", "resize_shrt: 48", 1)
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"bad.yaml.*resize_shrt.*did you mean 'resize_short'"):
        load_config(path)


def test_misspelt_transform_op_is_named(tmp_path):
    config = yaml.safe_load((CONFIGS / "test" / "tiny.yaml").read_text())
    config["Infer"]["transforms"][1] = {"ResizeImg": {"resize_short": 48}}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match="did you mean 'ResizeImage'"):
        load_config(path)


def test_bad_override_syntax_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="Key.sub=value"):
        load_config(CONFIGS / "test" / "tiny.yaml", ["Global.epochs"])
    with pytest.raises(ConfigError, match="list or a value"):
        load_config(CONFIGS / "test" / "tiny.yaml", ["Infer.transforms.ResizeImage=1"])
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_scale_fractions_parse_without_eval():
    assert parse_number("1.0/255.0") == pytest.approx(1 / 255)
    assert parse_number("1/255") == 1 / 255
    assert parse_number(0.5) == 0.5
    with pytest.raises(ConfigError):
        parse_number("__import__('os')")
    assert NormalizeImage(scale="1.0/255.0", mean=[0, 0, 0], std=[1, 1, 1], order="").scale == pytest.approx(1 / 255)


@pytest.mark.parametrize("override, words", [
    ("Global.epochs=abc", "'Global.epochs' must be an int (for example 3), got 'abc'"),
    ("Global.use_visualdl=maybe", "'Global.use_visualdl' must be a bool"),
    ("Optimizer.lr.learning_rate=fast", "'Optimizer.lr.learning_rate' must be a float"),
    ("Global.image_shape=48", "'Global.image_shape' must be a list"),
    ("DataLoader.Train.sampler.batch_size=6.5", "must be an int"),
])
def test_a_value_of_the_wrong_type_is_named_like_an_unknown_key(override, words):
    with pytest.raises(ConfigError, match=re.escape(words)):
        load_config(CONFIGS / "test" / "tiny.yaml", [override])


def test_train_py_prints_config_errors_to_stderr_and_writes_nothing(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "train.py"), "-c", str(CONFIGS / "test" / "tiny.yaml"),
                             "-o", f"Global.output_dir={tmp_path / 'out'}", "-o", "Global.epochs=abc"],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 2 and "must be an int" in result.stderr and "Traceback" not in result.stderr
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "train.py"), "-c", str(CONFIGS / "test" / "tiny.yaml"),
                             "-o", f"Global.output_dir={tmp_path / 'out'}",
                             "-o", f"DataLoader.Train.dataset.cls_label_path={tmp_path / 'missing.txt'}"],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 2 and "not found" in result.stderr
    assert not (tmp_path / "out").exists()
