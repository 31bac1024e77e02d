"""Generated data for the engine tests: tiny 48x48 gray faces-like images in the dataset/ layout."""
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
