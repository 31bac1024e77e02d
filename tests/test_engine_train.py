"""Training, resuming, evaluation, inference and bad-data errors on a tiny generated dataset."""
import csv
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import paddle
import pytest

from engine.config import ConfigError, load_config
from engine.data import DataError
from engine.evaluate import evaluate
from engine.infer import infer
from engine.backbones import build_backbone
from engine.model import build_model
from engine.weights import WeightsError, load_weights
from engine.train import train
from conftest import hear_ctrl_c
from test_engine_data import CLASSES, make_dataset, overrides

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "test" / "tiny.yaml"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    """One 2-epoch run shared by the tests that only read its outputs."""
    out = tmp_path_factory.mktemp("out")
    config = load_config(TINY, overrides(data, out, ["Global.keep_checkpoints=2", "Global.use_visualdl=True"]))
    return train(config), config


def weights(prefix):
    return paddle.load(str(prefix) + ".pdparams")


def test_training_writes_checkpoints_logs_and_config(trained):
    run_dir, _ = trained
    for name in ("latest", "best_model", "epoch_1", "epoch_2"):
        for suffix in (".pdparams", ".pdopt", ".json"):
            assert (run_dir / (name + suffix)).is_file(), name + suffix
    state = json.loads((run_dir / "latest.json").read_text())
    assert state["epoch"] == 2 and state["iter_in_epoch"] == 0 and state["step"] == 12
    log = (run_dir / "train.log").read_text()
    assert "ips:" in log and "eta:" in log and "lr:" in log and "[Eval][Epoch 2]" in log
    assert list((run_dir / "vdl").glob("vdlrecords.*.log"))
    resolved = load_config(run_dir / "config.yaml")
    assert resolved["Global"]["output_dir"] == str(run_dir.parent)


def test_keep_checkpoints_bounds_the_epoch_snapshots(data, tmp_path):
    run_dir = train(load_config(TINY, overrides(data, tmp_path, ["Global.epochs=3", "Global.eval_during_train=False"])))
    assert sorted(p.name for p in run_dir.glob("epoch_*.pdparams")) == ["epoch_3.pdparams"]


def test_resume_continues_exactly(data, trained, tmp_path):
    run_dir, _ = trained
    resumed = train(load_config(TINY, overrides(data, tmp_path, [
        f"Global.checkpoints={run_dir / 'epoch_1'}", "Global.keep_checkpoints=2"])))
    expected, got = weights(run_dir / "latest"), weights(resumed / "latest")
    for key in expected:
        np.testing.assert_array_equal(got[key].numpy(), expected[key].numpy(), err_msg=key)
    assert json.loads((resumed / "latest.json").read_text())["step"] == 12


@pytest.mark.parametrize("number, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_run_saves_and_resumes_mid_epoch(data, trained, tmp_path, number, code):
    """Ctrl-C, or SIGTERM as `kill` and job schedulers send it, stops between two steps with `latest` saved."""
    run_dir, _ = trained
    command = [sys.executable, str(ROOT / "tools" / "train.py"), "-c", str(TINY)]
    for item in overrides(data, tmp_path, ["Global.keep_checkpoints=2", "Global.print_batch_step=1"]):
        command += ["-o", item]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                               preexec_fn=hear_ctrl_c)
    for line in process.stdout:
        if "[Epoch 2/2][Iter 2/6]" in line:
            process.send_signal(number)
            break
    output = process.communicate(timeout=120)[0]
    assert process.returncode == code, output
    state = json.loads((tmp_path / "PPLCNet_x0_25" / "latest.json").read_text())
    assert state["epoch"] == 1 and 2 <= state["iter_in_epoch"] < 6
    subprocess.run(command + ["-o", f"Global.checkpoints={tmp_path / 'PPLCNet_x0_25' / 'latest'}"], check=True,
                   cwd=ROOT, capture_output=True)
    expected, got = weights(run_dir / "latest"), weights(tmp_path / "PPLCNet_x0_25" / "latest")
    for key in expected:
        np.testing.assert_array_equal(got[key].numpy(), expected[key].numpy(), err_msg=key)


