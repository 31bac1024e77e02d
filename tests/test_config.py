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
def test_every_shipped_config_turns_a_face_into_the_models_input(path):
    """What evaluation feeds the model, and what ships (Infer.transforms), is a tensor of Global.image_shape."""
    import cv2
    import numpy as np

    from engine.transforms import apply_transforms, build_transforms

    config = load_config(path)
    face = cv2.imencode(".jpg", np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8))[1].tobytes()
    shipped = apply_transforms(build_transforms(config["Infer"]["transforms"]), face)
    evaluated = apply_transforms(build_transforms(config["DataLoader"]["Eval"]["dataset"]["transform_ops"]), face)
    assert list(shipped.shape) == config["Global"]["image_shape"]
    np.testing.assert_array_equal(shipped, evaluated.transpose(2, 0, 1))


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


@pytest.mark.parametrize("override, words", [
    ("Global.epochs=-3", "'Global.epochs' must be at least 1, got -3"),
    ("Global.epochs=0", "'Global.epochs' must be at least 1, got 0"),
    ("DataLoader.Train.sampler.batch_size=0", "'DataLoader.Train.sampler.batch_size' must be at least 1"),
    ("Optimizer.lr.learning_rate=-1", "'Optimizer.lr.learning_rate' must be above 0, got -1"),
    ("Optimizer.momentum=1.5", "'Optimizer.momentum' must be at least 0 and below 1"),
    ("Arch.dropout_prob=1", "'Arch.dropout_prob' must be at least 0 and below 1"),
    ("DataLoader.Train.loader.num_workers=-1", "must be at least 0"),
])
def test_a_value_out_of_range_is_named_with_its_range(override, words):
    with pytest.raises(ConfigError, match=re.escape(words)):
        load_config(CONFIGS / "test" / "tiny.yaml", [override])


def test_train_py_prints_config_errors_to_stderr_and_writes_nothing(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "train.py"), "-c", str(CONFIGS / "test" / "tiny.yaml"),
                             "-o", f"Global.output_dir={tmp_path / 'out'}", "-o", "Global.epochs=abc"],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 2 and "must be an int" in result.stderr and "Traceback" not in result.stderr
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "train.py"), "-c", str(CONFIGS / "test" / "tiny.yaml"),
                             "-o", f"Global.output_dir={tmp_path / 'out'}", "-o", "Global.epochs=-3"],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 2 and "must be at least 1" in result.stderr and "Traceback" not in result.stderr
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "train.py"), "-c", str(CONFIGS / "test" / "tiny.yaml"),
                             "-o", f"Global.output_dir={tmp_path / 'out'}",
                             "-o", f"DataLoader.Train.dataset.cls_label_path={tmp_path / 'missing.txt'}"],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 2 and "not found" in result.stderr
    assert not (tmp_path / "out").exists()


def write(path, data):
    path.write_text(yaml.safe_dump(data))
    return path


def test_base_files_merge_dicts_replace_lists_and_are_recorded(tmp_path):
    base = yaml.safe_load((CONFIGS / "test" / "tiny.yaml").read_text())
    write(tmp_path / "base.yaml", base)
    middle = write(tmp_path / "middle.yaml", {"_base_": "base.yaml", "Global": {"epochs": 5},
                                              "Metric": {"Train": [{"TopkAcc": {"topk": [1]}}]}})
    child = write(tmp_path / "child.yaml", {"_base_": [middle.name], "Global": {"seed": 9}})
    config = load_config(child)
    assert config["Global"]["epochs"] == 5 and config["Global"]["seed"] == 9          # merged, both kept
    assert config["Global"]["device"] == base["Global"]["device"]                    # inherited
    assert config["Metric"]["Train"] == [{"TopkAcc": {"topk": [1]}}]                # a list is replaced
    assert config["_resolved_from_"] == [str(tmp_path / n) for n in ("base.yaml", "middle.yaml", "child.yaml")]
    write(tmp_path / "typo.yaml", {"_base_": "base.yaml", "Global": {"epoch": 3}})
    with pytest.raises(ConfigError, match=r"typo.yaml: unknown key 'Global.epoch'; did you mean 'epochs'"):
        load_config(tmp_path / "typo.yaml")
    write(tmp_path / "bad_base.yaml", {**base, "Global": {**base["Global"], "sed": 1}})
    write(tmp_path / "uses_bad.yaml", {"_base_": "bad_base.yaml"})
    with pytest.raises(ConfigError, match=r"bad_base.yaml: unknown key 'Global.sed'"):
        load_config(tmp_path / "uses_bad.yaml")
    write(tmp_path / "loop.yaml", {"_base_": "loop.yaml"})
    with pytest.raises(ConfigError, match="include each other"):
        load_config(tmp_path / "loop.yaml")


