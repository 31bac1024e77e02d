"""Puts a template on a gray face: one affine warp at 4x, then a 4x box reduction in premultiplied alpha."""
import math

import cv2
import numpy as np

from .geometry import MaskBox
from .templates import SIZE, SUPERSAMPLE, MaskStyle, template_gray_premultiplied


def mask_layer(box: MaskBox, style: MaskStyle, image_shape) -> tuple:
    """(luma x alpha, alpha) float32 arrays of image_shape (h, w): the mask drawn where box says."""
    h, w = image_shape
    s = SUPERSAMPLE
    # image pixel p -> supersampled pixel s * (p + 0.5) - 0.5 (pixel centres stay aligned)
    to_big = s * box.to_image_matrix(SIZE)
    to_big[:, 2] += 0.5 * s - 0.5
    layer = np.zeros((h, w, 2), np.float32)
    # Only the cells the rotated box touches are warped and reduced: about half of the image.
    corners = box.corners()
    x0, y0 = (max(0, math.floor(v) - 1) for v in corners.min(axis=0))
    x1, y1 = min(w, math.ceil(corners[:, 0].max()) + 2), min(h, math.ceil(corners[:, 1].max()) + 2)
    if x1 <= x0 or y1 <= y0:
        return layer[..., 0], layer[..., 1]
    to_big[:, 2] -= (s * x0, s * y0)
    big = cv2.warpAffine(template_gray_premultiplied(style), to_big, (s * (x1 - x0), s * (y1 - y0)),
                         flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
    layer[y0:y1, x0:x1] = cv2.resize(big, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)   # exact box mean
    return layer[..., 0], layer[..., 1]


def apply_mask(gray: np.ndarray, box: MaskBox, style: MaskStyle) -> np.ndarray:
    """The gray uint8 face with the mask composited over it."""
    luma, alpha = mask_layer(box, style, gray.shape)
    out = gray.astype(np.float32) * (1.0 - alpha) + 255.0 * luma
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
