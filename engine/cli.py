"""The shared command line of tools/train.py, eval.py, infer.py and export_model.py (PaddleClas's flags)."""
import argparse
import json
import signal
import sys

from basics import HelpFormatter, UserError

from .config import load_config
from .logger import setup_logging


def run(command, description):
    parser = argparse.ArgumentParser(description=description, formatter_class=HelpFormatter)
    parser.add_argument("-c", "--config", required=True, help="YAML config, e.g. configs/masked_fer/ResNet18.yaml")
    parser.add_argument("-o", "--override", action="append", default=[], metavar="Key.sub=value",
                        help="override a config value (YAML-parsed); repeatable")
    args = parser.parse_args()
    setup_logging()
    try:
        config = load_config(args.config, args.override)
        if command == "train":
            from .train import train
            train(config)
        elif command == "eval":
            from .evaluate import evaluate
            evaluate(config)
        elif command == "infer":
            from .infer import infer
            results = infer(config)
            for result in results:
                if "error" in result:
                    print(f"skipped {result['file']}: {result['error']}", file=sys.stderr)
                else:
                    print(json.dumps(result))
            if all("error" in result for result in results):
                return 1
        elif command == "export":
            from .export import export
            print(export(config))
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:
        # The shell's code for a process ended by a signal: 130 for Ctrl-C, 143 for SIGTERM.
        return 128 + int(getattr(stop, "signal", signal.SIGINT))
    return 0
