"""Masks FER2013 faces into dataset/ (layout: docs/architecture.md).

    python tools/make_dataset.py --fer2013 ../shared/fer2013 --out dataset/ --workers 2
    python tools/make_dataset.py --fer2013 ../shared/fer2013 --out dataset/ --workers 2 --engine ray
    python tools/make_dataset.py --synthetic 200 --out dataset/demo_raw      # generated demo faces, unmasked
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from basics import HelpFormatter, unwritable  # noqa: E402
from masker import DEFAULT_CLASSES  # noqa: E402
from masker.dataset import ENGINES, OutputInUse, RunConfig, build_dataset  # noqa: E402
from masker.faces import ModelMissing  # noqa: E402
from masker.readers import parse_classes  # noqa: E402
from masker.templates import STYLES, parse_styles  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--fer2013", help="fer2013.csv or the FER2013 image-folder root (train/, test/)")
    p.add_argument("--out", required=True, help="output folder (dataset/)")
    p.add_argument("--classes", default=",".join(DEFAULT_CLASSES), help="FER2013 classes, in label order")
    p.add_argument("--masks", default=",".join(STYLES), help=f"mask styles to draw from ({', '.join(STYLES)})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1, help="processes (pool) or Ray workers (ray) masking at once")
    p.add_argument("--engine", choices=ENGINES, default="pool",
                   help="pool: processes on this machine; ray: Ray Data's workers, on a local Ray cluster started "
                        "for the run or on the one at --address (both write the same bytes)")
    p.add_argument("--address", help="with --engine ray: a running Ray cluster (default: $RAY_ADDRESS, else a "
                                     "local one); on a cluster, --fer2013 and --out must be on every node")
    p.add_argument("--limit", type=int, help="at most N inputs per split and class (first N by file name)")
    p.add_argument("--no-mask", action="store_true",
                   help="write the same layout without masks (same faces kept and skipped as the masked run)")
    p.add_argument("--hold-out-mask", metavar="STYLE",
                   help="leave this mask style out of the train split (the other splits keep every style), to "
                        "measure accuracy on a style the model never saw")
    p.add_argument("--val-percent", type=int, default=10,
                   help="share of each class's Training faces listed in val_list.txt (the validation split every "
                        "choice is made on) instead of train_list.txt; chosen by a hash of the file name")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier run with other arguments in --out")
    p.add_argument("--synthetic", type=int, metavar="N",
                   help="instead: write N generated faces per class and split in FER2013's folder layout to --out")
    args = p.parse_args(argv)
    if args.synthetic is None and not args.fer2013:
        p.error("give --fer2013 PATH (or --synthetic N)")
    for name in ("workers", "limit", "synthetic"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    if not 0 <= args.val_percent < 100:
        p.error(f"--val-percent must be from 0 to 99, got {args.val_percent}")
    problem = unwritable(args.out, folder=True)
    if problem:
        p.error(f"--out: {problem}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        classes = parse_classes(args.classes)
        if args.synthetic is not None:
            from masker.synthetic import write_synthetic_fer2013
            counts = write_synthetic_fer2013(args.out, args.synthetic, seed=args.seed, classes=classes)
            print(json.dumps(counts))
            return 0
        masks = parse_styles(args.masks)
        train_masks = None
        if args.hold_out_mask:
            if args.hold_out_mask not in masks or len(masks) < 2:
                raise ValueError(f"--hold-out-mask {args.hold_out_mask!r} must be one of --masks "
                                 f"({', '.join(masks)}), and at least one other style must remain")
            train_masks = tuple(m for m in masks if m != args.hold_out_mask)
        config = RunConfig(fer2013=str(Path(args.fer2013).resolve()), classes=classes, masks=masks,
                           seed=args.seed, limit=args.limit, no_mask=args.no_mask, train_masks=train_masks,
                           val_percent=args.val_percent)
        manifest = build_dataset(config, args.out, workers=args.workers, overwrite=args.overwrite,
                                 engine=args.engine, address=args.address)
    except (ValueError, OutputInUse, FileNotFoundError, ModelMissing) as error:
        print(f"make_dataset: error: {error}", file=sys.stderr)
        return 2
    t = manifest["timing"]
    speed = f"{t['images_per_second']} img/s" if t["images_per_second"] else "nothing left to do"
    print(f"written {json.dumps(manifest['written'])}\nof train, listed in val_list.txt (the validation split): "
          f"{json.dumps(manifest['validation'])}\ncoverage {manifest['coverage']:.4f}, "
          f"{len(manifest['skipped'])} skipped, {t['processed']} processed in {t['seconds']} s "
          f"({speed}), {t['resumed']} resumed -> {args.out}")
    if manifest["skipped"]:
        print(f"make_dataset: {len(manifest['skipped'])} inputs skipped; each one's reason is in "
              f"{Path(args.out) / 'manifest.json'} (\"skipped\")", file=sys.stderr)
    for warning in manifest["warnings"]:
        print(f"make_dataset: warning: {warning}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
