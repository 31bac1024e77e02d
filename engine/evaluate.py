"""Evaluation: top-1 accuracy, report.json, confusion_matrix.png and predictions.csv."""
import csv
import json
from pathlib import Path

import numpy as np
import paddle

from basics import atomic_write_text, written_atomically

from .config import ConfigError
from .data import build_loader, label_list
from .metrics import metric_topk
from .logger import log, setup_logging
from .ensembles import EnsembleModel
from .model import as_deployed, model_with_weights


@paddle.no_grad()
def predict_loader(model, loader):
    """Run `model` (see engine.model.as_deployed) over `loader`: (indices, true labels, probabilities, number of
    unreadable images skipped)."""
    model.eval()
    indices, labels, probs, skipped = [], [], [], 0
    for images, targets, index, bad in loader:
        skipped += int(bad)
        if len(index) == 0:
            continue
        probs.append(model(images).numpy())
        labels.append(targets.numpy())
        indices.append(index.numpy())
    if not probs:
        raise ConfigError("no evaluation image could be read")
    return np.concatenate(indices), np.concatenate(labels), np.concatenate(probs), skipped


def make_report(labels, probs, class_names, topk=(1,)):
    """Accuracy, top-k accuracies, macro F1, per-class precision/recall/F1 and the confusion matrix
    (rows true, columns predicted)."""
    preds = probs.argmax(axis=1)
    ranked = np.argsort(-probs, axis=1)
    k = len(class_names)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (labels, preds), 1)
    per_class = {}
    for c, name in enumerate(class_names):
        tp = matrix[c, c]
        precision = tp / matrix[:, c].sum() if matrix[:, c].sum() else 0.0
        recall = tp / matrix[c].sum() if matrix[c].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {"precision": float(precision), "recall": float(recall), "f1": float(f1),
                           "support": int(matrix[c].sum())}
    return {"accuracy": float(np.trace(matrix) / matrix.sum()),
            "topk": {f"top{n}": float(np.mean([lab in row[:n] for lab, row in zip(labels, ranked)])) for n in topk},
            "macro_f1": float(np.mean([v["f1"] for v in per_class.values()])),
            "per_class": per_class, "labels": list(class_names), "confusion_matrix": matrix.tolist(),
            "images": int(matrix.sum())}


def plot_confusion(report, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.array(report["confusion_matrix"])
    names = report["labels"]
    fig, ax = plt.subplots(figsize=(1.2 * len(names) + 2, 1.2 * len(names) + 1.5))
    ax.imshow(matrix, cmap="Blues")
    for (row, col), count in np.ndenumerate(matrix):
        ax.text(col, row, str(count), ha="center", va="center",
                color="white" if count > matrix.max() / 2 else "black")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"accuracy {report['accuracy']:.3f}, macro F1 {report['macro_f1']:.3f}")
    fig.tight_layout()
    with written_atomically(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


def write_report(report, indices, labels, probs, files, class_names, out_dir):
    """report.json, confusion_matrix.png and predictions.csv (file,true,pred,score) into out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "report.json", json.dumps(report, indent=1))
    plot_confusion(report, out_dir / "confusion_matrix.png")
    with written_atomically(out_dir / "predictions.csv") as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "true", "pred", "score"])
        for index, label, prob in zip(indices, labels, probs):
            pred = int(prob.argmax())
            writer.writerow([files[index], class_names[label], class_names[pred], f"{prob[pred]:.6f}"])


def evaluate_model(model, loader, class_names, out_dir=None, topk=(1,), extra=None):
    """The report of `model` on `loader`, with `extra` entries; its files written into out_dir if given."""
    indices, labels, probs, skipped = predict_loader(model, loader)
    report = {**make_report(labels, probs, class_names, topk), "skipped_unreadable": skipped, **(extra or {})}
    if out_dir is not None:
        write_report(report, indices, labels, probs, loader.dataset.files, class_names, out_dir)
    return report


def member_agreement(labels, member_probs):
    """How an ensemble's members answer the same faces (member_probs: {name: [N, classes]}): each member's accuracy
    alone, the fraction of faces on which each pair gives different classes and on which not all members agree,
    and the fraction that at least one member gets right (what a perfect combination could reach)."""
    preds = {name: probs.argmax(axis=1) for name, probs in member_probs.items()}
    names = list(preds)
    stacked = np.stack([preds[name] for name in names])
    return {"accuracy": {name: float(np.mean(preds[name] == labels)) for name in names},
            "disagree_pairs": {f"{a} / {b}": float(np.mean(preds[a] != preds[b]))
                               for i, a in enumerate(names) for b in names[i + 1:]},
            "disagree_any": float(np.mean((stacked != stacked[0]).any(axis=0))),
            "one_right": float(np.mean((stacked == labels).any(axis=0)))}


def evaluate(config):
    """Evaluate Global.pretrained_model on DataLoader.Eval; writes the report files into output_dir/<Arch>/. For an
    EnsembleModel the report also says how its members answer alone and how often they disagree."""
    model = model_with_weights(config, "evaluation")
    weights = config["Global"].get("pretrained_model") or "the members' weights"
    out_dir = Path(config["Global"].get("output_dir", "./output")) / config["Arch"]["name"]
    setup_logging(out_dir / "eval.log")
    class_names = label_list(config)
    loader = build_loader(config, "Eval", shard=False)
    extra = {}
    if isinstance(model, EnsembleModel):
        answers = {name: predict_loader(as_deployed(net, config), loader)
                   for name, net in zip(model.names, model.members)}
        labels = next(iter(answers.values()))[1]
        extra["members"] = member_agreement(labels, {name: answer[2] for name, answer in answers.items()})
    report = evaluate_model(as_deployed(model, config), loader, class_names, out_dir, metric_topk(config), extra)
    if "members" in report:
        log.info("members alone: %s; they disagree on %.1f %% of the faces (%s); one of them is right on %.4f",
                 ", ".join(f"{name} {acc:.4f}" for name, acc in report["members"]["accuracy"].items()),
                 100 * report["members"]["disagree_any"],
                 ", ".join(f"{pair} {100 * rate:.1f} %" for pair, rate in report["members"]["disagree_pairs"].items()),
                 report["members"]["one_right"])
    log.info("eval %s: top-1 accuracy %.4f, macro F1 %.4f on %d images%s -> %s", weights, report["accuracy"],
             report["macro_f1"], report["images"],
             f" ({report['skipped_unreadable']} unreadable skipped)" if report["skipped_unreadable"] else "",
             out_dir / "report.json")
    return report