def test_evaluate_writes_report_png_and_predictions(trained, data, tmp_path):
    run_dir, config = trained
    config = load_config(TINY, overrides(data, tmp_path, [f"Global.pretrained_model={run_dir / 'best_model'}"]))
    report = evaluate(config)
    out = tmp_path / "PPLCNet_x0_25"
    saved = json.loads((out / "report.json").read_text())
    assert saved["accuracy"] == report["accuracy"]
    assert set(saved) >= {"accuracy", "macro_f1", "per_class", "confusion_matrix"}
    assert saved["topk"]["top1"] == saved["accuracy"] and saved["topk"]["top2"] >= saved["accuracy"]
    assert set(saved["per_class"]) == set(CLASSES)
    assert sum(map(sum, saved["confusion_matrix"])) == 16
    assert (out / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader(open(out / "predictions.csv")))
    assert len(rows) == 16 and set(rows[0]) == {"file", "true", "pred", "score"}
    accuracy = np.mean([row["true"] == row["pred"] for row in rows])
    assert accuracy == pytest.approx(report["accuracy"])


def test_infer_answers_each_image_as_evaluation_does(trained, data, tmp_path):
    """infer's labels and top-1 for the happy eval images are evaluation's (predictions.csv of best_model), so a
    wrong label order or another preprocessing shows; a file that cannot be read costs only its own answer."""
    run_dir, config = trained
    happy = tmp_path / "happy"
    shutil.copytree(data / "eval" / "happy", happy)
    (happy / "broken.jpg").write_bytes(b"not an image")
    config = load_config(TINY, overrides(data, run_dir.parent, [
        f"Global.pretrained_model={run_dir / 'best_model'}", f"Infer.infer_imgs={happy}"]))
    results = infer(config)
    answers = {Path(r["file"]).name: r for r in results}
    assert "cannot be read as an image" in answers.pop("broken.jpg")["error"]
    with open(run_dir / "predictions.csv", newline="") as handle:
        evaluated = {Path(row["file"]).name: row for row in csv.DictReader(handle) if row["true"] == "happy"}
    assert len(answers) == len(evaluated) == 4
    for name, answer in answers.items():
        assert sorted(answer["label_names"]) == sorted(CLASSES)
        assert answer["scores"] == sorted(answer["scores"], reverse=True)
        assert answer["label_names"][0] == evaluated[name]["pred"], name
        assert answer["scores"][0] == pytest.approx(float(evaluated[name]["score"]), abs=1e-5)


def test_corrupt_image_mid_epoch_is_skipped_and_counted(data, tmp_path):
    broken = make_dataset(tmp_path / "data")
    (broken / "train" / "fear" / "train_3.jpg").write_bytes(b"not a jpeg")
    run_dir = train(load_config(TINY, overrides(broken, tmp_path, ["Global.epochs=1"])))
    assert "1 unreadable images skipped" in (run_dir / "train.log").read_text()


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "train_list.txt").unlink(), "train_list.txt not found"),
    (lambda d: (d / "train_list.txt").write_text(""), "train_list.txt is empty"),
    (lambda d: (d / "eval_list.txt").write_text(""), "has no faces .* -o Global.eval_during_train=False"),
    (lambda d: (d / "train" / "happy" / "train_0.jpg").unlink(), "train_0.jpg does not exist"),
    (lambda d: (d / "label_list.txt").write_text("0 angry\n1 fear\n2 happy\n"), "Arch.class_num is 4"),
])
def test_bad_data_is_a_clear_error(tmp_path, damage, message):
    data = make_dataset(tmp_path / "data", per_class=(2, 1))
    damage(data)
    with pytest.raises((DataError, ConfigError), match=message):
        train(load_config(TINY, overrides(data, tmp_path)))


def test_pretrained_of_another_architecture_names_the_file(data, tmp_path):
    other = load_config(TINY, overrides(data, tmp_path, ["Arch.name=ResNet18"]))
    paddle.save(build_model(other).state_dict(), str(tmp_path / "resnet.pdparams"))
    config = load_config(TINY, overrides(data, tmp_path, [f"Global.pretrained_model={tmp_path / 'resnet'}"]))
    with pytest.raises(WeightsError, match="resnet.pdparams.*another architecture"):
        train(config)
    variant = load_config(TINY, overrides(data, tmp_path, ["Arch.name=PPLCNet_x0_35"]))
    paddle.save(build_model(variant).state_dict(), str(tmp_path / "lcnet35.pdparams"))
    config["Global"]["pretrained_model"] = str(tmp_path / "lcnet35")
    with pytest.raises(WeightsError, match="lcnet35.pdparams does not fit the model, shapes differ"):
        train(config)


