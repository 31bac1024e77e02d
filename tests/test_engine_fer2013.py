"""The shipped recipe on real data: mask FER2013's four classes, train configs/masked_fer/FaceCNN_cpu.yaml (about
70 minutes on one core here), evaluate on the masked PublicTest faces.

Marked slow. Set MASKED_DATASET to a folder tools/make_dataset.py already wrote to skip the masking step."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import load_config
from engine.train import train

ROOT = Path(__file__).resolve().parents[1]
# This recipe from scratch reached 0.687 here on 2026-11-25 (0.697 with the view averaging now in the config;
# README, Results; the shipped model is now its distilled student, 0.701); less a margin for another seed and
# machine.
MIN_ACCURACY = 0.66


@pytest.mark.slow
def test_shipped_recipe_on_masked_fer2013(fer2013_dir, tmp_path):
    data = Path(os.environ.get("MASKED_DATASET", tmp_path / "dataset"))
    if not (data / "train_list.txt").is_file():
        subprocess.run([sys.executable, str(ROOT / "tools" / "make_dataset.py"), "--fer2013", str(fer2013_dir),
                        "--out", str(data), "--workers", "2"],   # as `make data`
                       check=True, cwd=ROOT)
    config = load_config(ROOT / "configs" / "masked_fer" / "FaceCNN_cpu.yaml", [
        f"DataLoader.Train.dataset.image_root={data}", f"DataLoader.Train.dataset.cls_label_path={data}/train_list.txt",
        f"DataLoader.Eval.dataset.image_root={data}", f"DataLoader.Eval.dataset.cls_label_path={data}/eval_list.txt",
        f"Infer.PostProcess.class_id_map_file={data}/label_list.txt", f"Global.output_dir={tmp_path / 'output'}",
        "Global.use_visualdl=False"])
    run_dir = train(config)
    report = json.loads((run_dir / "report.json").read_text())
    assert report["images"] == 2273 and report["accuracy"] > MIN_ACCURACY, report
