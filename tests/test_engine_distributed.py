"""Data parallel training under paddle.distributed.launch with two CPU processes (gloo)."""
import json
import subprocess
import sys
from pathlib import Path

from test_engine_data import make_dataset, overrides

ROOT = Path(__file__).resolve().parents[1]


def test_two_cpu_processes_train_data_parallel(tmp_path):
    data = make_dataset(tmp_path / "data")
    command = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
               "--log_dir", str(tmp_path / "log"), str(ROOT / "tools" / "train.py"),
               "-c", str(ROOT / "configs" / "test" / "tiny.yaml")]
    for item in overrides(data, tmp_path / "out", ["Global.epochs=1"]):
        command += ["-o", item]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    log = (tmp_path / "log" / "workerlog.0").read_text()
    assert result.returncode == 0, result.stdout[-3000:] + log[-3000:]
    # 48 images, batch 8 per rank: each of the 2 ranks takes 3 of the 6 batches.
    assert "3 iterations per epoch on 2 process(es)" in log
    state = json.loads((tmp_path / "out" / "PPLCNet_x0_25" / "latest.json").read_text())
    assert state["epoch"] == 1 and state["step"] == 3


def test_a_distillation_run_trains_data_parallel_with_its_teacher_frozen(tmp_path, inference_dir):
    from test_engine_distill import distill_overrides, inverted_pairs

    data = make_dataset(tmp_path / "data")
    pairs = inverted_pairs(data, tmp_path / "pairs")
    command = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
               "--log_dir", str(tmp_path / "log"), str(ROOT / "tools" / "train.py"),
               "-c", str(ROOT / "configs" / "test" / "tiny.yaml")]
    for item in distill_overrides(data, tmp_path / "out", inference_dir / "inference", pairs, ["Global.epochs=1"]):
        command += ["-o", item]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    log = (tmp_path / "log" / "workerlog.0").read_text()
    assert result.returncode == 0, result.stdout[-3000:] + log[-3000:]
    assert "3 iterations per epoch on 2 process(es)" in log
    import paddle
    trained = paddle.load(str(tmp_path / "out" / "DistillationModel" / "latest.pdparams"))
    teacher = {k.removeprefix("members.0."): v for k, v in trained.items() if k.startswith("members.0.")}
    student = {k.removeprefix("members.1."): v for k, v in trained.items() if k.startswith("members.1.")}
    from engine.config import load_config
    from engine.model import build_model
    from engine.weights import load_weights
    start = build_model(load_config(ROOT / "configs" / "test" / "tiny.yaml", overrides(data, tmp_path / "x")))
    load_weights(start, inference_dir / "inference")
    start = {k: v.numpy() for k, v in start.state_dict().items()}
    # Both started from these weights: the teacher's, BatchNorm statistics too, are still the start; the student's moved.
    assert all((teacher[k].numpy() == start[k]).all() for k in start)
    assert sum(not (student[k].numpy() == start[k]).all() for k in start) > len(start) // 2


SLOW_EVALUATION = """
import runpy, sys, time
sys.path.insert(0, {root!r})
import engine.train

evaluate = engine.train.Run.evaluate


def slow_evaluate(self, epoch, averaged=False):
    if epoch == 1:  # longer than gloo's 30 s, as a view-averaged evaluation with EMA on one CPU thread took
        time.sleep(35)
    return evaluate(self, epoch, averaged)


engine.train.Run.evaluate = slow_evaluate
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_the_other_rank_waits_out_a_long_evaluation_on_rank_0(tmp_path):
    data = make_dataset(tmp_path / "data")
    script = tmp_path / "slow_evaluation.py"
    script.write_text(SLOW_EVALUATION.format(root=str(ROOT)))
    command = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
               "--log_dir", str(tmp_path / "log"), str(script), str(ROOT / "tools" / "train.py"),
               "-c", str(ROOT / "configs" / "test" / "tiny.yaml")]
    for item in overrides(data, tmp_path / "out", ["Global.epochs=2"]):
        command += ["-o", item]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=400)
    logs = "".join((tmp_path / "log" / f"workerlog.{rank}").read_text()[-2000:] for rank in (0, 1))
    assert result.returncode == 0, result.stdout[-2000:] + logs
    state = json.loads((tmp_path / "out" / "PPLCNet_x0_25" / "latest.json").read_text())
    assert state["epoch"] == 2 and state["step"] == 6
