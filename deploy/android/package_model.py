"""Put an exported model into the Android app, and prove Paddle Lite can run it on an ARM phone
(tools/package_android.py is its command line).

1. Copies inference.pdmodel / inference.pdiparams / inference.yml into the app's assets under the names
   FastDeploy's Android SDK demo loads (models/<name>/inference.pdmodel, inference.pdiparams,
   inference_cls.yaml) and writes the labels, one per line, to labels/<name>_labels.txt, and the graph's heads,
   "name start end" a line, to labels/<name>_heads.txt (Heads.java). A fused model's (inference/fused/: face
   status and both expression heads) config asks for every class's score, so that the app reads each head.
2. Runs Paddle Lite's `paddle_lite_opt` (the cp310 wheel in .venv310) with --valid_targets=arm: it must list
   every op of the model as supported, else this command fails and names the unsupported ops.
3. Writes the optimized <name>.nb for apps that use Paddle Lite's own Java API (MobileConfig).
4. Converts the face finder's two BlazeFace models (face_detector.py) and writes them as ARM .nb assets
   (models/face_detector/<model>.nb), which the app's FaceFinder.java runs with Paddle Lite's Java API.
5. With --check, also builds the models for x86 with the same optimizer and runs them with Paddle Lite's own
   runtime (MobileConfig, deploy/android/lite_runtime.py, in .venv310): the expression model on faces cropped
   from real photos, within 1e-4 of Paddle Inference; the face finder's models on real photos, within 1e-3
   (relative) of their .tflite. The ARM build itself needs a phone to run.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from basics import UserError, atomic_write_text, written_atomically
from deploy.android import face_detector
from deploy.preprocess import Preprocess, read_inference_config

ANDROID_DIR = Path(__file__).resolve().parent
ROOT = ANDROID_DIR.parents[1]

# The names the app (ExpressionClassifier.java) reads; tests check both sides agree.
MODEL_NAME = "fer_expression"
MODEL_ASSET_DIR = f"models/{MODEL_NAME}"
LABELS_ASSET = f"labels/{MODEL_NAME}_labels.txt"
HEADS_ASSET = f"labels/{MODEL_NAME}_heads.txt"
MODEL_FILES = {"inference.pdmodel": "inference.pdmodel", "inference.pdiparams": "inference.pdiparams",
               "inference.yml": "inference_cls.yaml"}


class PackagingError(UserError, RuntimeError):
    """The model cannot go to the phone as it is; the message says why and what to do."""


@dataclass
class OpSupport:
    supported: dict  # op name -> targets with a kernel for it (e.g. ["kARM"]); empty list = unsupported
    verdict: str

    @property
    def unsupported(self) -> list:
        return sorted(op for op, targets in self.supported.items() if not targets)


@dataclass
class PackageResult:
    assets: list  # paths written under the app's assets
    nb_file: Path
    ops: OpSupport


def find_paddle_lite_opt() -> str:
    """paddle_lite_opt beside this interpreter, in .venv310, or on PATH."""
    for candidate in (Path(sys.executable).parent / "paddle_lite_opt", ROOT / ".venv310" / "bin" / "paddle_lite_opt"):
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("paddle_lite_opt")
    if found:
        return found
    raise PackagingError("paddle_lite_opt not found: it comes with the paddlelite==2.13rc0 wheel (cp310 only); "
                         "run `make setup` to build .venv310, or pass --paddle-lite-opt")


def parse_model_ops(output: str) -> OpSupport:
    """Read `paddle_lite_opt --print_model_ops=true`'s table: one row per op, a right-aligned Y per target."""
    lines = output.splitlines()
    header_index = next((i for i, line in enumerate(lines) if line.strip().startswith("OP_name")), None)
    if header_index is None:
        raise PackagingError(f"paddle_lite_opt printed no op table:\n{output[-2000:]}")
    header = lines[header_index]
    columns = [(match.group(), match.end()) for match in re.finditer(r"\S+", header)][1:]
    supported = {}
    for line in lines[header_index + 1:]:
        if not line.strip() or not line.startswith(" "):
            break  # the table ends at the verdict line
        op = line.split()[0]
        supported[op] = [name for name, end in columns if line[end - 1:end] == "Y"]
    verdict = "\n".join(lines[header_index + 1 + len(supported):]).strip()
    if not supported:
        raise PackagingError(f"paddle_lite_opt listed no ops for the model:\n{output[-2000:]}")
    return OpSupport(supported, verdict)


def check_arm_support(opt: str, model_file: Path, params_file: Path) -> OpSupport:
    result = subprocess.run([opt, "--print_model_ops=true", f"--model_file={model_file}",
                             f"--param_file={params_file}", "--valid_targets=arm"],
                            capture_output=True, text=True)
    ops = parse_model_ops(result.stdout + result.stderr)
    if ops.unsupported or "supports this model" not in ops.verdict:
        raise PackagingError(f"Paddle Lite cannot run this model on ARM: unsupported ops {ops.unsupported}. "
                             f"{ops.verdict}\nChange the architecture (configs/) to avoid these ops and export again.")
    return ops


