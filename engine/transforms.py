"""Image ops and batch ops, with PaddleClas's names, parameters and meanings, on OpenCV HWC images.

Each op is one class registered once; the config check reads its parameters from `__init__` (engine/registry.py).
Random ops draw from the `rng` they are given, so a sample's augmentation depends only on (seed, epoch, index):
runs are reproducible whatever the number of loader workers, and a resumed run continues exactly. Ops that wrap
`paddle.vision.transforms` (which draw from Python's `random`) seed it from that `rng` first.
"""
import math
import random

import cv2
import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from .errors import ConfigError
from .schema import parse_number
from .registry import BATCH_TRANSFORMS, TRANSFORMS

# NormalizeImage's defaults (ImageNet statistics, as PaddleClas's); the one place they are written.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_INTERPOLATION = {None: cv2.INTER_LINEAR, "bilinear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST,
                  "bicubic": cv2.INTER_CUBIC, "area": cv2.INTER_AREA, "lanczos": cv2.INTER_LANCZOS4}


def _interpolation(name):
    if name not in _INTERPOLATION:
        raise ConfigError(f"interpolation {name!r} is not one of {sorted(k for k in _INTERPOLATION if k)}")
    return _INTERPOLATION[name]


def _size_wh(size):
    return (size, size) if isinstance(size, int) else tuple(size)


def _seed_python_random(rng):
    random.seed(int(rng.integers(2**63)))


@TRANSFORMS.register
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


@TRANSFORMS.register
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


@TRANSFORMS.register
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


@TRANSFORMS.register
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


@TRANSFORMS.register
class RandFlipImage:
    def __init__(self, flip_code=1):
        self.flip_code = flip_code

    def __call__(self, img, rng):
        return cv2.flip(img, self.flip_code) if rng.random() < 0.5 else img


@TRANSFORMS.register
class RandomDownscale:
    """This project's op: with probability `prob`, the image shrunk to a random share of its side (`scale`) and
    brought back to its size. Faces found small in crowd photos reach a 48 px model this soft; FER2013's faces,
    in the same training set, never would, and a model could learn softness for the label the small faces mostly
    have (masked, in the face-status data)."""

    def __init__(self, scale=(0.35, 1.0), prob=0.5):
        self.prob = parse_number(prob, "RandomDownscale.prob")
        self.scale = [parse_number(v, "RandomDownscale.scale") for v in scale]
        if not 0 <= self.prob <= 1:
            raise ConfigError(f"RandomDownscale.prob must be within 0..1, got {prob!r}")
        if len(self.scale) != 2 or not 0 < self.scale[0] <= self.scale[1] <= 1:
            raise ConfigError(f"RandomDownscale.scale: [low, high] shares of the side, 0 < low <= high <= 1, "
                              f"got {scale!r}")

    def __call__(self, img, rng):
        if rng.random() >= self.prob:
            return img
        h, w = img.shape[:2]
        share = rng.uniform(*self.scale)
        small = cv2.resize(img, (max(1, round(w * share)), max(1, round(h * share))), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


class _PaddleVisionOp:
    """A paddle.vision.transforms op run with probability `prob`, its draws seeded from the sample's generator;
    on a PIL image where `on_pil` says so (as PaddleClas runs that op), on the array otherwise."""

    on_pil = False

    def __init__(self, op, prob):
        self.op, self.prob = op, parse_number(prob, f"{type(self).__name__}.prob")

    def __call__(self, img, rng):
        if rng.random() >= self.prob:
            return img
        _seed_python_random(rng)
        img = np.ascontiguousarray(img)
        if self.on_pil:
            from PIL import Image
            img = Image.fromarray(img)
        return np.asarray(self.op._apply_image(img))


@TRANSFORMS.register
class RandomRotation(_PaddleVisionOp):
    """With probability `prob`, paddle.vision.transforms.RandomRotation (an angle uniform in +-degrees)."""

    def __init__(self, degrees, prob=0.5, interpolation="nearest", expand=False, center=None, fill=0):
        from paddle.vision.transforms import RandomRotation as PaddleRandomRotation
        super().__init__(PaddleRandomRotation(degrees, interpolation, expand, center, fill), prob)


@TRANSFORMS.register
class RandomAffine(_PaddleVisionOp):
    """This project's op (PaddleClas has none): paddle.vision.transforms.RandomAffine, with probability `prob`.
    translate is a fraction of the size, scale a (min, max) zoom: [0.2, 0.2] and [0.8, 1.2] are the +-20 % shift
    and zoom of the FER2013 VGGNet recipe (Khaireddin & Chen, 2021)."""

    def __init__(self, degrees=0, translate=None, scale=None, shear=None, interpolation="bilinear", fill=0,
                 center=None, prob=1.0):
        from paddle.vision.transforms import RandomAffine as PaddleRandomAffine
        super().__init__(PaddleRandomAffine(degrees, translate, scale, shear, interpolation, fill, center), prob)


@TRANSFORMS.register
class ColorJitter(_PaddleVisionOp):
    """With probability `prob` (PaddleClas's default 2: always), paddle.vision.transforms.ColorJitter on a PIL
    image, as PaddleClas runs it: on a numpy array Paddle's OpenCV path pivots contrast on a fixed grey of 74
    instead of the image's mean (on the astronaut's face, mean grey 151, a contrast of 1.3 moved the mean by 26
    grey levels; on the PIL image by 1)."""

    on_pil = True

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0, prob=2):
        from paddle.vision.transforms import ColorJitter as PaddleColorJitter
        super().__init__(PaddleColorJitter(brightness, contrast, saturation, hue), prob)