def test_one_key_switches_the_dataset():
    config = load_config(CONFIGS / "masked_fer" / "FaceCNN_cpu.yaml", ["Global.dataset=./dataset/unmasked"])
    assert config["DataLoader"]["Train"]["dataset"]["image_root"] == "./dataset/unmasked/"
    assert config["DataLoader"]["Train"]["dataset"]["cls_label_path"] == "./dataset/unmasked/train_list.txt"
    assert config["DataLoader"]["Eval"]["dataset"]["cls_label_path"] == "./dataset/unmasked/val_list.txt"
    assert config["Infer"]["PostProcess"]["class_id_map_file"] == "./dataset/unmasked/label_list.txt"


def test_evaluation_reads_the_validation_split_unless_the_test_set_is_asked_for():
    """Choices are made on the validation split carved from Training; PublicTest only when asked, by name."""
    path = CONFIGS / "masked_fer" / "FaceCNN_distill.yaml"
    assert load_config(path)["DataLoader"]["Eval"]["dataset"]["cls_label_path"] == "./dataset/masked/val_list.txt"
    test = load_config(path, ["Global.eval_split=eval"])
    assert test["DataLoader"]["Eval"]["dataset"]["cls_label_path"] == "./dataset/masked/eval_list.txt"
    assert "eval_split" not in test["Global"]
    with pytest.raises(ConfigError, match="'Global.eval_split' must be one of val, eval, test, got 'publictest'"):
        load_config(path, ["Global.eval_split=publictest"])


def test_a_runs_saved_config_evaluates_on_the_test_set_when_asked(tmp_path):
    """A run's config.yaml names its lists (no Global.dataset): eval_split used to be ignored there, silently."""
    from engine.config import dump_config
    dump_config(load_config(CONFIGS / "masked_fer" / "FaceCNN_distill.yaml"), tmp_path / "config.yaml")
    saved = load_config(tmp_path / "config.yaml", ["Global.eval_split=eval"])
    assert saved["DataLoader"]["Eval"]["dataset"]["cls_label_path"] == "dataset/masked/eval_list.txt"
    assert load_config(tmp_path / "config.yaml")["DataLoader"]["Eval"]["dataset"]["cls_label_path"] == \
        "./dataset/masked/val_list.txt"
    with pytest.raises(ConfigError, match="give -o Global.dataset=FOLDER too"):
        load_config(tmp_path / "config.yaml", ["DataLoader.Eval.dataset.cls_label_path=faces.txt",
                                               "Global.eval_split=eval"])


def test_infer_transforms_default_to_the_eval_ops_and_must_agree(tmp_path):
    config = yaml.safe_load((CONFIGS / "test" / "tiny.yaml").read_text())
    del config["Infer"]["transforms"]
    loaded = load_config(write(tmp_path / "no_infer.yaml", config))
    assert loaded["Infer"]["transforms"] == [*loaded["DataLoader"]["Eval"]["dataset"]["transform_ops"],
                                             {"ToCHWImage": None}]
    config["Infer"]["transforms"] = [*loaded["Infer"]["transforms"]]
    config["Infer"]["transforms"][1] = {"ResizeImage": {"resize_short": 64}}
    with pytest.raises(ConfigError, match=r"Infer.transforms\[1\] is .*resize_short': 64.* but evaluation ran"):
        load_config(write(tmp_path / "disagree.yaml", config))


def test_flattened_config_has_nothing_left_to_resolve(tmp_path):
    out = tmp_path / "flat.yaml"
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "flatten_config.py"), "-c",
                             str(CONFIGS / "masked_fer" / "demo.yaml"), "--out", str(out)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    flat = yaml.safe_load(out.read_text())
    assert "_base_" not in flat and "_resolved_from_" not in flat
    assert flat["Optimizer"]["name"] == "Momentum" and flat["Global"]["epochs"] == 10
    assert flat["DataLoader"]["Train"]["dataset"]["cls_label_path"] == "./dataset/train_list.txt"
    assert load_config(out)["Global"] == load_config(CONFIGS / "masked_fer" / "demo.yaml")["Global"]


def test_a_path_given_on_the_command_line_beats_the_configs_dataset_folder(tmp_path):
    """The face-status config names its folder with Global.dataset; an explicit -o for one path used to be
    overwritten by it, silently (a cross-validation run trained on the folder's lists instead of its own)."""
    from engine.config import dump_config, flatten
    config = load_config(CONFIGS / "face_status" / "FaceCNN_face_status.yaml",
                         ["DataLoader.Train.dataset.cls_label_path=/folds/train_0.txt"])
    assert config["DataLoader"]["Train"]["dataset"]["cls_label_path"] == "/folds/train_0.txt"
    assert config["DataLoader"]["Eval"]["dataset"]["cls_label_path"] == "./dataset/face_status/val_list.txt"
    dump_config(config, tmp_path / "config.yaml")   # what a run saves, loaded again by eval.py or export
    assert flatten(load_config(tmp_path / "config.yaml")) == flatten(config)
    later = load_config(CONFIGS / "face_status" / "FaceCNN_face_status.yaml",   # the last override wins
                        ["DataLoader.Train.dataset.cls_label_path=/folds/train_0.txt", "Global.dataset=./other"])
    assert later["DataLoader"]["Train"]["dataset"]["cls_label_path"] == "./other/train_list.txt"
