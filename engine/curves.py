"""Training curves (loss, train and eval accuracy) drawn from the train.log files the engine writes."""
import re
from pathlib import Path

TRAIN_LINE = re.compile(r"\[Train\]\[Epoch (\d+)/\d+\]\[Iter (\d+)/(\d+)\] loss: ([\d.]+), top1: ([\d.]+)")
EVAL_LINE = re.compile(r"\[Eval\]\[Epoch (\d+)\] top1: ([\d.]+)")


def read_train_log(path):
    """{'train': [(epoch_float, loss, top1)], 'eval': [(epoch, top1)]}; a resumed run's repeated lines keep the
    last value for each point."""
    train, evals = {}, {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if m := TRAIN_LINE.search(line):
            epoch, it, per_epoch = int(m[1]), int(m[2]), int(m[3])
            train[epoch - 1 + it / per_epoch] = (float(m[4]), float(m[5]))
        elif m := EVAL_LINE.search(line):
            evals[int(m[1])] = float(m[2])
    return {"train": [(x, *train[x]) for x in sorted(train)], "eval": sorted(evals.items())}


def plot_curves(runs, out_png, title="training curves"):
    """runs: {name: train.log path}. Two panels: training loss; train (window) and eval top-1 accuracy."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for (name, log), colour in zip(runs.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        curves = read_train_log(log)
        if not curves["train"]:
            raise ValueError(f"{log} holds no training lines")
        x, loss, top1 = zip(*curves["train"])
        loss_ax.plot(x, loss, color=colour, label=name)
        acc_ax.plot(x, top1, color=colour, alpha=0.45, label=f"{name}: train (print window)")
        if curves["eval"]:
            ex, etop1 = zip(*curves["eval"])
            acc_ax.plot(ex, etop1, "o-", color=colour, label=f"{name}: eval")
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
