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
from masker.points_training import TRAINING_FIELDS, build, write_evaluation  # noqa: E402


def main(argv=None) -> int:
    root = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--fer2013", default=str(root.parent / "shared" / "fer2013"),
                   help="fer2013.csv or FER2013's image-folder root: its Training and PublicTest faces")
    p.add_argument("--out", default=str(MODEL), help="the model file; its report goes beside it (.json)")
    p.add_argument("--threads", type=int, default=2, help="dlib's training threads")
    p.add_argument("--evaluate-only", action="store_true",
                   help="re-measure the model already at --out (after a change to how it is run), keeping its "
                        "report's training fields")
    args = p.parse_args(argv)
    out = Path(args.out)
    try:
        if args.evaluate_only:
            if not out.is_file():
                raise ValueError(f"--evaluate-only: no model at {out}")
            earlier = json.loads(out.with_suffix(".json").read_text()) if out.with_suffix(".json").is_file() else {}
            report = write_evaluation({k: earlier[k] for k in TRAINING_FIELDS if k in earlier}, args.fer2013, out)
        else:
            report = build(args.fer2013, out, threads=args.threads)
    except ValueError as error:
        print(f"train_mask_points: error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