@TRANSFORMS.register
class RandAugment:
    """PaddleClas's RandAugment (num_layers ops, each drawn from 14, at `magnitude` out of 10), on PIL images as
    PaddleClas runs it. PaddleClas's own code is not installable (the paddleclas wheel ships backbones only)."""

    LEVELS = {"shearX": 0.3, "shearY": 0.3, "translateX": 150.0 / 331, "translateY": 150.0 / 331, "rotate": 30,
              "color": 0.9, "posterize": 4.0, "solarize": 256.0, "contrast": 0.9, "sharpness": 0.9,
              "brightness": 0.9, "autocontrast": 0, "equalize": 0, "invert": 0}

    def __init__(self, num_layers=2, magnitude=5, fillcolor=(128, 128, 128)):
        self.num_layers, self.fill = int(num_layers), tuple(fillcolor)
        self.level = {name: top * magnitude / 10 for name, top in self.LEVELS.items()}

    def _apply(self, img, name, sign):
        m, size = self.level[name], img.size
        affine = {"shearX": (1, m * sign, 0, 0, 1, 0), "shearY": (1, 0, 0, m * sign, 1, 0),
                  "translateX": (1, 0, m * size[0] * sign, 0, 1, 0), "translateY": (1, 0, 0, 0, 1, m * size[1] * sign)}
        if name in affine:
            return img.transform(size, Image.AFFINE, affine[name], Image.BICUBIC, fillcolor=self.fill)
        if name == "rotate":
            return img.rotate(m, fillcolor=self.fill)
        enhance = {"color": ImageEnhance.Color, "contrast": ImageEnhance.Contrast,
                   "sharpness": ImageEnhance.Sharpness, "brightness": ImageEnhance.Brightness}
        if name in enhance:
            return enhance[name](img).enhance(1 + m * sign)
        if name == "posterize":
            return ImageOps.posterize(img, int(m))
        if name == "solarize":
            return ImageOps.solarize(img, m)
        return {"autocontrast": ImageOps.autocontrast, "equalize": ImageOps.equalize, "invert": ImageOps.invert}[name](img)

    def __call__(self, img, rng):
        pil = Image.fromarray(np.ascontiguousarray(img))
        names = list(self.LEVELS)
        for _ in range(self.num_layers):
            pil = self._apply(pil, names[rng.integers(len(names))], rng.choice([-1, 1]))
        return np.asarray(pil)


@TRANSFORMS.register
class RandomErasing:
    """PaddleClas's RandomErasing: with probability EPSILON, a rectangle of sl..sh of the area and aspect r1..1/r1
    is filled with `mean` (mode const), per-channel noise (rand) or per-pixel noise (pixel). Put it after
    NormalizeImage, as PaddleClas's configs do, so that `mean` 0 is the mean grey."""

    def __init__(self, EPSILON=0.5, sl=0.02, sh=0.4, r1=0.3, mean=(0.0, 0.0, 0.0), attempt=100,
                 use_log_aspect=False, mode="const"):
        if mode not in ("const", "rand", "pixel"):
            raise ConfigError(f"RandomErasing.mode {mode!r}: use const, rand or pixel")
        self.prob, self.sl, self.sh = (parse_number(v, f"RandomErasing.{k}") for k, v in
                                       (("EPSILON", EPSILON), ("sl", sl), ("sh", sh)))
        r1 = parse_number(r1, "RandomErasing.r1")
        self.log_aspect = use_log_aspect
        self.r1 = (math.log(r1), math.log(1 / r1)) if use_log_aspect else (r1, 1 / r1)
        self.mean, self.attempt, self.mode = np.asarray(mean, dtype=np.float32), int(attempt), mode

    def __call__(self, img, rng):
        if rng.random() > self.prob:
            return img
        h, w, c = img.shape
        for _ in range(self.attempt):
            area = rng.uniform(self.sl, self.sh) * h * w
            aspect = rng.uniform(*self.r1)
            aspect = math.exp(aspect) if self.log_aspect else aspect
            eh, ew = int(round(math.sqrt(area * aspect))), int(round(math.sqrt(area / aspect)))
            if 0 < eh < h and 0 < ew < w:
                top, left = rng.integers(0, h - eh + 1), rng.integers(0, w - ew + 1)
                shape = {"const": (1, 1, c), "rand": (1, 1, c), "pixel": (eh, ew, c)}[self.mode]
                fill = self.mean[:c].reshape(1, 1, c) if self.mode == "const" else rng.standard_normal(shape)
                img = img.copy()
                img[top:top + eh, left:left + ew] = fill
                return img
        return img


