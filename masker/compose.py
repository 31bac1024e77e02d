"""Puts a template on a gray face: one affine warp at 4x, then a 4x box reduction in premultiplied alpha."""
import cv2
import numpy as np

from .geometry import MaskBox
from .templates import SIZE, SUPERSAMPLE, MaskStyle, template_gray_premultiplied


def mask_layer(box: MaskBox, style: MaskStyle, image_shape) -> tuple:
    """(luma x alpha, alpha) float32 arrays of image_shape (h, w): the mask drawn where box says."""
    h, w = image_shape
    s = SUPERSAMPLE
    to_image = box.to_image_matrix(SIZE)
    # image pixel p -> supersampled pixel s * (p + 0.5) - 0.5 (pixel centres stay aligned)
    to_big = np.vstack([s * to_image, [0, 0, 1]])[:2]
    to_big[:, 2] += 0.5 * s - 0.5
    template = template_gray_premultiplied(style)
    big = cv2.warpAffine(template, to_big, (w * s, h * s), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
    small = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA)    # an exact s x s box mean
    return small[..., 0], small[..., 1]


def apply_mask(gray: np.ndarray, box: MaskBox, style: MaskStyle) -> np.ndarray:
    """The gray uint8 face with the mask composited over it."""
    luma, alpha = mask_layer(box, style, gray.shape)
    out = gray.astype(np.float32) * (1.0 - alpha) + 255.0 * luma
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
