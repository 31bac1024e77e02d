"""Draw training curves from the metrics.jsonl files of engine runs.

    python tools/plot_curves.py --run masked=output/masked/FaceCNN_x1_0/metrics.jsonl \
        --run unmasked=output/unmasked/FaceCNN_x1_0/metrics.jsonl --out docs/training_curves.png
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from basics import HelpFormatter  # noqa: E402
from engine.curves import plot_curves  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--run", action="append", required=True, metavar="NAME=METRICS_JSONL")
    p.add_argument("--out", default="docs/training_curves.png")
    p.add_argument("--title", default="FaceCNN_x0_5 on FER2013's four classes", help="the figure's title")
    args = p.parse_args(argv)
    runs = dict(item.split("=", 1) for item in args.run)
    print(plot_curves(runs, args.out, args.title))
    return 0


if __name__ == "__main__":
    sys.exit(main())