def test_finetuning_from_a_model_with_other_classes_starts_a_new_head(data, tmp_path):
    seven = load_config(TINY, overrides(data, tmp_path, ["Arch.class_num=7"]))
    source = build_model(seven).state_dict()
    paddle.save(source, str(tmp_path / "seven.pdparams"))
    config = load_config(TINY, overrides(data, tmp_path, [f"Global.pretrained_model={tmp_path / 'seven'}",
                                                          "Global.epochs=1"]))
    model = build_model(config)
    head = load_weights(model, tmp_path / "seven", finetune=True)
    assert head and all(list(source[k].shape)[-1] == 7 or list(source[k].shape)[0] == 7 for k in head)
    for name, value in model.state_dict().items():
        if name not in head:
            np.testing.assert_array_equal(value.numpy(), source[name].numpy(), err_msg=name)
    with pytest.raises(WeightsError, match="seven.pdparams does not fit the model"):
        load_weights(build_model(config), tmp_path / "seven")          # eval / export need the exact model
    run_dir = train(config)
    assert "keep their initial values (a new head)" in (run_dir / "train.log").read_text()


def test_finetuning_from_an_exported_model_with_other_classes_starts_a_new_head():
    """The committed 4-class twin, exported (no .pdparams), warm-starts a 3-class model such as the face-status
    one: every layer but the head is the twin's."""
    twin = ROOT / "models" / "twin_x0_5" / "inference"
    four = build_backbone({"name": "FaceCNN_x0_5", "class_num": 4})
    load_weights(four, twin)
    three = build_backbone({"name": "FaceCNN_x0_5", "class_num": 3})
    head = load_weights(three, twin, finetune=True)
    assert sorted(head) == ["fc.bias", "fc.weight"]
    for name, value in three.state_dict().items():
        if name not in head:
            np.testing.assert_array_equal(value.numpy(), four.state_dict()[name].numpy(), err_msg=name)
    with pytest.raises(WeightsError, match="inference.pdiparams does not fit the model, shapes differ"):
        load_weights(build_backbone({"name": "FaceCNN_x0_5", "class_num": 3}), twin)


def test_augmented_mixup_run_resumes_exactly_and_reports_no_train_accuracy(data, tmp_path):
    def config(out, extra=()):
        cfg = load_config(TINY, overrides(data, out, ["Global.keep_checkpoints=2", *extra]))
        dataset = cfg["DataLoader"]["Train"]["dataset"]
        dataset["transform_ops"][1:1] = [{"RandomAffine": {"degrees": 10, "translate": [0.2, 0.2]}},
                                         {"ColorJitter": {"brightness": 0.3}}, {"RandAugment": {}}]
        dataset["transform_ops"].append({"RandomErasing": {"EPSILON": 0.5}})
        dataset["batch_transform_ops"] = [{"MixupOperator": {"alpha": 0.4}}, {"CutmixOperator": {"alpha": 1.0}}]
        return cfg
    whole = train(config(tmp_path / "whole"))
    resumed = train(config(tmp_path / "resumed", [f"Global.checkpoints={whole / 'epoch_1'}"]))
    expected, got = weights(whole / "latest"), weights(resumed / "latest")
    for key in expected:
        np.testing.assert_array_equal(got[key].numpy(), expected[key].numpy(), err_msg=key)
    records = [json.loads(line) for line in (whole / "metrics.jsonl").read_text().splitlines()]
    assert {r["kind"] for r in records} == {"train", "eval"}
    assert all("top1" not in r for r in records if r["kind"] == "train")
    assert "no training accuracy" in (whole / "train.log").read_text()


def test_the_label_map_defaults_to_the_one_beside_the_training_list(data, tmp_path):
    run_dir = train(load_config(TINY, overrides(data, tmp_path, [
        "Global.epochs=1", f"Infer.PostProcess.class_id_map_file={tmp_path / 'elsewhere' / 'label_list.txt'}"])))
    log = (run_dir / "train.log").read_text()
    assert f"using {data / 'label_list.txt'}, beside the training list" in log
    assert json.loads((run_dir / "report.json").read_text())["labels"] == CLASSES