@TRANSFORMS.register
class NormalizeImage:
    """(img * scale - mean) / std as float32; order 'chw' if the image is already channels-first."""

    def __init__(self, scale=None, mean=None, std=None, order="chw", output_fp16=False, channel_num=3):
        if output_fp16 or channel_num != 3:
            raise ConfigError("NormalizeImage: only output_fp16=False and channel_num=3 are supported")
        self.scale = np.float32(parse_number(scale if scale is not None else "1.0/255.0", "NormalizeImage.scale"))
        self.mean_values = [float(m) for m in (mean if mean is not None else IMAGENET_MEAN)]
        self.std_values = [float(s) for s in (std if std is not None else IMAGENET_STD)]
        shape = (3, 1, 1) if order == "chw" else (1, 1, 3)
        self.mean = np.array(self.mean_values, dtype=np.float32).reshape(shape)
        self.std = np.array(self.std_values, dtype=np.float32).reshape(shape)

    def __call__(self, img, rng=None):
        return (img.astype(np.float32) * self.scale - self.mean) / self.std


@TRANSFORMS.register
class ToCHWImage:
    def __call__(self, img, rng=None):
        return img.transpose(2, 0, 1)


class _MixingOperator:
    """A batch op that mixes each image with another of the batch by lam ~ Beta(alpha, alpha), and its one-hot
    target with the other's by the share of the image it kept. Paired batches ([N, 2, C, H, W],
    PairedImageNetDataset) mix both images of a pair with the same draws, so the teacher still sees the student's
    face unmasked."""

    def __init__(self, class_num, alpha):
        if not parse_number(alpha, f"{type(self).__name__}.alpha") > 0:
            raise ConfigError(f"{type(self).__name__}.alpha must be > 0, got {alpha!r}")
        self.eye, self.alpha = np.eye(class_num, dtype=np.float32), float(alpha)

    def draw(self, images, rng):
        return rng.permutation(len(images)), rng.beta(self.alpha, self.alpha)

    def targets(self, labels, order, kept):
        return (kept * self.eye[labels] + (1 - kept) * self.eye[labels[order]]).astype(np.float32)


@BATCH_TRANSFORMS.register
class MixupOperator(_MixingOperator):
    """Mixup (Zhang et al., 2018): each batch blended with a shuffled copy of itself."""

    def __init__(self, class_num, alpha=1.0):
        super().__init__(class_num, alpha)

    def __call__(self, images, labels, rng):
        order, lam = self.draw(images, rng)
        return (lam * images + (1 - lam) * images[order]).astype(np.float32), self.targets(labels, order, lam)


@BATCH_TRANSFORMS.register
class CutmixOperator(_MixingOperator):
    """CutMix (Yun et al., 2019): a box of each image replaced by the same box of a shuffled copy."""

    def __init__(self, class_num, alpha=0.2):
        super().__init__(class_num, alpha)

    def __call__(self, images, labels, rng):
        order, lam = self.draw(images, rng)
        h, w = images.shape[-2:]
        cut_h, cut_w = int(h * math.sqrt(1 - lam)), int(w * math.sqrt(1 - lam))
        cy, cx = rng.integers(h), rng.integers(w)
        top, bottom = np.clip([cy - cut_h // 2, cy + cut_h // 2], 0, h)
        left, right = np.clip([cx - cut_w // 2, cx + cut_w // 2], 0, w)
        images = images.copy()
        images[..., top:bottom, left:right] = images[order][..., top:bottom, left:right]
        return images, self.targets(labels, order, 1 - (bottom - top) * (right - left) / (h * w))


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
    return [TRANSFORMS.build(name, params) for item in op_list or [] for name, params in item.items()]


def build_batch_transforms(op_list, class_num):
    """DataLoader.Train.dataset.batch_transform_ops -> callables `op(images NCHW, int labels, rng)` giving
    (images, soft targets). With several, each batch gets one of them, drawn at random (PaddleClas's OpSampler
    draws likewise)."""
    return [BATCH_TRANSFORMS.build(name, params, class_num=class_num)
            for item in op_list or [] for name, params in item.items()]


def apply_transforms(ops, data, rng=None):
    for op in ops:
        data = op(data, rng)
    return data
