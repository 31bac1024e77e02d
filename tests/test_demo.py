"""`make demo` end to end on a handful of generated faces: every stage runs and leaves its outputs."""
import json

import cv2

from engine.curves import plot_curves, read_metrics
from tools import demo


def test_demo_runs_every_stage(tmp_path, capsys):
    out = tmp_path / "demo"
    assert demo.main(["--out", str(out), "--per-class", "12", "--epochs", "1", "--workers", "1"]) == 0
    data, run = out / "dataset", out / "output" / "FaceCNN_x0_5"
    manifest = json.loads((data / "manifest.json").read_text())
    assert manifest["coverage"] == 1.0 and (data / "contact_sheet.png").stat().st_size > 0
    train, val = ((data / f"{split}_list.txt").read_text().splitlines() for split in ("train", "val"))
    assert len(train) + len(val) == 48 and val and not set(train) & set(val)
    report = json.loads((run / "report.json").read_text())
    assert report["images"] == 12 and sorted(report["per_class"]) == ["angry", "fear", "happy", "surprise"]
    assert (run / "config.yaml").exists() and (run / "confusion_matrix.png").exists()
    for name in ("inference.pdmodel", "inference.pdiparams", "inference.yml"):
        assert (out / "inference" / name).stat().st_size > 0
    printed = capsys.readouterr().out
    assert "predicting with the exported model" in printed and "eval/angry/" in printed
    # The best epoch is chosen on the validation faces; the test faces are evaluated once, at the end.
    assert "evaluating the best checkpoint on the test faces" in printed
    assert read_metrics(run / "metrics.jsonl")["eval"] and report["images"] == 12   # the 12 eval (test) faces
    # The README's photo and video commands run on these.
    assert cv2.imread(str(out / "astronaut_masked.jpg")).shape == (512, 512, 3)
    clip = cv2.VideoCapture(str(out / "astronaut_masked.mp4"))
    assert clip.isOpened() and int(clip.get(cv2.CAP_PROP_FRAME_COUNT)) == 24
    curves = read_metrics(run / "metrics.jsonl")
    assert curves["eval"] and curves["eval"][0][0] == 1 and curves["train"][-1][0] == 1.0
    assert plot_curves({"demo": run / "metrics.jsonl"}, tmp_path / "curves.png").stat().st_size > 10_000


def test_the_generated_and_the_real_data_demos_write_to_different_folders():
    """`make demo` then `make demo FER2013=...` in one checkout: each has its own folder, so the second does not
    meet the first's dataset (which OutputInUse refused)."""
    generated, real = demo.parse_args([]), demo.parse_args(["--fer2013", "../shared/fer2013"])
    assert demo.output_folder(generated) != demo.output_folder(real)
    assert str(demo.output_folder(demo.parse_args(["--out", "x", "--fer2013", "y"]))) == "x"
