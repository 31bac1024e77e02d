"""The preprocessing that inference.yml's PreProcess.transform_ops describes, and nothing else.

FastDeploy's PaddleClasModel runs the same ops from the same file, so both paths see the same tensors: BGR uint8
in, converted to RGB first (as FastDeploy does), then the ops in the file's order.
"""
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import yaml

SUPPORTED_OPS = ("ResizeImage", "CropImage", "NormalizeImage", "ToCHWImage")
EXPORT_HINT = ("export a trained model with `python tools/export_model.py -c configs/masked_fer/PPLCNet_x1_0_cpu.yaml "
               "-o Global.pretrained_model=output/masked/PPLCNet_x1_0/best_model -o Global.save_inference_dir=inference/`"
               " (or `make default-model`)")


class ConfigError(ValueError):
    """inference.yml asks for something this package (and FastDeploy) would not run the same way."""


def as_bgr(image: np.ndarray) -> np.ndarray:
    """A 3-channel BGR uint8 view of a gray (HxW or HxWx1), BGR or BGRA uint8 image."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        kind = image.dtype if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"expected a uint8 numpy image (as cv2.imread returns), got {kind}")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    raise ValueError(f"expected a gray, BGR or BGRA image, got an array of shape {image.shape}")


def _number(value, where: str) -> float:
    # PaddleClas writes scale as "1.0/255.0"; parse it as a fraction, never eval it.
    if isinstance(value, str):
        numerator, _, denominator = value.partition("/")
        try:
            return float(Fraction(numerator.strip()) / Fraction(denominator.strip() or 1))
        except (ValueError, ZeroDivisionError) as err:
            raise ConfigError(f"{where}: cannot read {value!r} as a number") from err
    return float(value)


class ResizeImage:
    """PaddleClas ResizeImage: shorter side to resize_short keeping the aspect ratio, or to size (w, h)."""

    def __init__(self, resize_short=None, size=None, interpolation=None, backend="cv2"):
        if (resize_short is None) == (size is None):
            raise ConfigError("ResizeImage needs exactly one of resize_short or size")
        if interpolation not in (None, "bilinear") or backend != "cv2":
            raise ConfigError("ResizeImage: only the default bilinear cv2 resize is supported (FastDeploy's)")
        self.resize_short = resize_short
        self.size = (size, size) if isinstance(size, int) else tuple(size) if size is not None else None

    def __call__(self, image):
        h, w = image.shape[:2]
        if self.size is not None:
            width, height = self.size
        else:
            percent = self.resize_short / min(w, h)
            width, height = int(round(w * percent)), int(round(h * percent))
        if (width, height) == (w, h):
            return image
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)


class CropImage:
    """PaddleClas CropImage: a centre crop of size (w, h)."""

    def __init__(self, size):
        self.width, self.height = (size, size) if isinstance(size, int) else tuple(size)

    def __call__(self, image):
        h, w = image.shape[:2]
        if w < self.width or h < self.height:
            raise ValueError(f"CropImage({self.width}x{self.height}) on a {w}x{h} image: resize it up first")
        x0, y0 = (w - self.width) // 2, (h - self.height) // 2
        return image[y0:y0 + self.height, x0:x0 + self.width]


class NormalizeImage:
    """(image * scale - mean) / std per channel, HWC float32; scale must be 1/255 as FastDeploy assumes."""

    def __init__(self, scale=None, mean=None, std=None, order=""):
        scale = _number(scale if scale is not None else 1 / 255, "NormalizeImage.scale")
        if abs(scale - 1 / 255) > 1e-9:
            raise ConfigError(f"NormalizeImage.scale is {scale}; only 1/255 is supported (FastDeploy assumes it)")
        if order not in ("", "hwc"):
            raise ConfigError(f"NormalizeImage.order is {order!r}; only '' or 'hwc' (ToCHWImage does the transpose)")
        self.mean = np.array(mean if mean is not None else [0.485, 0.456, 0.406], dtype=np.float32)
        self.std = np.array(std if std is not None else [0.229, 0.224, 0.225], dtype=np.float32)
        # One multiply-add: x * (scale / std) - mean / std.
        self.alpha = np.float32(scale) / self.std
        self.beta = -self.mean / self.std

    def __call__(self, image):
        return image.astype(np.float32) * self.alpha + self.beta


class ToCHWImage:
    def __call__(self, image):
        return image.transpose(2, 0, 1)


_OPS = {"ResizeImage": ResizeImage, "CropImage": CropImage, "NormalizeImage": NormalizeImage,
        "ToCHWImage": ToCHWImage}


class Preprocess:
    """The op list of inference.yml applied to BGR/gray uint8 images, giving float32 CHW arrays."""

    def __init__(self, transform_ops, source: str = "inference.yml"):
        if not transform_ops:
            raise ConfigError(f"{source}: PreProcess.transform_ops is empty")
        self.ops = []
        for entry in transform_ops:
            if not isinstance(entry, dict) or len(entry) != 1:
                raise ConfigError(f"{source}: each transform op is a one-key mapping, got {entry!r}")
            (name, params), = entry.items()
            if name not in _OPS:
                raise ConfigError(f"{source}: transform op {name!r} is not supported; "
                                  f"only {', '.join(SUPPORTED_OPS)} (what FastDeploy's PaddleClasModel runs)")
            try:
                self.ops.append(_OPS[name](**(params or {})))
            except TypeError as err:
                raise ConfigError(f"{source}: bad parameters for {name}: {err}") from err
        if not isinstance(self.ops[-1], ToCHWImage) or not any(isinstance(op, NormalizeImage) for op in self.ops):
            raise ConfigError(f"{source}: transform_ops must normalise and end with ToCHWImage")

    def __call__(self, image: np.ndarray) -> np.ndarray:
        x = cv2.cvtColor(as_bgr(image), cv2.COLOR_BGR2RGB)
        for op in self.ops:
            x = op(x)
        return np.ascontiguousarray(x, dtype=np.float32)

    def batch(self, images) -> np.ndarray:
        arrays = [self(image) for image in images]
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise ValueError(f"preprocessed images differ in shape {sorted(shapes)}: inference.yml needs a CropImage")
        return np.stack(arrays)


def read_inference_config(model_dir) -> dict:
    """inference.yml of an exported model folder, checked for what the predictor needs."""
    path = Path(model_dir) / "inference.yml"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {EXPORT_HINT}")
    with open(path) as f:
        config = yaml.safe_load(f) or {}
    post = config.get("PostProcess") or {}
    if not post.get("label_list"):
        raise ConfigError(f"{path}: PostProcess.label_list is missing (the class names, in output order)")
    if not (config.get("PreProcess") or {}).get("transform_ops"):
        raise ConfigError(f"{path}: PreProcess.transform_ops is missing")
    return config
