"""Which views to average in the exported graph (Global.view_average): each candidate set measured on the same
evaluation faces, loaded once, with the same weights (tools/choose_views.py)."""
import numpy as np
import paddle

from engine.data import build_loader, label_list
from engine.evaluate import make_report
from engine.model import DeployedModel, build_model
from engine.views import check_views
from engine.weights import load_weights

# Centred crops of 80-95 % of the side and moves of 2 px: the views whose average the issue measured at +0.9.
CANDIDATES = {
    "none": [],
    "crop 90 %": [[0.9, 0, 0]],
    "crops 80-95 %": [[0.8, 0, 0], [0.85, 0, 0], [0.9, 0, 0], [0.95, 0, 0]],
    "moves of 2 px": [[1.0, 2, 0], [1.0, -2, 0], [1.0, 0, 2], [1.0, 0, -2]],
    "crops 80-95 % and moves of 2 px": [[0.8, 0, 0], [0.85, 0, 0], [0.9, 0, 0], [0.95, 0, 0],
                                        [1.0, 2, 0], [1.0, -2, 0], [1.0, 0, 2], [1.0, 0, -2]],
    "crop 90 % moved by 2 px": [[0.9, 0, 0], [0.9, 2, 0], [0.9, -2, 0], [0.9, 0, 2], [0.9, 0, -2]],
}


@paddle.no_grad()
def view_accuracies(config, weights, candidates=CANDIDATES) -> dict:
    """{name: {accuracy, macro_f1, fear recall, views}} for each candidate view set (mirror averaging as the
    config says), on DataLoader.Eval."""
    model = build_model(config)
    load_weights(model, weights)
    model.eval()
    batches = [(images, targets.numpy()) for images, targets, index, _ in build_loader(config, "Eval", shard=False)
               if len(index)]
    labels = np.concatenate([t for _, t in batches])
    names = label_list(config)
    results = {}
    for name, views in candidates.items():
        deployed = DeployedModel(model, bool(config["Global"].get("flip_average")), check_views(views))
        deployed.eval()
        probs = np.concatenate([deployed(images).numpy() for images, _ in batches])
        report = make_report(labels, probs, names)
        results[name] = {"accuracy": round(report["accuracy"], 4), "macro_f1": round(report["macro_f1"], 4),
                         "recall": {c: round(report["per_class"][c]["recall"], 3) for c in names},
                         "views": len(views) + 1}
    return results
