"""PaddleClas's image ops (same names, parameters and meanings), on OpenCV HWC uint8 images.

Random ops draw from the `rng` they are given, so a sample's augmentation depends only on (seed, epoch, index):
runs are reproducible whatever the number of loader workers, and a resumed run continues exactly.
"""
import math

import cv2
import numpy as np

from .config import ConfigError, parse_number

_INTERPOLATION = {None: cv2.INTER_LINEAR, "bilinear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST,
                  "bicubic": cv2.INTER_CUBIC, "area": cv2.INTER_AREA, "lanczos": cv2.INTER_LANCZOS4}


def _interpolation(name):
    if name not in _INTERPOLATION:
        raise ConfigError(f"interpolation {name!r} is not one of {sorted(k for k in _INTERPOLATION if k)}")
    return _INTERPOLATION[name]


def _size_wh(size):
    return (size, size) if isinstance(size, int) else tuple(size)


class DecodeImage:
    """Encoded bytes -> HWC uint8, RGB when to_rgb (OpenCV decodes BGR)."""

    def __init__(self, to_rgb=True, channel_first=False):
        self.to_rgb, self.channel_first = to_rgb, channel_first

    def __call__(self, data, rng=None):
        img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError("not a decodable image")
        if self.to_rgb:
            img = img[:, :, ::-1]
        return img.transpose(2, 0, 1) if self.channel_first else img


class ResizeImage:
    def __init__(self, size=None, resize_short=None, interpolation=None, backend="cv2"):
        if (size is None) == (resize_short is None):
            raise ConfigError("ResizeImage needs exactly one of 'size' and 'resize_short'")
        self.size, self.resize_short = size, resize_short
        self.interpolation = _interpolation(interpolation)

    def __call__(self, img, rng=None):
        if self.size is not None:
            w, h = _size_wh(self.size)
        else:
            scale = self.resize_short / min(img.shape[:2])
            w, h = int(round(img.shape[1] * scale)), int(round(img.shape[0] * scale))
        return cv2.resize(img, (w, h), interpolation=self.interpolation)


class CropImage:
    """Centre crop."""

    def __init__(self, size):
        self.w, self.h = _size_wh(size)

    def __call__(self, img, rng=None):
        h, w = img.shape[:2]
        if h < self.h or w < self.w:
            raise ValueError(f"CropImage {self.w}x{self.h} is larger than the {w}x{h} image; resize first")
        top, left = (h - self.h) // 2, (w - self.w) // 2
        return img[top:top + self.h, left:left + self.w]


class RandCropImage:
    """Random area/aspect crop resized to `size` (Inception-style, as PaddleClas)."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), interpolation=None, backend="cv2"):
        self.w, self.h = _size_wh(size)
        self.scale, self.ratio = [parse_number(s) for s in scale], [parse_number(r) for r in ratio]
        self.interpolation = _interpolation(interpolation)

    def __call__(self, img, rng):
        h, w = img.shape[:2]
        for _ in range(10):
            area = h * w * rng.uniform(*self.scale)
            aspect = math.exp(rng.uniform(math.log(self.ratio[0]), math.log(self.ratio[1])))
            cw, ch = int(round(math.sqrt(area * aspect))), int(round(math.sqrt(area / aspect)))
            if 0 < cw <= w and 0 < ch <= h:
                top, left = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
                img = img[top:top + ch, left:left + cw]
                break
        return cv2.resize(img, (self.w, self.h), interpolation=self.interpolation)


class RandFlipImage:
    def __init__(self, flip_code=1):
        self.flip_code = flip_code

    def __call__(self, img, rng):
        return cv2.flip(img, self.flip_code) if rng.random() < 0.5 else img


class NormalizeImage:
    """(img * scale - mean) / std as float32; order 'chw' if the image is already channels-first."""

    def __init__(self, scale=None, mean=None, std=None, order="chw", output_fp16=False, channel_num=3):
        if output_fp16 or channel_num != 3:
            raise ConfigError("NormalizeImage: only output_fp16=False and channel_num=3 are supported")
        self.scale = np.float32(parse_number(scale if scale is not None else "1.0/255.0", "NormalizeImage.scale"))
        shape = (3, 1, 1) if order == "chw" else (1, 1, 3)
        self.mean = np.array(mean if mean is not None else [0.485, 0.456, 0.406], dtype=np.float32).reshape(shape)
        self.std = np.array(std if std is not None else [0.229, 0.224, 0.225], dtype=np.float32).reshape(shape)

    def __call__(self, img, rng=None):
        return (img.astype(np.float32) * self.scale - self.mean) / self.std


class ToCHWImage:
    def __call__(self, img, rng=None):
        return img.transpose(2, 0, 1)


OPS = {op.__name__: op for op in (DecodeImage, ResizeImage, CropImage, RandCropImage, RandFlipImage,
                                  NormalizeImage, ToCHWImage)}


# What FastDeploy's PaddleClasModel preprocessor runs (it decodes and converts BGR to RGB itself): an exported
# inference.yml may hold only these ops, with these parameters, or FastDeploy would compute other tensors.
DEPLOY_OPS = ("ResizeImage", "CropImage", "NormalizeImage", "ToCHWImage")
DEPLOY_SCALE = 1.0 / 255.0


def check_deployable(name, params, where="inference.yml"):
    """Raise ConfigError unless op `name` with `params` is one FastDeploy would run exactly as these ops do."""
    params = params or {}
    if name not in DEPLOY_OPS:
        raise ConfigError(f"{where}: transform op {name!r} cannot be deployed; FastDeploy's PaddleClasModel runs "
                          f"only {', '.join(DEPLOY_OPS)}")
    if name == "ResizeImage" and (params.get("interpolation") not in (None, "bilinear")
                                  or params.get("backend", "cv2") != "cv2"):
        raise ConfigError(f"{where}: ResizeImage must use the default bilinear cv2 resize (FastDeploy's)")
    if name == "NormalizeImage":
        scale = parse_number(params.get("scale", "1.0/255.0"), f"{where}: NormalizeImage.scale")
        if abs(scale - DEPLOY_SCALE) > 1e-9:
            raise ConfigError(f"{where}: NormalizeImage.scale is {scale}; deployment needs exactly 1/255")
        if params.get("order", "") not in ("", "hwc"):
            raise ConfigError(f"{where}: NormalizeImage.order is {params['order']!r}; deployment needs '' (HWC), "
                              "ToCHWImage transposes afterwards")


def build_transforms(op_list):
    """[{Name: params}, ...] -> a list of callables `op(img, rng)`."""
    return [OPS[name](**(params or {})) for item in op_list for name, params in item.items()]


def apply_transforms(ops, data, rng=None):
    for op in ops:
        data = op(data, rng)
    return data
