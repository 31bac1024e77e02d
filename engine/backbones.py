"""Backbones for 48 px faces, which the paddleclas wheel lacks.

paddleclas's ImageNet backbones halve the input in their first two layers (stem stride and max pool), so a 48 px
face is 12 px before any real feature is learned; from scratch on a CPU budget they stayed at majority-class
level here. FaceCNN is the VGG-style network that FER2013 work uses instead: four stages of two 3x3
conv-BN-ReLU layers, each stage closing with a 2x2 max pool (a 48 px input: 48 -> 24 -> 12 -> 6 -> 3), global
average pooling, dropout and one linear layer. It uses only ops that Paddle Inference, FastDeploy and Paddle Lite all run.
"""
import math

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

BASE_WIDTHS = (32, 64, 128, 256)


class GaussianBlur(nn.Layer):
    """A fixed Gaussian low-pass per channel (sigma in input pixels), borders reflected as cv2.GaussianBlur's."""

    def __init__(self, sigma, channels=3):
        super().__init__()
        self.radius, self.channels = max(1, math.ceil(3 * sigma)), channels
        taps = np.exp(-0.5 * (np.arange(-self.radius, self.radius + 1) / sigma) ** 2)
        taps /= taps.sum()
        kernel = np.tile(np.outer(taps, taps)[None, None], (channels, 1, 1, 1)).astype(np.float32)
        self.register_buffer("kernel", paddle.to_tensor(kernel), persistable=True)

    def forward(self, x):
        x = F.pad(x, [self.radius] * 4, mode="reflect")
        return F.conv2d(x, self.kernel, groups=self.channels)


class FaceCNN(nn.Layer):
    """infer_blur_sigma > 0: evaluation and inference inputs first get that Gaussian blur, inside the model (so the
    exported graph does it on every backend), to look like training faces that were that blurred; training
    inputs are left as they are."""

    def __init__(self, class_num=4, scale=1.0, dropout_prob=0.3, infer_blur_sigma=0.0):
        super().__init__()
        self.infer_blur = GaussianBlur(infer_blur_sigma) if infer_blur_sigma else None
        widths = [max(8, int(round(w * scale))) for w in BASE_WIDTHS]
        layers, in_channels = [], 3
        for width in widths:
            for _ in range(2):
                layers += [nn.Conv2D(in_channels, width, 3, padding=1, bias_attr=False), nn.BatchNorm2D(width),
                           nn.ReLU()]
                in_channels = width
            layers.append(nn.MaxPool2D(2, 2))
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout_prob)
        self.fc = nn.Linear(in_channels, class_num)

    def forward(self, x):
        if self.infer_blur is not None and not self.training:
            x = self.infer_blur(x)
        # A mean, not AdaptiveAvgPool2D + flatten: Paddle Lite's optimizer crashes on that pair before dropout.
        x = self.features(x).mean([2, 3])
        return self.fc(self.dropout(x))


def FaceCNN_x0_5(pretrained=False, **kwargs):
    """Half width (16-128 channels): about 3x the training throughput of x1_0 here."""
    return FaceCNN(scale=0.5, **kwargs)


def FaceCNN_x1_0(pretrained=False, **kwargs):
    return FaceCNN(**kwargs)


BACKBONES = {"FaceCNN_x0_5": FaceCNN_x0_5, "FaceCNN_x1_0": FaceCNN_x1_0}


def derived_buffers(model):
    """State-dict keys that the config computes (blur kernels), not training: never loaded from a weights file, so
    a model trained without a blur can be evaluated or exported with one, or with another sigma."""
    return {f"{name}.kernel" for name, layer in model.named_sublayers() if isinstance(layer, GaussianBlur)}
