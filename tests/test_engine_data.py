"""Generated data for the engine tests (tiny 48x48 gray images in the dataset/ layout), and the dataset itself."""
from pathlib import Path

import cv2
import numpy as np

CLASSES = ["angry", "fear", "happy", "surprise"]


def make_dataset(root, per_class=(12, 4)):
    """train/eval images whose class is a bright bar in one of four positions, plus lists and label map."""
    root = Path(root)
    rng = np.random.default_rng(0)
    for split, count in zip(("train", "eval"), per_class):
        lines = []
        for label, name in enumerate(CLASSES):
            (root / split / name).mkdir(parents=True, exist_ok=True)
            for i in range(count):
                img = rng.integers(0, 60, (48, 48), dtype=np.uint8)
                img[label * 12:label * 12 + 10, 8:40] = 230
                rel = f"{split}/{name}/{split}_{i}.jpg"
                cv2.imwrite(str(root / rel), img)
                lines.append(f"{rel} {label}")
        (root / f"{split}_list.txt").write_text("\n".join(lines) + "\n")
    (root / "label_list.txt").write_text("".join(f"{i} {n}\n" for i, n in enumerate(CLASSES)))
    return root


def overrides(data, out, extra=()):
    return [f"DataLoader.Train.dataset.image_root={data}", f"DataLoader.Train.dataset.cls_label_path={data}/train_list.txt",
            f"DataLoader.Eval.dataset.image_root={data}", f"DataLoader.Eval.dataset.cls_label_path={data}/eval_list.txt",
            f"Infer.PostProcess.class_id_map_file={data}/label_list.txt", f"Global.output_dir={out}", *extra]


def test_dataset_returns_normalised_chw_and_reproducible_augmentation(tmp_path):
    from engine.config import load_config
    from engine.data import build_loader

    data = make_dataset(tmp_path, per_class=(2, 1))
    config = load_config(Path(__file__).resolve().parents[1] / "configs" / "test" / "tiny.yaml", overrides(data, tmp_path))
    dataset = build_loader(config, "Train").dataset
    image, label, index = dataset[5]
    assert image.shape == (3, 48, 48) and image.dtype == np.float32
    assert -1.0 <= image.min() and image.max() <= 1.0 and label == 2 and index == 5
    again = dataset[5][0]
    dataset.set_epoch(1)
    other_epoch = dataset[5][0]
    np.testing.assert_array_equal(image, again)
    assert not np.array_equal(image, other_epoch)