def convert_to_nb(opt: str, model_file: Path, params_file: Path, nb_file: Path, target: str = "arm") -> None:
    nb_file.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=nb_file.parent) as tmp:
        # paddle_lite_opt appends ".nb" to --optimize_out; write aside, then rename, so no half file is left.
        out = Path(tmp) / nb_file.stem
        result = subprocess.run([opt, f"--model_file={model_file}", f"--param_file={params_file}",
                                 f"--valid_targets={target}", "--optimize_out_type=naive_buffer",
                                 f"--optimize_out={out}"], capture_output=True, text=True)
        written = out.with_suffix(".nb")
        if result.returncode != 0 or not written.is_file() or written.stat().st_size == 0:
            raise PackagingError(f"paddle_lite_opt failed (exit code {result.returncode}):\n"
                                 f"{(result.stdout + result.stderr)[-2000:]}")
        os.replace(written, nb_file)


def heads_lines(config, labels, model_dir) -> list:
    """The graph's heads as Heads.java reads them: "name start end" (end exclusive), or one head of every class."""
    from deploy.predictor import read_heads

    heads = read_heads(config, labels, model_dir) or {"expression": (0, len(labels))}
    return [f"{name} {start} {end}" for name, (start, end) in heads.items()]


def copy_assets(model_dir: Path, assets: Path, config: dict, labels: list) -> list:
    target = assets / MODEL_ASSET_DIR
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for source_name, asset_name in MODEL_FILES.items():
        with written_atomically(target / asset_name) as tmp:
            shutil.copyfile(model_dir / source_name, tmp)
        written.append(target / asset_name)
    if config.get("Heads"):   # FastDeploy keeps Topk's best classes only: the app needs every head's
        fused = {**config, "PostProcess": {"Topk": {"topk": len(labels), "label_list": labels}}}
        atomic_write_text(target / MODEL_FILES["inference.yml"], yaml.safe_dump(fused, sort_keys=False))
    for asset, lines in ((LABELS_ASSET, labels), (HEADS_ASSET, heads_lines(config, labels, model_dir))):
        atomic_write_text(assets / asset, "".join(f"{line}\n" for line in lines))
        written.append(assets / asset)
    return written


def package_model(model_dir, app_dir=ANDROID_DIR / "app", nb_dir=ANDROID_DIR / "paddle_lite",
                  paddle_lite_opt=None) -> PackageResult:
    model_dir, app_dir = Path(model_dir), Path(app_dir)
    for name in MODEL_FILES:
        if not (model_dir / name).is_file():
            raise PackagingError(f"{model_dir / name} not found; export the model first "
                                 f"(.venv/bin/python tools/export_model.py -c CONFIG)")
    if not (app_dir / "src" / "main" / "AndroidManifest.xml").is_file():
        raise PackagingError(f"{app_dir} is not the app module (no src/main/AndroidManifest.xml); "
                             "pass --app deploy/android/app")
    # FastDeploy's PaddleClasModel runs the same ops as deploy/: refuse files it would read differently.
    config = read_inference_config(model_dir)
    Preprocess(config["PreProcess"]["transform_ops"], source=str(model_dir / "inference.yml"))
    labels = [str(label) for label in config["PostProcess"]["label_list"]]

    opt = paddle_lite_opt or find_paddle_lite_opt()
    model_file, params_file = model_dir / "inference.pdmodel", model_dir / "inference.pdiparams"
    ops = check_arm_support(opt, model_file, params_file)
    nb_file = Path(nb_dir) / f"{MODEL_NAME}.nb"
    convert_to_nb(opt, model_file, params_file, nb_file)
    assets = copy_assets(model_dir, app_dir / "src" / "main" / "assets", config, labels)
    return PackageResult(assets + package_detector(opt, app_dir / "src" / "main" / "assets"), nb_file, ops)


def package_detector(opt, assets: Path) -> list:
    """The face finder's two BlazeFace models as ARM .nb assets (models/face_detector/<model>.nb), which the app
    runs with Paddle Lite's Java API (FaceFinder.java)."""
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in face_detector.DETECTOR_MODELS:
            try:
                model_file, params_file = face_detector.convert_to_paddle(name, tmp)
            except face_detector.ConversionError as error:
                raise PackagingError(str(error)) from None
            check_arm_support(opt, model_file, params_file)
            nb_file = assets / face_detector.DETECTOR_ASSET_DIR / f"{name}.nb"
            convert_to_nb(opt, model_file, params_file, nb_file)
            written.append(nb_file)
    return written


