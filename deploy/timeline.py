"""Expression timelines of a video: one CSV row per frame and face, and a picture of each face's scores over time
with the share of time it spent in each expression."""
import csv
from collections import Counter

import numpy as np

from basics import written_atomically


def write_timeline_csv(path, rows, labels):
    """time, frame, track, box, then one score column per class (smoothed when the run smooths)."""
    with written_atomically(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time", "frame", "track", "left", "top", "right", "bottom", *labels])
        for r in rows:
            writer.writerow([r["time"], r["frame"], r["track"], *r["box"], *(f"{s:.6f}" for s in r["scores"])])


def expression_shares(rows, labels) -> dict:
    """{track: {label: share of the track's frames in which it was the top class}}."""
    counts = {}
    for r in rows:
        counts.setdefault(r["track"], Counter())[labels[int(np.argmax(r["scores"]))]] += 1
    return {track: {label: c[label] / sum(c.values()) for label in labels} for track, c in sorted(counts.items())}


def plot_timeline(path, rows, labels, title="expressions over time", max_tracks=6):
    """Per track (the longest max_tracks), its class scores over time; beside them, the share of time in each
    expression."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frames = Counter(r["track"] for r in rows)
    tracks = sorted(track for track, _ in frames.most_common(max_tracks))
    if not tracks:
        raise ValueError("no face was seen in the video: there is no timeline to draw")
    shares = expression_shares(rows, labels)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fig, axes = plt.subplots(len(tracks), 2, figsize=(11, 2.2 * len(tracks) + 0.8), squeeze=False,
                             gridspec_kw={"width_ratios": [4, 1]})
    for (line_ax, share_ax), track in zip(axes, tracks):
        own = [r for r in rows if r["track"] == track]
        times = [r["time"] for r in own]
        scores = np.array([r["scores"] for r in own])
        for c, label in enumerate(labels):
            line_ax.plot(times, scores[:, c], color=colours[c % len(colours)], label=label)
        line_ax.set(ylim=(0, 1), ylabel=f"face {track}\nscore")
        line_ax.grid(alpha=0.3)
        share_ax.barh(labels, [shares[track][label] for label in labels],
                      color=[colours[c % len(colours)] for c in range(len(labels))])
        share_ax.set(xlim=(0, 1))
        share_ax.invert_yaxis()
    axes[0][0].legend(ncol=len(labels), fontsize=8, loc="upper right")
    axes[0][0].set_title(title)
    axes[0][1].set_title("share of time")
    axes[-1][0].set_xlabel("time (s)")
    fig.tight_layout()
    with written_atomically(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return path
