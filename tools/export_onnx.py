"""Convert an exported Paddle model to ONNX beside it: python tools/export_onnx.py --model-dir inference/

The folder's unmasked/, face_status/ and fused/ models, where it has them, are converted too (the predictor routes
through them on every backend)."""
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
    from deploy.predictor import FACE_STATUS_MODEL, FUSED_MODEL, UNMASKED_MODEL

    folders = [Path(args.model_dir)]
    if not args.output:
        folders += [Path(args.model_dir) / name for name in (UNMASKED_MODEL, FACE_STATUS_MODEL, FUSED_MODEL)
                    if (Path(args.model_dir) / name / "inference.pdmodel").is_file()]
    try:
        for folder in folders:
            print(f"wrote {export_onnx(folder, opset=args.opset, output=args.output)}")
    except FileNotFoundError as err:
        parser.exit(2, f"error: {err}\n")


if __name__ == "__main__":
    main()
