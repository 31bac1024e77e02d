"""Training curves (loss, train and eval accuracy) drawn from the metrics.jsonl files the engine writes."""
import json
from pathlib import Path


def read_metrics(path):
    """{'train': [(epoch_float, loss, top1 or None)], 'eval': [(epoch, top1)], 'eval_ema': [(epoch, top1)] (the
    EMA weights', empty for runs without EMA)}; a resumed run's repeated records keep the last value for each point."""
    train, evals = {}, {"eval": {}, "eval_ema": {}}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise ValueError(f"{path}:{number} is not a JSON line") from None
        if record.get("kind") == "train":
            train[record["epoch_float"]] = (record["loss"], record.get("top1"))
        elif record.get("kind") in evals:
            evals[record["kind"]][record["epoch"]] = record["top1"]
    return {"train": [(x, *train[x]) for x in sorted(train)], **{k: sorted(v.items()) for k, v in evals.items()}}


def plot_curves(runs, out_png, title="training curves"):
    """runs: {name: metrics.jsonl path}. Two panels: training loss; train (window) and eval top-1 accuracy, of the
    EMA weights too where the run kept them (no train accuracy for runs whose batch ops mix the targets)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for (name, log), colour in zip(runs.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        curves = read_metrics(log)
        if not curves["train"]:
            raise ValueError(f"{log} holds no training records")
        x, loss, top1 = zip(*curves["train"])
        loss_ax.plot(x, loss, color=colour, label=name)
        if None not in top1:
            acc_ax.plot(x, top1, color=colour, alpha=0.45, label=f"{name}: train (print window)")
        for kind, style, label in (("eval", "o-", "eval"), ("eval_ema", "s--", "eval, EMA weights")):
            if curves[kind]:
                ex, etop1 = zip(*curves[kind])
                acc_ax.plot(ex, etop1, style, color=colour, label=f"{name}: {label}")
    loss_ax.set(xlabel="epoch", ylabel="training loss", title="loss")
    acc_ax.set(xlabel="epoch", ylabel="top-1 accuracy", title="accuracy")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return out_png
