"""Fail loudly, at setup time, on the installation problems that otherwise fail quietly later."""
import importlib.metadata as metadata
import importlib.util
import subprocess
import sys
from pathlib import Path

PINS = {"paddlepaddle": "2.6.2", "paddleclas": "2.6.0", "paddle2onnx": "1.3.1"}


def main() -> int:
    problems = []
    for name, version in PINS.items():
        try:
            found = metadata.version(name)
        except metadata.PackageNotFoundError:
            found = None
        if found != version:
            problems.append(f"{name}=={version} expected, found {found}")
    setuptools_major = int(metadata.version("setuptools").split(".")[0])
    if setuptools_major >= 82:
        problems.append("setuptools>=82 removes pkg_resources: `import face_recognition` then exits with status 0")
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None:
        problems.append("face_recognition_models is missing: pip install --no-deps -r requirements-nodeps.txt")
    else:
        landmarks = Path(spec.submodule_search_locations[0]) / "models" / "shape_predictor_68_face_landmarks.dat"
        if not landmarks.is_file():
            problems.append(f"the 68-point landmark model is missing: {landmarks}")
    mask_points = Path(__file__).resolve().parents[1] / "masker" / "models" / "mask_points.dat"
    if not mask_points.is_file():
        problems.append(f"the masker's six-point model is missing: {mask_points} (it is part of the checkout)")
    # The face finder: its models and the runtime that runs them, in a child (tflite-runtime is compiled code).
    child = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                            "from deploy.faces import FULL_RANGE, FaceFinder, blazeface; FaceFinder(); "
                            "blazeface(FULL_RANGE, 0, (224, 320))", str(Path(__file__).resolve().parents[1])],
                           capture_output=True, text=True)
    if child.returncode != 0:
        problems.append(f"the face finder does not load (status {child.returncode}): {child.stderr[-400:]}")
    # scikit-learn 1.8+ imported after paddle 2.6.2 segfaults; check in a child so a crash is reported, not fatal.
    child = subprocess.run([sys.executable, "-c", "import paddle, sklearn, dlib"], capture_output=True, text=True)
    if child.returncode != 0:
        problems.append(f"`import paddle, sklearn, dlib` failed (status {child.returncode}): {child.stderr[-400:]}")
    for problem in problems:
        print(f"check_env: {problem}", file=sys.stderr)
    if not problems:
        print("check_env: paddle, paddleclas, paddle2onnx, dlib, the landmark models and the face finder are in place")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
