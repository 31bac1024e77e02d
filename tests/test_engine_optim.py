"""The optimizers and lr schedules docs/engine.md names, built from configs and stepped; CELoss's epsilon and
class_weight against hand-computed values; a GPU asked of a CPU machine is refused in training and on ONNX."""
from pathlib import Path

import numpy as np
import paddle
import pytest

from engine.config import ConfigError, load_config
from engine.losses import CELoss
from engine.optim import build_lr, build_optimizer
from engine.train import train
from test_engine_data import make_dataset, overrides

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "test" / "tiny.yaml"


def config_with(*extra):
    return load_config(TINY, [f"Infer.PostProcess.class_id_map_file={ROOT / 'configs'}", "Global.epochs=4", *extra])


def lr_at(schedule, steps):
    values = []
    for _ in range(steps):
        values.append(schedule() if callable(schedule) else float(schedule))
        if hasattr(schedule, "step"):
            schedule.step()
    return values


def test_piecewise_constant_and_cosine_schedules_give_their_rates():
    # A schedule of other parameters replaces the whole mapping: Cosine's learning_rate would be unknown to it.
    piecewise = build_lr(config_with("Optimizer.lr={name: Piecewise, decay_epochs: [1, 3], "
                                     "values: [0.1, 0.01, 0.001]}"), iters_per_epoch=2)
    assert lr_at(piecewise, 8) == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.01, 0.01, 0.001, 0.001])
    constant = build_lr(config_with("Optimizer.lr.name=Constant", "Optimizer.lr.learning_rate=0.03"), 2)
    assert lr_at(constant, 3) == [0.03] * 3
    cosine = build_lr(config_with("Optimizer.lr.name=Cosine", "Optimizer.lr.learning_rate=0.1",
                                  "Optimizer.lr.warmup_epoch=1"), iters_per_epoch=2)
    rates = lr_at(cosine, 8)
    assert rates[:2] == pytest.approx([0.0, 0.05])                 # linear warmup from 0 over one epoch
    assert rates[2] == pytest.approx(0.1) and rates[-1] < 0.01       # then cosine down towards 0
    assert all(a >= b for a, b in zip(rates[2:], rates[3:]))
    with pytest.raises(ConfigError, match=r"unknown learning-rate schedule 'Step' \(registered: Constant, Cosine, "
                                          "Piecewise"):
        build_lr(config_with("Optimizer.lr.name=Step"), 2)
    with pytest.raises(ConfigError, match="unknown key 'Optimizer.lr.learning_rate' .Piecewise takes no"):
        config_with("Optimizer.lr.name=Piecewise", "Optimizer.lr.decay_epochs=[1]", "Optimizer.lr.values=[0.1, 0.01]")
    warm_constant = build_lr(config_with("Optimizer.lr.name=Constant", "Optimizer.lr.warmup_epoch=1"), 2)
    assert lr_at(warm_constant, 4) == pytest.approx([0.0, 0.025, 0.05, 0.05])


@pytest.mark.parametrize("name, expected", [("Momentum", paddle.optimizer.Momentum),
                                            ("Adam", paddle.optimizer.Adam), ("AdamW", paddle.optimizer.AdamW)])
def test_each_optimizer_is_built_and_takes_a_step_downhill(name, expected):
    # Another optimizer replaces the whole section: Momentum's momentum would be unknown to Adam.
    decay = "weight_decay: 0.05" if name == "AdamW" else "regularizer: {name: L2, coeff: 0.0001}"
    config = config_with(f"Optimizer={{name: {name}, lr: {{name: Constant, learning_rate: 0.01}}, {decay}}}")
    weight = paddle.create_parameter([4], "float32", default_initializer=paddle.nn.initializer.Constant(1.0))
    optimizer = build_optimizer(config, [weight], iters_per_epoch=1)
    assert type(optimizer) is expected
    before = float((weight ** 2).sum())
    for _ in range(3):
        (weight ** 2).sum().backward()
        optimizer.step()
        optimizer.clear_grad()
    assert float((weight ** 2).sum()) < before
    if name == "AdamW":
        # Decoupled weight decay: with no gradient at all, a step still shrinks the weights by lr * weight_decay.
        still = paddle.create_parameter([4], "float32", default_initializer=paddle.nn.initializer.Constant(1.0))
        optimizer = build_optimizer(config, [still], iters_per_epoch=1)
        (still * 0.0).sum().backward()
        optimizer.step()
        np.testing.assert_allclose(still.numpy(), 1.0 - 0.01 * 0.05, rtol=1e-6)
        with pytest.raises(ConfigError, match="AdamW decays weights itself"):
            build_optimizer(config_with("Optimizer={name: AdamW, regularizer: {name: L2, coeff: 0.0001}}"), [weight], 1)


def test_celoss_label_smoothing_and_class_weights_match_hand_computed_values():
    logits = np.array([[2.0, 0.5, -1.0, 0.0], [0.1, 0.2, 3.0, -0.5]], np.float32)
    labels = np.array([0, 2])
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    target = np.full((2, 4), 0.1 / 4) + np.eye(4)[labels] * 0.9       # PaddleClas's epsilon: (1 - e) y + e / K
    smoothed = -(target * log_p).sum(axis=1).mean()
    weights = np.array([2.0, 1.0, 0.5, 1.0])
    # Paddle's (and PyTorch's) weighted mean: sum of w_y * loss over sum of w_y.
    weighted = -(weights[labels] * log_p[[0, 1], labels]).sum() / weights[labels].sum()
    as_tensors = paddle.to_tensor(logits), paddle.to_tensor(labels)
    assert float(CELoss(4)(*as_tensors)) == pytest.approx(-log_p[[0, 1], labels].mean(), rel=1e-5)
    assert float(CELoss(4, epsilon=0.1)(*as_tensors)) == pytest.approx(smoothed, rel=1e-5)
    assert float(CELoss(4, class_weight=weights.tolist())(*as_tensors)) == pytest.approx(weighted, rel=1e-5)
    with pytest.raises(ConfigError, match="3 values for 4 classes"):
        CELoss(4, class_weight=[1.0, 1.0, 1.0])


@pytest.mark.skipif(paddle.is_compiled_with_cuda(), reason="this Paddle has CUDA: a GPU request is allowed")
def test_a_gpu_asked_of_a_cpu_build_is_refused_before_training(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=(2, 1))
    config = load_config(TINY, overrides(data, tmp_path / "out", ["Global.device=gpu"]))
    with pytest.raises(ConfigError, match="Global.device is gpu but this Paddle has no CUDA"):
        train(config)
    assert not (tmp_path / "out").exists()


def test_a_gpu_asked_of_a_cpu_onnxruntime_is_refused(inference_dir, tmp_path):
    import onnxruntime

    from deploy.onnx_export import export_onnx
    from deploy.predictor import Predictor

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has CUDA: a GPU request is allowed")
    model = tmp_path / "model"
    model.mkdir()
    for name in ("inference.pdmodel", "inference.pdiparams", "inference.yml"):
        (model / name).write_bytes((inference_dir / name).read_bytes())
    export_onnx(model)
    with pytest.raises(RuntimeError, match="--device gpu, but this onnxruntime has no CUDA"):
        Predictor(model, backend="onnx", device="gpu")
