"""Backbones for 48 px faces, which the paddleclas wheel lacks, registered in BACKBONES beside every paddleclas
backbone, and build_backbone, which makes one from an Arch mapping.

paddleclas's ImageNet backbones halve the input in their first two layers (stem stride and max pool), so a 48 px
face is 12 px before any real feature is learned; from scratch on a CPU budget they stayed at majority-class
level here. FaceCNN is the VGG-style network that FER2013 work uses instead: four stages of two 3x3
conv-BN-ReLU layers, each stage closing with a 2x2 max pool (a 48 px input: 48 -> 24 -> 12 -> 6 -> 3), global
average pooling, dropout and one linear layer. It uses only ops that Paddle Inference, FastDeploy and Paddle Lite all run.

Two options grow it for a masked face, where the mouth's half carries little: squeeze-excitation after each
stage (se_reduction: channel weights from the stage's mean), and a spatial head (a linear layer over the last
3x3 map flattened, instead of its mean, so that the head can weigh the eyes' row above the mask's). Both start as
the plain network does: the excitation's last layer starts at zero (a gain of exactly 1) and fit_pretrained
spreads a plain head's weights over the nine positions, so that a student grown this way starts from the plain
twin's weights with the twin's answers.
"""
import inspect
import sys

import numpy as np
import paddle
import paddle.nn as nn
from paddleclas.ppcls.arch import backbone

from .errors import ConfigError
from .registry import BACKBONES
from .schema import BOOL, COUNT, FRACTION, LIST, NONNEGATIVE_INT, POSITIVE

BASE_WIDTHS = (32, 64, 128, 256)
# The last map's side for the 48 px input every config uses (four 2x2 pools); a spatial head is built for it.
FINAL_SIDE = 3
LAYERS_PER_STAGE = 7          # conv, BN, ReLU twice, then the pool


