"""Put an exported model into the Android app (deploy/android/app), and prove Paddle Lite can run it on an ARM
phone: the steps are deploy/android/package_model.py's.

    python tools/package_android.py --model-dir inference/ [--app deploy/android/app] [--nb-dir DIR] [--check]
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from basics import HelpFormatter, UserError  # noqa: E402
from deploy.android.package_model import (ANDROID_DIR, CHECK_TOLERANCE, DETECTOR_TOLERANCE, MODEL_NAME,  # noqa: E402
                                          check_detector_lite_runtime, check_lite_runtime, check_photos,
                                          package_model, photo_faces)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--model-dir", required=True, help="exported model folder (tools/export_model.py)")
    parser.add_argument("--app", default=str(ANDROID_DIR / "app"), help="the Android app module")
    parser.add_argument("--nb-dir", default=str(ANDROID_DIR / "paddle_lite"),
                        help=f"where {MODEL_NAME}.nb (Paddle Lite's ARM model) is written")
    parser.add_argument("--paddle-lite-opt", help="path of paddle_lite_opt (default: .venv310's)")
    parser.add_argument("--check", action="store_true",
                        help="also run the model in Paddle Lite's own runtime (x86 build) and compare with Paddle "
                             "Inference on real faces")
    args = parser.parse_args(argv)
    try:
        result = package_model(args.model_dir, args.app, args.nb_dir, args.paddle_lite_opt)
        if args.check:
            faces = photo_faces()
            difference = check_lite_runtime(args.model_dir, faces, args.paddle_lite_opt)
            photos = check_photos()
            detector = check_detector_lite_runtime(photos, args.paddle_lite_opt)
    except (UserError, FileNotFoundError) as err:
        sys.exit(f"error: {err}")
    print(f"Paddle Lite (ARM) supports all {len(result.ops.supported)} op types of the model: "
          + ", ".join(sorted(result.ops.supported)))
    for path in result.assets:
        print(f"asset   {path}")
    print(f"nb      {result.nb_file} ({result.nb_file.stat().st_size} bytes)")
    if args.check:
        print(f"check   Paddle Lite's runtime (x86 build) matches Paddle Inference on {len(faces)} real faces: "
              f"largest difference {difference:.1e} (tolerance {CHECK_TOLERANCE:g})")
        for name, value in detector.items():
            print(f"check   {name}: Paddle Lite's runtime (x86 build) matches the .tflite on {len(photos)} "
                  f"photos: largest relative difference {value:.1e} (tolerance {DETECTOR_TOLERANCE:g})")


if __name__ == "__main__":
    main()