CHECK_TOLERANCE = 1e-4
# The detector's raw outputs reach thousands on anchors far from any face (logits of -20,000), so its difference is
# relative: |lite - tflite| / (1 + |tflite|). Measured on the check photos: 1.3e-4 (deploy/android/README.md).
DETECTOR_TOLERANCE = 1e-3


def run_lite_x86(opt, model_file, params_file, batch, python310=None) -> list:
    """The model's outputs on `batch` (NCHW float32), built for x86 by the same optimizer as the phone's .nb and
    run by Paddle Lite's own runtime (.venv310's paddlelite, deploy/android/lite_runtime.py)."""
    python310 = Path(python310 or Path(opt).parent / "python")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        convert_to_nb(opt, model_file, params_file, tmp / "x86.nb", target="x86")
        np.save(tmp / "in.npy", batch)
        result = subprocess.run([str(python310), str(ANDROID_DIR / "lite_runtime.py"), str(tmp / "x86.nb"),
                                 str(tmp / "in.npy"), str(tmp / "out.npz")], capture_output=True, text=True)
        if result.returncode != 0:
            raise PackagingError(f"Paddle Lite's runtime failed (exit code {result.returncode}):\n"
                                 f"{(result.stdout + result.stderr)[-2000:]}")
        with np.load(tmp / "out.npz") as saved:
            return [saved[f"arr_{i}"] for i in range(len(saved.files))]


def check_lite_runtime(model_dir, images, paddle_lite_opt=None, python310=None) -> float:
    """The largest difference between Paddle Lite's runtime (an x86 .nb, run by .venv310's paddlelite) and Paddle
    Inference on `images` (gray or BGR uint8), over the graph's whole answer (every head of a fused model); raises
    PackagingError above CHECK_TOLERANCE."""
    from deploy.predictor import Classifier

    model_dir = Path(model_dir)
    predictor = Classifier(model_dir, precision="fp32")   # Lite computes in float32, as the reference must
    expected = predictor.predict_probs(images)
    got = run_lite_x86(paddle_lite_opt or find_paddle_lite_opt(), model_dir / "inference.pdmodel",
                       model_dir / "inference.pdiparams", predictor.preprocess.batch(images), python310)[0]
    if got.shape != expected.shape:
        raise PackagingError(f"Paddle Lite's runtime gave shape {got.shape}, Paddle Inference {expected.shape}")
    difference = float(np.abs(got - expected).max())
    if difference > CHECK_TOLERANCE:
        raise PackagingError(f"Paddle Lite's runtime differs from Paddle Inference by {difference:.2e} "
                             f"(tolerance {CHECK_TOLERANCE})")
    return difference


def check_detector_lite_runtime(photos, paddle_lite_opt=None, python310=None) -> dict:
    """{model: largest relative difference} between each converted BlazeFace model in Paddle Lite's runtime (x86
    build) and the .tflite that deploy/faces.py runs, on the photos' whole-picture views; PackagingError above
    DETECTOR_TOLERANCE."""
    opt = paddle_lite_opt or find_paddle_lite_opt()
    differences = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in face_detector.DETECTOR_MODELS:
            model_file, params_file = face_detector.convert_to_paddle(name, tmp)
            views = face_detector.model_views(name, photos)
            expected = face_detector.tflite_outputs(name, views)
            got = run_lite_x86(opt, model_file, params_file, np.ascontiguousarray(views.transpose(0, 3, 1, 2)),
                               python310)
            got = sorted(got, key=lambda output: -output.shape[-1])  # regressors (16 wide), then logits
            got[1] = got[1][..., 0]
            if [g.shape for g in got] != [e.shape for e in expected]:
                raise PackagingError(f"{name}: Paddle Lite gave shapes {[g.shape for g in got]}, the .tflite "
                                     f"{[e.shape for e in expected]}")
            differences[name] = max(float((np.abs(g - e) / (1 + np.abs(e))).max()) for g, e in zip(got, expected))
            if differences[name] > DETECTOR_TOLERANCE:
                raise PackagingError(f"{name}: Paddle Lite's runtime differs from the .tflite by "
                                     f"{differences[name]:.2e} (tolerance {DETECTOR_TOLERANCE})")
    return differences


def check_photos():
    """scikit-image's astronaut, as it is and masked by the project's masker, and its coffee (no face)."""
    import cv2
    from skimage import data

    from masker.photo import mask_photo

    astronaut = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    return [astronaut, mask_photo(astronaut, "surgical", "blue"), cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR)]


def photo_faces():
    """Faces cropped as FER2013's from scikit-image's astronaut, whole, mirrored, darker and smaller."""
    import cv2
    from skimage import data

    from deploy.faces import FaceFinder, crop

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    variants = [photo, photo[:, ::-1], (photo * 0.6).astype("uint8"), cv2.resize(photo, (300, 300))]
    finder = FaceFinder()
    return [cv2.cvtColor(crop(image, finder(image)[0]), cv2.COLOR_BGR2GRAY)
            for image in map(np.ascontiguousarray, variants)]
