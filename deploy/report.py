"""The rows of a run, for people and programs: the terminal table, CSV and JSON (tools/predict.py's output)."""
import csv
import json
from pathlib import Path

from basics import atomic_write_text, written_atomically


def prediction_row(file, prediction, face=None, box=None, **extra) -> dict:
    """One output row: the file, the face's index and box (None for a whole image), every class's score, extra
    columns (a video's frame, time, track, and its scores averaged over the track) and the Prediction's fields."""
    return {"file": str(file), "face": face, "box": list(box) if box else None,
            "scores": [float(p) for p in prediction.probs], **extra, **prediction.to_dict()}


def format_table(rows, errors=()) -> str:
    """The terminal table: file (face), label, score, then the rest of the top-k."""
    lines = []
    width = max([len(Path(r["file"]).name) + 4 for r in rows] + [len(e["file"]) for e in errors] + [4])
    lines.append(f"{'file':<{width}}  {'label':<10} {'score':>6}  top-k")
    for r in rows:
        name = Path(r["file"]).name + (f" #{r['face']}" if r["face"] is not None else "")
        if "frame" in r:
            name = f"frame {r['frame']} #{r['face']}"
        rest = "  ".join(f"{label} {score:.3f}" for label, score in r["topk"][1:])
        mask = "" if r.get("masked") is None else \
            f"  [{'masked' if r['masked'] else 'unmasked'} {r['mask_score']:.2f}, {r['expression_model']} model]"
        lines.append(f"{name:<{width}}  {r['label']:<10} {r['score']:6.3f}  {rest}{mask}")
    lines += [f"{e['file']:<{width}}  ERROR: {e['error']}" for e in errors]
    return "\n".join(lines)


def write_csv(path, rows, topk: int):
    """One row per prediction: file, face, frame, box, masked, mask_score and expression_model (the model that
    answered: masked or unmasked; empty without a face-status model), label, score, then top{k}_label/top{k}_score."""
    columns = ["file", "face", "frame", "left", "top", "right", "bottom", "masked", "mask_score", "expression_model",
               "label", "score"]
    columns += [f"top{k}_{what}" for k in range(1, topk + 1) for what in ("label", "score")]
    with written_atomically(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        for r in rows:
            out = {"file": r["file"], "face": r["face"], "frame": r.get("frame"), "label": r["label"],
                   "score": f"{r['score']:.6f}"}
            if r.get("masked") is not None:
                out["masked"], out["mask_score"] = int(r["masked"]), f"{r['mask_score']:.6f}"
                out["expression_model"] = r["expression_model"]
            if r["box"]:
                out.update(zip(("left", "top", "right", "bottom"), r["box"]))
            for k, (label, score) in enumerate(r["topk"], 1):
                out[f"top{k}_label"], out[f"top{k}_score"] = label, f"{score:.6f}"
            writer.writerow(out)


def write_json(path, rows, errors=(), **meta):
    atomic_write_text(path, json.dumps({**meta, "predictions": rows, "errors": list(errors)}, indent=1))
