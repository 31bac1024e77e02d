"""EMA of the weights (PaddleClas's `EMA: {decay: ...}`): the average itself, its evaluation, saving and resuming."""
import json
from pathlib import Path

import numpy as np
import paddle
import pytest

from engine.config import ConfigError, load_config
from engine.curves import plot_curves, read_metrics
from engine.ema import ModelEMA
from engine.evaluate import evaluate
from engine.train import train
from test_engine_data import make_dataset, overrides

TINY = Path(__file__).resolve().parents[1] / "configs" / "test" / "tiny.yaml"


def test_the_average_follows_each_step_and_leaves_the_model_its_own_weights():
    paddle.seed(0)
    net = paddle.nn.Sequential(paddle.nn.Linear(3, 2), paddle.nn.BatchNorm1D(2))
    ema = ModelEMA(net, 0.9)
    expected = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    for step in range(3):
        for param in net.parameters():
            param.set_value(param + float(step + 1))
        ema.update()
        expected = {k: 0.9 * expected[k] + 0.1 * v.numpy() for k, v in net.state_dict().items()}
    own = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    with ema.applied() as averaged:
        for key, value in averaged.state_dict().items():
            np.testing.assert_allclose(value.numpy(), expected[key], rtol=1e-6, err_msg=key)
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), own[key], err_msg=key)


@pytest.mark.parametrize("decay", ["1.0", "0", "-0.5", "fast"])
def test_a_decay_outside_0_1_is_refused_with_the_fix(decay, tmp_path):
    with pytest.raises(ConfigError, match="EMA.decay"):
        config = load_config(TINY, [f"EMA.decay={decay}"])
        ModelEMA(paddle.nn.Linear(2, 2), config["EMA"]["decay"])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("data"))


def test_a_run_evaluates_and_keeps_the_averaged_weights_and_resumes_them_exactly(data, tmp_path):
    extra = ["EMA.decay=0.5", "Global.keep_checkpoints=2"]
    whole = train(load_config(TINY, overrides(data, tmp_path / "whole", extra)))
    records = [json.loads(line) for line in (whole / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if r["kind"] == "eval_ema"] == [1, 2]
    state = json.loads((whole / "latest.json").read_text())
    best = max((r for r in records if r["kind"] == "eval_ema"), key=lambda r: r["top1"])
    assert state["best_metric_ema"] == best["top1"]
    assert (whole / "ema" / "report.json").is_file() and (whole / "ema" / "confusion_matrix.png").is_file()
    # The averaged weights are not the trained ones, and best_model_ema evaluates to what training logged.
    raw, averaged = paddle.load(str(whole / "latest.pdparams")), paddle.load(str(whole / "latest.ema.pdparams"))
    assert any(not np.allclose(raw[k].numpy(), averaged[k].numpy()) for k in raw)
    report = evaluate(load_config(TINY, overrides(data, tmp_path / "eval", [
        "EMA.decay=0.5", f"Global.pretrained_model={whole / 'best_model_ema'}"])))
    assert report["accuracy"] == pytest.approx(best["top1"])
    # The training curves show both evaluations.
    curves = read_metrics(whole / "metrics.jsonl")
    assert [e for e, _ in curves["eval_ema"]] == [1, 2] and dict(curves["eval_ema"])[best["epoch"]] == best["top1"]
    assert [e for e, _ in curves["eval"]] == [1, 2]
    from matplotlib.image import imread
    with_ema = imread(plot_curves({"run": whole / "metrics.jsonl"}, tmp_path / "with_ema.png"))
    (tmp_path / "plain.jsonl").write_text("".join(line + "\n" for line in
                                                  (whole / "metrics.jsonl").read_text().splitlines()
                                                  if json.loads(line)["kind"] != "eval_ema"))
    plain = imread(plot_curves({"run": tmp_path / "plain.jsonl"}, tmp_path / "plain.png"))
    assert with_ema.shape == plain.shape and not np.array_equal(with_ema, plain)

    resumed = train(load_config(TINY, overrides(data, tmp_path / "resumed", [
        *extra, f"Global.checkpoints={whole / 'epoch_1'}"])))
    got = paddle.load(str(resumed / "latest.ema.pdparams"))
    for key in averaged:
        np.testing.assert_array_equal(got[key].numpy(), averaged[key].numpy(), err_msg=key)


def test_resuming_a_run_saved_without_ema_with_ema_says_what_to_do(data, tmp_path):
    plain = train(load_config(TINY, overrides(data, tmp_path / "plain", ["Global.epochs=1"])))
    with pytest.raises(Exception, match="saved without EMA"):
        train(load_config(TINY, overrides(data, tmp_path / "again", [
            "EMA.decay=0.9", f"Global.checkpoints={plain / 'latest'}"])))
