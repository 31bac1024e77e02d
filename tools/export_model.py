"""Export for deployment: python tools/export_model.py -c CONFIG -o Global.pretrained_model=...
-o Global.save_inference_dir=inference/"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cli import run  # noqa: E402

if __name__ == "__main__":
    sys.exit(run("export", __doc__))
