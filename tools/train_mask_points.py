"""Trains the masker's six-point predictor (masker/models/mask_points.dat) on FER2013, labelled by dlib's
68-point model, and writes beside it a report of how closely the two agree on the PublicTest faces.

    python tools/train_mask_points.py --fer2013 ../shared/fer2013
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from basics import HelpFormatter  # noqa: E402
from masker.points import MODEL  # noqa: E402
from masker.points_training import build  # noqa: E402


def main(argv=None) -> int:
    root = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--fer2013", default=str(root.parent / "shared" / "fer2013"),
                   help="fer2013.csv or FER2013's image-folder root: its Training and PublicTest faces")
    p.add_argument("--out", default=str(MODEL), help="the model file; its report goes beside it (.json)")
    p.add_argument("--threads", type=int, default=2, help="dlib's training threads")
    args = p.parse_args(argv)
    try:
        report = build(args.fer2013, Path(args.out), threads=args.threads)
    except ValueError as error:
        print(f"train_mask_points: error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
