"""Classify images: python tools/infer.py -c CONFIG -o Infer.infer_imgs=path/or/dir -o Global.pretrained_model=..."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cli import run  # noqa: E402

if __name__ == "__main__":
    sys.exit(run("infer", __doc__))
