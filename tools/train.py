"""Train a model from a PaddleClas-style config: python tools/train.py -c CONFIG [-o Key.sub=value ...]"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cli import run  # noqa: E402

if __name__ == "__main__":
    sys.exit(run("train", __doc__))
