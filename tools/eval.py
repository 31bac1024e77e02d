"""Evaluate a trained model: python tools/eval.py -c CONFIG -o Global.pretrained_model=output/<Arch>/best_model"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cli import run  # noqa: E402

if __name__ == "__main__":
    sys.exit(run("eval", __doc__))
