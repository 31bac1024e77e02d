"""Measure candidate view sets for Global.view_average on a config's evaluation faces.

    .venv/bin/python tools/choose_views.py -c configs/masked_fer/FaceCNN_cpu.yaml \
        -o Global.pretrained_model=inference/inference [--out docs/views.json]

Global.pretrained_model may be a training checkpoint or an exported model's prefix (inference/inference).
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from basics import HelpFormatter, UserError, atomic_write_text  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("-c", "--config", required=True)
    p.add_argument("-o", "--override", action="append", default=[], metavar="Key.sub=value")
    p.add_argument("--out", help="also write the results as JSON here")
    args = p.parse_args(argv)
    from engine.config import load_config
    from studies.views import view_accuracies

    try:
        config = load_config(args.config, args.override)
        weights = config["Global"].get("pretrained_model")
        if not weights:
            raise UserError("give the weights: -o Global.pretrained_model=inference/inference (or a checkpoint)")
        results = view_accuracies(config, weights)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for name, r in results.items():
        print(f"{name:<36} views {r['views']:>2}  top-1 {r['accuracy']:.4f}  macro F1 {r['macro_f1']:.4f}  "
              f"recall {r['recall']}")
    if args.out:
        atomic_write_text(args.out, json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
