"""The masked-vs-unmasked study: several models scored on the same eval faces, with and without masks.

Our models are exported inference folders run by the Predictor; the peer is `fer`'s bundled FER2013 model.
The masked and unmasked eval sets come from the same faces (`make_dataset.py` with and without `--no-mask`),
so every row of the table sees the same people.
"""
import json
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from engine.evaluate import make_report


def read_eval_split(data_dir, split="eval"):
    """(relative paths, labels, class names) of one split of a dataset written by tools/make_dataset.py."""
    data_dir = Path(data_dir)
    class_names = [line.split(maxsplit=1)[1] for line in
                   (data_dir / "label_list.txt").read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [line.rsplit(maxsplit=1) for line in
            (data_dir / f"{split}_list.txt").read_text(encoding="utf-8").splitlines() if line.strip()]
    if not rows:
        raise ValueError(f"{data_dir / f'{split}_list.txt'} lists no images")
    return [r[0] for r in rows], np.array([int(r[1]) for r in rows]), class_names


def score_images(scorer, data_dir, paths, batch=256, desc=""):
    """scorer(list of gray images) -> (N, classes) scores, applied in batches with a progress bar."""
    chunks = []
    for start in tqdm(range(0, len(paths), batch), desc=desc, unit="batch", leave=False):
        images = [cv2.imread(str(Path(data_dir) / p), cv2.IMREAD_GRAYSCALE) for p in paths[start:start + batch]]
        missing = [p for p, im in zip(paths[start:start + batch], images) if im is None]
        if missing:
            raise FileNotFoundError(f"unreadable images in {data_dir}: {missing[:3]}")
        chunks.append(np.asarray(scorer(images)))
    return np.concatenate(chunks)


def accuracy_by_style(paths, labels, preds, manifest):
    """Accuracy per mask style, from the style the masker recorded for each written image."""
    hits, counts = defaultdict(int), defaultdict(int)
    for path, label, pred in zip(paths, labels, preds):
        style = manifest["mask_style"][path]["style"]
        counts[style] += 1
        hits[style] += int(label == pred)
    return {style: {"accuracy": hits[style] / counts[style], "images": counts[style]} for style in sorted(counts)}


def run_study(models, masked_dir, unmasked_dir):
    """models: {name: scorer}. Returns {"rows": [...], "by_style": {model: {style: ...}}, "classes": [...]}."""
    masked_paths, masked_labels, classes = read_eval_split(masked_dir)
    unmasked_paths, unmasked_labels, unmasked_classes = read_eval_split(unmasked_dir)
    if classes != unmasked_classes or sorted(masked_paths) != sorted(unmasked_paths):
        raise ValueError(f"{masked_dir} and {unmasked_dir} do not hold the same eval faces and classes: "
                         "make both with the same --fer2013, --classes and --seed")
    manifest = json.loads((Path(masked_dir) / "manifest.json").read_text(encoding="utf-8"))
    rows, by_style = [], {}
    for name, scorer in models.items():
        for condition, data_dir, paths, labels in (("masked", masked_dir, masked_paths, masked_labels),
                                                   ("unmasked", unmasked_dir, unmasked_paths, unmasked_labels)):
            scores = score_images(scorer, data_dir, paths, desc=f"{name}, {condition}")
            report = make_report(labels, scores, classes)
            rows.append({"model": name, "eval faces": condition, **report})
            if condition == "masked":
                by_style[name] = accuracy_by_style(paths, labels, scores.argmax(axis=1), manifest)
    return {"rows": rows, "by_style": by_style, "classes": classes}


def markdown(study):
    classes = study["classes"]
    lines = ["| model | eval faces | accuracy | macro F1 | " + " | ".join(f"recall {c}" for c in classes) + " |",
             "|---|---|---:|---:|" + "---:|" * len(classes)]
    for row in study["rows"]:
        recalls = " | ".join(f"{row['per_class'][c]['recall']:.3f}" for c in classes)
        lines.append(f"| {row['model']} | {row['eval faces']} | {row['accuracy']:.3f} | {row['macro_f1']:.3f} | "
                     f"{recalls} |")
    styles = sorted({s for per_model in study["by_style"].values() for s in per_model})
    lines += ["", "Accuracy on the masked eval faces by mask style (images per style in brackets):", "",
              "| model | " + " | ".join(f"{s} ({next(iter(study['by_style'].values()))[s]['images']})"
                                     for s in styles) + " |",
              "|---|" + "---:|" * len(styles)]
    unseen = study.get("unseen_style", {})
    for name, per_style in study["by_style"].items():
        lines.append(f"| {name} | " + " | ".join(
            f"{per_style[s]['accuracy']:.3f}" + (" (unseen in training)" if unseen.get(name) == s else "")
            for s in styles) + " |")
    return "\n".join(lines) + "\n"
