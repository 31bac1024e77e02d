"""Backbones from the paddleclas wheel, weight loading with clear errors, and Paddle-format checkpoints."""
import difflib
import json
from pathlib import Path

import paddle
import paddle.nn.functional as F
from paddleclas.ppcls.arch import backbone

from basics import UserError, atomic_write_text, written_atomically

from .backbones import BACKBONES
from .config import ConfigError


class WeightsError(UserError, ValueError):
    """Weights that do not fit the model; the message names the file."""


def build_model(config):
    """The Arch backbone (the project's small-face ones, then paddleclas's), built in a fresh name scope so the
    same architecture can be built twice per process."""
    arch = dict(config["Arch"])
    name = arch.pop("name")
    factory = BACKBONES.get(name) or getattr(backbone, name, None)
    if not callable(factory) or name.startswith("_"):
        names = list(BACKBONES) + [n for n in dir(backbone) if not n.startswith("_") and n[0].isupper()]
        close = difflib.get_close_matches(name, names, n=1)
        raise ConfigError(f"Arch.name {name!r} is neither a FaceCNN nor a paddleclas backbone"
                          + (f"; did you mean '{close[0]}'?" if close else ""))
    with paddle.utils.unique_name.guard():
        try:
            return factory(pretrained=False, **arch)
        except TypeError as error:
            raise ConfigError(f"Arch: {name} does not accept these parameters: {error}") from None


class DeployedModel(paddle.nn.Layer):
    """What evaluation measures and export saves: class probabilities (softmax in the graph); with
    Global.flip_average, the mean of each face's and its mirror image's, both run as one batch."""

    def __init__(self, model, flip_average=False):
        super().__init__()
        self.model, self.flip_average = model, flip_average

    def forward(self, x):
        if not self.flip_average:
            return F.softmax(self.model(x), axis=-1)
        probs = F.softmax(self.model(paddle.concat([x, paddle.flip(x, axis=[3])])), axis=-1)
        return probs.reshape([2, -1, probs.shape[-1]]).mean(axis=0)


def as_deployed(model, config):
    return DeployedModel(model, bool(config["Global"].get("flip_average", False)))


def _params_file(prefix):
    prefix = str(prefix)
    return Path(prefix if prefix.endswith(".pdparams") else prefix + ".pdparams")


def load_weights(model, prefix, finetune=False):
    """Load `prefix`.pdparams into `model`; any missing key or shape mismatch is an error naming the file.

    finetune=True (Global.pretrained_model in training) keeps the model's own initial values for parameters whose
    shapes differ, as PaddleClas does, so that a model trained on other classes (another class_num) starts a new
    head; it returns the names of those parameters.
    """
    path = _params_file(prefix)
    if not path.is_file():
        raise WeightsError(f"weights file {path} not found (give the prefix, e.g. output/ResNet18/best_model)")
    state = paddle.load(str(path))
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    if len(missing) == len(own):
        raise WeightsError(f"{path} holds weights of another architecture (none of {type(model).__name__}'s "
                           "parameters are in it): check Arch.name or the weights file")
    if missing:
        raise WeightsError(f"{path} lacks {len(missing)} of the model's parameters (first: {missing[0]}): "
                           "it was saved from another architecture or variant")
    wrong = [k for k, v in own.items() if list(state[k].shape) != list(v.shape)]
    described = [f"{k} {list(state[k].shape)} vs {list(own[k].shape)}" for k in wrong]
    if wrong and (not finetune or len(wrong) > len(own) // 2):
        raise WeightsError(f"{path} does not fit the model, shapes differ (file vs model): {described[0]}"
                           f"{f' and {len(wrong) - 1} more' if len(wrong) > 1 else ''}: check Arch.class_num "
                           "and Arch.name")
    model.set_state_dict({k: v if k in wrong else state[k] for k, v in own.items()})
    return wrong


def save_checkpoint(model, optimizer, state, prefix):
    """prefix.pdparams / .pdopt / .json, each written to a temp file and renamed so a kill leaves no torn file."""
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    for suffix, obj in ((".pdparams", model.state_dict()), (".pdopt", optimizer.state_dict())):
        with written_atomically(prefix.with_name(prefix.name + suffix)) as tmp:
            paddle.save(obj, str(tmp))
    atomic_write_text(prefix.with_name(prefix.name + ".json"), json.dumps(state, indent=1))


def load_checkpoint(model, optimizer, prefix):
    """Restore weights and optimizer (with its lr schedule) from `prefix`; returns the saved state dict."""
    prefix = Path(str(prefix).removesuffix(".pdparams"))
    opt, meta = prefix.with_name(prefix.name + ".pdopt"), prefix.with_name(prefix.name + ".json")
    for path in (opt, meta):
        if not path.is_file():
            raise WeightsError(f"checkpoint file {path} not found: Global.checkpoints takes a prefix such as "
                               "output/ResNet18/latest")
    load_weights(model, prefix)
    optimizer.set_state_dict(paddle.load(str(opt)))
    return json.loads(meta.read_text(encoding="utf-8"))


def remove_checkpoint(prefix):
    for suffix in (".pdparams", ".pdopt", ".json"):
        Path(str(prefix) + suffix).unlink(missing_ok=True)