class SqueezeExcitation(nn.Layer):
    def __init__(self, channels, reduction):
        super().__init__()
        hidden = max(4, channels // reduction)
        self.squeeze = nn.Linear(channels, hidden)
        self.excite = nn.Linear(hidden, channels,
                                weight_attr=nn.initializer.Constant(0.0), bias_attr=nn.initializer.Constant(0.0))

    def forward(self, x):
        gain = 2 * nn.functional.sigmoid(self.excite(nn.functional.relu(self.squeeze(x.mean([2, 3])))))
        return x * gain.unsqueeze([2, 3])


def conv_stage(in_channels, width):
    layers = []
    for _ in range(2):
        layers += [nn.Conv2D(in_channels, width, 3, padding=1, bias_attr=False), nn.BatchNorm2D(width), nn.ReLU()]
        in_channels = width
    return layers + [nn.MaxPool2D(2, 2)]


class FaceCNN(nn.Layer):
    """se_reduction: 0 (none) or a whole reduction ratio such as 4. branches: for a model of several heads
    (Global.heads), the class counts of groups of heads that each get a last stage of their own after the first
    three shared ones, e.g. [3, 8]: face status apart from the two expression heads; they add up to class_num."""

    def __init__(self, class_num: COUNT = 4, scale: POSITIVE = 1.0, dropout_prob: FRACTION = 0.3,
                 se_reduction: NONNEGATIVE_INT = 0, spatial_head: BOOL = False, branches: LIST = None):
        super().__init__()
        widths = [max(8, int(round(w * scale))) for w in BASE_WIDTHS]
        layers, in_channels = [], 3
        for width in widths:
            layers += conv_stage(in_channels, width)
            in_channels = width
        self.features = nn.Sequential(*layers)
        self.spatial_head = bool(spatial_head)
        self.dropout = nn.Dropout(dropout_prob)
        self.branches = check_branches(branches, class_num, se_reduction or spatial_head)
        self.fc = nn.Linear(in_channels * (FINAL_SIDE ** 2 if self.spatial_head else 1),
                            self.branches[0] if self.branches else class_num)
        # Built last, so that the plain network's parameter names (and an exported twin's) stay as they are. The
        # first branch is the plain network's own last stage and fc; the others are copies of that stage.
        self.se = nn.LayerList([SqueezeExcitation(w, se_reduction) for w in widths] if se_reduction else [])
        self.branch_stages = nn.LayerList([nn.Sequential(*conv_stage(widths[-2], widths[-1]))
                                           for _ in self.branches[1:]])
        self.branch_fcs = nn.LayerList([nn.Linear(widths[-1], count) for count in self.branches[1:]])

    def forward(self, x):
        if self.branches:
            split = len(self.features) - LAYERS_PER_STAGE
            trunk = self.features[:split](x)
            stages = [self.features[split:], *self.branch_stages]
            return paddle.concat([fc(self.dropout(stage(trunk).mean([2, 3])))
                                  for stage, fc in zip(stages, [self.fc, *self.branch_fcs])], axis=-1)
        for index, layer in enumerate(self.features):
            x = layer(x)
            if len(self.se) and index % LAYERS_PER_STAGE == LAYERS_PER_STAGE - 2:     # a stage's last ReLU
                x = self.se[index // LAYERS_PER_STAGE](x)
        if self.spatial_head and list(x.shape[2:]) != [FINAL_SIDE] * 2:
            raise ValueError(f"a FaceCNN with spatial_head takes 48 px faces only (its last map is "
                             f"{FINAL_SIDE}x{FINAL_SIDE}); got a {list(x.shape[2:])} map: set Global.image_shape "
                             "to [3, 48, 48] or drop spatial_head")
        # A mean or a reshape, not AdaptiveAvgPool2D + flatten: Paddle Lite's optimizer crashes on that pair before
        # dropout.
        x = x.reshape([-1, x.shape[1] * FINAL_SIDE ** 2]) if self.spatial_head else x.mean([2, 3])
        return self.fc(self.dropout(x))

    def fit_pretrained(self, state):
        """A plainer or narrower FaceCNN's weights (key -> array) fitted to this one: a narrower twin's channels are
        widened (widen_channels), the squeeze-excitation parameters that the state lacks keep their initial
        values, each branch's stage starts as the plain last stage and its head as tiled_head's (or new), and a
        plain head's [C, K] weights become a spatial head's [C * 9, K], each divided by 9, which computes the same
        mean. Other mismatches are left to the loader."""
        state = widen_channels(self, dict(state))
        for key, param in self.state_dict().items():
            if key.startswith("branch_fcs.") and key not in state:
                tiled = tiled_head(state, key.rsplit(".", 1)[1], param)
                state[key] = param.numpy() if tiled is None else tiled
            if key.startswith("se.") and key not in state:
                state[key] = param.numpy()
            if key.startswith("branch_stages.") and key not in state:
                # A branch starts as the plain network's last stage: branch_stages.<b>.<j>.x from features.<k + j>.x.
                _, _, layer, part = key.split(".", 3)
                source = f"features.{len(self.features) - LAYERS_PER_STAGE + int(layer)}.{part}"
                if source in state:
                    state[key] = state[source]
        if self.branches and "fc.weight" in state:
            own = self.state_dict()
            tiled = {part: tiled_head(state, part, own[f"fc.{part}"]) for part in ("weight", "bias")}
            if tiled["weight"] is not None:
                state.update({f"fc.{part}": value for part, value in tiled.items()})
        if self.spatial_head and "fc.weight" in state:
            weight = np.asarray(state["fc.weight"])
            if weight.shape[0] * FINAL_SIDE ** 2 == self.fc.weight.shape[0]:
                state["fc.weight"] = np.repeat(weight, FINAL_SIDE ** 2, axis=0) / FINAL_SIDE ** 2
        return state


def tiled_head(state, part, param):
    """A branch's head (`part`: weight or bias) from a plain network's K-class fc: copies of it where the branch
    answers a multiple of K classes (the two expression heads both start as the masked model's); else None."""
    plain = np.asarray(state.get(f"fc.{part}", np.zeros(0)))
    count = param.shape[-1]
    if plain.ndim == len(param.shape) and plain.shape[-1] and count % plain.shape[-1] == 0 and \
            plain.shape[:-1] == tuple(param.shape[:-1]):
        return np.tile(plain, [1] * (plain.ndim - 1) + [count // plain.shape[-1]])
    return None


def check_branches(branches, class_num, grown):
    if branches is None:
        return []
    if not (isinstance(branches, list) and len(branches) >= 2 and all(type(b) is int and b >= 1 for b in branches)):
        raise ConfigError(f"FaceCNN branches: two or more class counts, e.g. [3, 8]; got {branches!r}")
    if sum(branches) != class_num:
        raise ConfigError(f"FaceCNN branches {branches} add up to {sum(branches)}, not Arch.class_num {class_num}")
    if grown:
        raise ConfigError("FaceCNN branches: not with se_reduction or spatial_head (a branch copies the plain "
                          "last stage); drop one")
    return branches


def widen_channels(model, state, noise=0.01, seed=0):
    """A narrower FaceCNN's weights fitted to `model`'s widths, so that the wide network starts with the narrow
    one's answers (Net2WiderNet, Chen et al., ICLR 2016): new channel j of a layer copies old channel j mod n, with
    its batch-norm statistics, and the next layer's weights from each copied channel are divided by the number of
    its copies, so the sum they feed on is unchanged. Copies get gradients alike and would stay alike; a seeded
    noise of `noise` times each layer's weight spread breaks the tie (the answers move by about that much).
    A state already of the model's widths is returned as it is."""
    own = model.state_dict()
    convs = [i for i, layer in enumerate(model.features) if isinstance(layer, nn.Conv2D)]
    shapes = [(np.shape(state[f"features.{i}.weight"]) if f"features.{i}.weight" in state else None,
               tuple(own[f"features.{i}.weight"].shape)) for i in convs]
    if any(old is None for old, _ in shapes) or all(old == new for old, new in shapes):
        return state                                 # another network, or the model's own widths: nothing to widen
    rng = np.random.default_rng(seed)
    state = dict(state)
    copied_from, share = None, None     # the old channel each new input channel copies, and 1 / its copies
    for index in convs:
        weight = np.asarray(state[f"features.{index}.weight"], np.float32)
        wide_out, wide_in = own[f"features.{index}.weight"].shape[:2]
        if copied_from is not None:
            weight = weight[:, copied_from] * share[None, :, None, None]
        if weight.shape[1] != wide_in or weight.shape[0] > wide_out:
            return state                             # not a narrower twin: the loader names the mismatch
        copied_from = np.arange(wide_out) % weight.shape[0]
        share = (1.0 / np.bincount(copied_from)[copied_from]).astype(np.float32)
        widened = weight[copied_from]
        copies = np.arange(wide_out) >= weight.shape[0]
        widened[copies] += noise * weight.std() * rng.standard_normal(widened[copies].shape).astype(np.float32)
        state[f"features.{index}.weight"] = widened
        for part in ("weight", "bias", "_mean", "_variance"):        # the batch norm right after the conv
            key = f"features.{index + 1}.{part}"
            state[key] = np.asarray(state[key])[copied_from]
    fc = np.asarray(state["fc.weight"])
    if fc.shape[0] < len(copied_from):
        state["fc.weight"] = (fc[copied_from] * share[:, None]).astype(fc.dtype)
    return state


@BACKBONES.register(params_from=FaceCNN)
def FaceCNN_x0_5(pretrained=False, **kwargs):
    """Half width (16-128 channels)."""
    return FaceCNN(scale=0.5, **kwargs)


@BACKBONES.register(params_from=FaceCNN)
def FaceCNN_x1_0(pretrained=False, **kwargs):
    return FaceCNN(**kwargs)


@BACKBONES.register(params_from=FaceCNN)
def FaceCNN_x2_0(pretrained=False, **kwargs):
    """Double width (64-512 channels)."""
    return FaceCNN(scale=2.0, **kwargs)


def _built_class(factory):
    """The network class a paddleclas factory builds (PPLCNet for PPLCNet_x0_25): the longest class name of its
    module that starts the factory's name. The factory passes a config's keys on to it through **kwargs."""
    module = sys.modules[factory.__module__]
    classes = [c for name, c in vars(module).items() if inspect.isclass(c) and issubclass(c, nn.Layer)
               and factory.__name__.startswith(name)]
    return max(classes, key=lambda c: len(c.__name__), default=None)


# The ranges of paddleclas's parameters, which its signatures leave unannotated.
PADDLECLAS_KINDS = {"class_num": COUNT, "scale": POSITIVE, "dropout_prob": FRACTION, "class_expand": COUNT}

for _name in dir(backbone):
    _factory = getattr(backbone, _name)
    if _name[0].isupper() and inspect.isfunction(_factory):
        BACKBONES.register(_factory, name=_name, params_from=_built_class(_factory), kinds=PADDLECLAS_KINDS)


def build_backbone(arch, name_prefix=None):
    """One backbone from an Arch mapping, built in a fresh name scope so that the same architecture can be built
    twice per process (its parameter names then match the exported model's); name_prefix starts every parameter
    name, for members that share one exported graph."""
    arch = dict(arch)
    name = arch.pop("name")
    with paddle.utils.unique_name.guard(name_prefix):
        return BACKBONES.build(name, arch, where="Arch: ", pretrained=False)
