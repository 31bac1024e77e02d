"""Generated demo faces: FER2013 layout, reproducible, maskable, and learnable from the masked upper face."""
import cv2
import numpy as np
import pytest
from sklearn.linear_model import RidgeClassifier

from masker.dataset import RunConfig, build_dataset
from masker.synthetic import EXPRESSIONS, synthetic_face, write_synthetic_fer2013

CLASSES = ("angry", "fear", "happy", "surprise")


def test_layout_names_and_counts(tmp_path):
    counts = write_synthetic_fer2013(tmp_path, per_class=5, seed=0)
    assert counts == {"train": {c: 5 for c in CLASSES}, "test": {c: 1 for c in CLASSES}}
    for c in CLASSES:
        names = sorted(p.name for p in (tmp_path / "train" / c).iterdir())
        assert len(names) == 5 and all(n.startswith("Training_") and n.endswith(".jpg") for n in names)
        (test_name,) = [p.name for p in (tmp_path / "test" / c).iterdir()]
        assert test_name.startswith("PublicTest_")
        image = cv2.imread(str(tmp_path / "train" / c / names[0]), cv2.IMREAD_UNCHANGED)
        assert image.shape == (48, 48) and image.dtype == np.uint8


def test_same_seed_same_bytes_other_seed_other_faces(tmp_path):
    for name, seed in (("a", 4), ("b", 4), ("c", 5)):
        write_synthetic_fer2013(tmp_path / name, per_class=3, seed=seed)
    read = lambda root: {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*.jpg"))}
    assert read(tmp_path / "a") == read(tmp_path / "b")
    assert read(tmp_path / "a") != read(tmp_path / "c")


def test_a_smaller_second_call_leaves_only_its_own_faces(tmp_path):
    write_synthetic_fer2013(tmp_path, per_class=6, seed=0)
    (tmp_path / "train" / "angry" / "mine.txt").write_text("not generated: kept")
    write_synthetic_fer2013(tmp_path, per_class=2, seed=0)
    assert len(list(tmp_path.glob("train/*/*.jpg"))) == 8 and len(list(tmp_path.glob("test/*/*.jpg"))) == 4
    assert (tmp_path / "train" / "angry" / "mine.txt").exists()


def test_faces_vary_within_a_class():
    faces = np.stack([synthetic_face("fear", np.random.default_rng(i)).astype(float) for i in range(20)])
    assert faces.std(axis=0).mean() > 15


def test_bad_arguments_are_errors(tmp_path):
    with pytest.raises(ValueError, match="no synthetic expression for \\['neutral'\\]"):
        write_synthetic_fer2013(tmp_path, 2, classes=("angry", "neutral"))
    with pytest.raises(ValueError, match="at least 1"):
        write_synthetic_fer2013(tmp_path, 0)


def test_masker_covers_all_generated_faces_and_the_expression_survives_the_mask(tmp_path):
    write_synthetic_fer2013(tmp_path / "raw", per_class=100, seed=0)
    manifest = build_dataset(RunConfig(fer2013=str(tmp_path / "raw"), classes=CLASSES), tmp_path / "ds",
                             workers=2, progress=False)
    assert manifest["coverage"] == 1.0

    def load(split):
        rows = [line.split() for line in (tmp_path / "ds" / f"{split}_list.txt").read_text().splitlines()]
        x = np.stack([cv2.imread(str(tmp_path / "ds" / rel), cv2.IMREAD_GRAYSCALE).ravel() / 255.0
                      for rel, _ in rows])
        return x, np.array([int(label) for _, label in rows])

    x_train, y_train = load("train")
    x_eval, y_eval = load("eval")
    # Even a linear model on raw masked pixels beats chance (0.25) by far; a CNN does better. The run is seeded
    # and measured 0.53 on its 100 eval faces (2026-12-02); the floor is one standard error (0.05) below, for a
    # masker or library change that moves a few faces, while a masker that wipes the expression (chance) fails.
    accuracy = RidgeClassifier(alpha=10.0).fit(x_train, y_train).score(x_eval, y_eval)
    assert accuracy >= 0.48, accuracy
    assert set(EXPRESSIONS) == set(CLASSES)
