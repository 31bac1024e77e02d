"""The masked-vs-unmasked study: our models and a peer on the same masked and unmasked eval faces.

    python tools/study.py --masked-data dataset/masked --unmasked-data dataset/unmasked \
        --model "trained on masked=output/masked/inference" --model "trained on unmasked=inference/unmasked" \
        --out docs/study.md
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from basics import HelpFormatter  # noqa: E402
from studies.peer_fer import FerPeer  # noqa: E402
from deploy.predictor import Predictor  # noqa: E402
from studies.table import markdown, read_eval_split, run_study  # noqa: E402

PEER_NAME = "peer: fer's FER2013 model (TFLite)"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--masked-data", required=True, help="a dataset written by make_dataset.py")
    p.add_argument("--unmasked-data", required=True, help="the same faces written with --no-mask")
    p.add_argument("--model", action="append", default=[], metavar="NAME=MODEL_DIR",
                   help="an exported inference folder to score; repeatable")
    p.add_argument("--unseen-style", action="append", default=[], metavar="NAME=STYLE",
                   help="the mask style model NAME never saw in training (make_dataset --hold-out-mask): marked "
                        "in the by-style table")
    p.add_argument("--no-peer", action="store_true", help="leave out fer's bundled model")
    p.add_argument("--out", default="docs/study.md", help="markdown table; the numbers also go to .json beside it")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    models = {}
    for item in args.model:
        name, sep, model_dir = item.partition("=")
        if not sep:
            print(f"study: --model takes NAME=MODEL_DIR, got {item!r}", file=sys.stderr)
            return 2
        models[name] = Predictor(model_dir, batch_size=64, route=False).predict_probs
    if not args.no_peer:
        _, _, classes = read_eval_split(args.masked_data)
        models[PEER_NAME] = FerPeer(classes).scores
    study = run_study(models, args.masked_data, args.unmasked_data)
    study["unseen_style"] = dict(item.split("=", 1) for item in args.unseen_style)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown(study), encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(study, indent=1), encoding="utf-8")
    print(markdown(study))
    print(f"-> {out}, {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
