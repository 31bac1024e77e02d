"""Convert an exported Paddle model to ONNX beside it: python tools/export_onnx.py --model-dir inference/"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from basics import HelpFormatter  # noqa: E402
from deploy.onnx_export import export_onnx  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--model-dir", default="inference", help="folder with inference.pdmodel/.pdiparams")
    parser.add_argument("--opset", type=int, default=11, help="ONNX opset (raised automatically if an op needs it)")
    parser.add_argument("--output", help="where to write (default: MODEL_DIR/inference.onnx)")
    args = parser.parse_args(argv)
    try:
        path = export_onnx(args.model_dir, opset=args.opset, output=args.output)
    except FileNotFoundError as err:
        parser.exit(2, f"error: {err}\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
