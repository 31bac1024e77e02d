"""Writes the face-status model's data set (masked / unmasked / no_face), in make_dataset.py's layout.

    .venv/bin/python tools/make_face_status_data.py --realmask ../shared/realmask --out dataset/face_status

Faces: what the face finder finds in the tuning part of realmask/photos (deploy/face_status_data.py's split; the
held-out part and webcam/ are never read), labelled by the annotated box they match, or no_face; plus drawn-mask
and plain FER2013 Training faces from `make data`'s folders. Each face is the finder's crop at the model's input
size, in grey like FER2013's: with few real unmasked faces (76 in the tuning photos), colour alone would tell a
real photo's face (mostly masked) from a FER2013 one.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from basics import HelpFormatter, UserError  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--realmask", required=True, help="the realmask folder (boxes.csv, photos/)")
    p.add_argument("--masked-data", default="dataset/masked", help="make data's masked faces")
    p.add_argument("--unmasked-data", default="dataset/unmasked", help="make data's unmasked faces")
    p.add_argument("--fer-per-class", type=int, default=1500,
                   help="FER2013 Training faces taken from each of the two folders")
    p.add_argument("--out", default="dataset/face_status", help="the data set folder to write")
    args = p.parse_args(argv)
    if args.fer_per_class < 0:
        p.error("--fer-per-class must be 0 or more")
    from deploy.face_status_data import write_face_status_data
    try:
        counts = write_face_status_data(args.realmask, args.masked_data, args.unmasked_data, args.fer_per_class,
                                        args.out)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"written {counts} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
