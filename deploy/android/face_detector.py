"""The face finder's BlazeFace models for the phone: MediaPipe's .tflite files (the same ones deploy/faces.py runs)
converted to Paddle (tflite2onnx, then x2paddle) and on to Paddle Lite `.nb` files by package_model.py.

The Paddle form takes NCHW RGB in [-1, 1] at the model's size (128 px short-range, 192 px full-range) and gives the
.tflite's two outputs: [1, anchors, 16] box and keypoint regressors and [1, anchors, 1] score logits. The app
decodes them as deploy/faces.py does (BlazeFace.java); tests check both against each other.
"""
import contextlib
import io
import logging
import tempfile
from pathlib import Path

import numpy as np

from basics import UserError
from deploy.faces import FULL_RANGE, SHORT_RANGE, View, blazeface, model_path

# The models the app runs: both of the desktop finder's.
DETECTOR_MODELS = (SHORT_RANGE, FULL_RANGE)
DETECTOR_ASSET_DIR = "models/face_detector"


class ConversionError(UserError, RuntimeError):
    """A converter is missing or failed; the message names it."""


def convert_to_paddle(name: str, out_dir) -> tuple:
    """Convert the wheel's `name`.tflite to a Paddle inference model in out_dir; returns (model_file, params_file)."""
    try:
        import tflite2onnx
        from x2paddle.convert import onnx2paddle
    except ImportError as error:
        raise ConversionError(f"{error.name} is missing: the detector's conversion needs tflite2onnx==0.4.1, "
                              "x2paddle==1.6.0 and onnx==1.16.2 (requirements.txt; `make setup`)") from None
    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_file = Path(tmp) / f"{name}.onnx"
        # Both converters print progress, and tflite2onnx warns about the float16 weights it dequantises: the
        # result matches the .tflite all the same (package_model.py's check_detector_lite_runtime).
        with contextlib.redirect_stdout(io.StringIO()), _quiet("tflite2onnx"), _quiet("x2paddle.convert"):
            tflite2onnx.convert(str(model_path(name)), str(onnx_file))
            # disable_feedback: x2paddle would otherwise report each conversion to Baidu over the network.
            onnx2paddle(str(onnx_file), str(Path(tmp) / "paddle"), disable_feedback=True)
        built = Path(tmp) / "paddle" / "inference_model"
        model_file, params_file = out_dir / f"{name}.pdmodel", out_dir / f"{name}.pdiparams"
        if not (built / "model.pdmodel").is_file():
            raise ConversionError(f"x2paddle wrote no model for {name}")
        out_dir.mkdir(parents=True, exist_ok=True)
        (built / "model.pdmodel").replace(model_file)
        (built / "model.pdiparams").replace(params_file)
    return model_file, params_file


@contextlib.contextmanager
def _quiet(logger_name):
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def tflite_outputs(name: str, views) -> list:
    """The .tflite model's [regressors, logits] on model_views' views, as deploy/faces.py runs it, stacked."""
    model = blazeface(name)
    raw, logits = zip(*(model.outputs(view) for view in views))
    return [np.stack(raw), np.stack(logits)]


def model_views(name: str, photos) -> np.ndarray:
    """Each photo (BGR uint8) as FaceFinder's whole-photo view for that model: the square from its top left,
    zero-padded, as the model's input (NHWC float32)."""
    import cv2

    kind = "short" if name == SHORT_RANGE else "full"
    return np.stack([View.square(kind, 0, 0, max(photo.shape[:2])).input(cv2.cvtColor(photo, cv2.COLOR_BGR2RGB))
                     for photo in photos])
