"""Write a config as a PaddleClas checkout reads it: `_base_` files merged in, overrides and Global.dataset
applied, Infer.transforms filled in; nothing left to resolve.

    .venv/bin/python tools/flatten_config.py -c configs/masked_fer/demo.yaml [-o Key.sub=value ...] --out flat.yaml
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from basics import HelpFormatter, UserError  # noqa: E402
from engine.config import dump_config, flatten, load_config  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("-c", "--config", required=True, help="YAML config, with or without _base_")
    parser.add_argument("-o", "--override", action="append", default=[], metavar="Key.sub=value",
                        help="override a config value (YAML-parsed); repeatable")
    parser.add_argument("--out", required=True, help="the flattened YAML file to write")
    args = parser.parse_args(argv)
    try:
        dump_config(flatten(load_config(args.config, args.override)), args.out)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
