"""Training learns: a few epochs of the shipped recipe on real masked FER2013 faces of two classes that the mask
leaves apart (happy against surprise) must lift training and evaluation accuracy well above chance and bring
the loss down. An optimizer step that does nothing, or a loss with the wrong sign, fails here."""
import json

from conftest import ROOT
from engine.config import load_config
from engine.train import train

CONFIG = ROOT / "configs" / "masked_fer" / "FaceCNN_cpu.yaml"
PER_CLASS = 300


def test_a_few_epochs_on_real_masked_faces_learn(fer2013_dir, tmp_path):
    from masker.dataset import RunConfig, build_dataset

    data = tmp_path / "masked"
    build_dataset(RunConfig(fer2013=str(fer2013_dir), classes=("happy", "surprise"), limit=PER_CLASS), data,
                  workers=2, progress=False)
    out = tmp_path / "out"
    # Evaluated on PublicTest's faces (715) rather than the ~50 validation faces of this small sample: nothing is
    # chosen here, and more faces make a steadier check.
    config = load_config(CONFIG, [f"Global.dataset={data}", "Global.eval_split=eval", f"Global.output_dir={out}",
                                  "Global.epochs=5",
                                  "Arch.class_num=2", "Global.use_visualdl=False", "Global.print_batch_step=5",
                                  "DataLoader.Train.sampler.batch_size=32", "Global.flip_average=False"])
    train(config)
    rows = [json.loads(line) for line in (out / "FaceCNN_x0_5" / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in rows if r["kind"] == "eval"]
    steps = [r for r in rows if r["kind"] == "train"]
    assert len(epochs) == 5, rows
    # Chance is 0.5. Measured here: eval top-1 0.583 after the first epoch, 0.658 at best (PublicTest's 415
    # surprise and first 300 happy faces); the thresholds leave room for the seed and the machine.
    assert max(r["top1"] for r in epochs) >= 0.60, epochs
    assert steps[-1]["top1"] >= 0.65, steps[-1]
    assert steps[-1]["loss"] < steps[0]["loss"] - 0.1, (steps[0], steps[-1])
