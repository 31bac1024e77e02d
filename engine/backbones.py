"""Backbones for 48 px faces, which the paddleclas wheel lacks.

paddleclas's ImageNet backbones halve the input in their first two layers (stem stride and max pool), so a 48 px
face is 12 px before any real feature is learned; from scratch on a CPU budget they stayed at majority-class
level here. FaceCNN is the VGG-style network that FER2013 work uses instead: four stages of two 3x3
conv-BN-ReLU layers, each stage closing with a 2x2 max pool (a 48 px input: 48 -> 24 -> 12 -> 6 -> 3), global
average pooling, dropout and one linear layer. It uses only ops that Paddle Inference, FastDeploy and Paddle Lite all run.
"""
import paddle.nn as nn

BASE_WIDTHS = (32, 64, 128, 256)


class FaceCNN(nn.Layer):
    def __init__(self, class_num=4, scale=1.0, dropout_prob=0.3):
        super().__init__()
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
        # A mean, not AdaptiveAvgPool2D + flatten: Paddle Lite's optimizer crashes on that pair before dropout.
        x = self.features(x).mean([2, 3])
        return self.fc(self.dropout(x))


def FaceCNN_x0_5(pretrained=False, **kwargs):
    """Half width (16-128 channels)."""
    return FaceCNN(scale=0.5, **kwargs)


def FaceCNN_x1_0(pretrained=False, **kwargs):
    return FaceCNN(**kwargs)


def FaceCNN_x2_0(pretrained=False, **kwargs):
    """Double width (64-512 channels)."""
    return FaceCNN(scale=2.0, **kwargs)


BACKBONES = {"FaceCNN_x0_5": FaceCNN_x0_5, "FaceCNN_x1_0": FaceCNN_x1_0, "FaceCNN_x2_0": FaceCNN_x2_0}
