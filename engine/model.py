"""Backbones from the paddleclas wheel, weight loading with clear errors, and Paddle-format checkpoints."""
import difflib
import json
from pathlib import Path

import paddle
from paddleclas.ppcls.arch import backbone

from .config import ConfigError


class WeightsError(ValueError):
    """Weights that do not fit the model; the message names the file."""


def build_model(config):
    """The Arch backbone, built in a fresh name scope so the same architecture can be built twice per process."""
    arch = dict(config["Arch"])
    name = arch.pop("name")
    factory = getattr(backbone, name, None)
    if not callable(factory) or name.startswith("_"):
        names = [n for n in dir(backbone) if not n.startswith("_") and n[0].isupper()]
        close = difflib.get_close_matches(name, names, n=1)
        raise ConfigError(f"Arch.name {name!r} is not a paddleclas backbone"
                          + (f"; did you mean '{close[0]}'?" if close else ""))
    with paddle.utils.unique_name.guard():
        try:
            return factory(pretrained=False, **arch)
        except TypeError as error:
            raise ConfigError(f"Arch: {name} does not accept these parameters: {error}") from None


def _params_file(prefix):
    prefix = str(prefix)
    return Path(prefix if prefix.endswith(".pdparams") else prefix + ".pdparams")


def load_weights(model, prefix):
    """Load `prefix`.pdparams into `model`; any missing key or shape mismatch is an error naming the file."""
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
    wrong = [f"{k} {list(state[k].shape)} vs {list(v.shape)}" for k, v in own.items()
             if list(state[k].shape) != list(v.shape)]
    if wrong:
        raise WeightsError(f"{path} does not fit the model, shapes differ (file vs model): {wrong[0]}"
                           f"{f' and {len(wrong) - 1} more' if len(wrong) > 1 else ''}: check Arch.class_num "
                           "and Arch.name")
    model.set_state_dict({k: state[k] for k in own})


def save_checkpoint(model, optimizer, state, prefix):
    """prefix.pdparams / .pdopt / .json, each written to a temp file and renamed so a kill leaves no torn file."""
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    for suffix, obj in ((".pdparams", model.state_dict()), (".pdopt", optimizer.state_dict())):
        tmp = prefix.with_name(prefix.name + suffix + ".tmp")
        paddle.save(obj, str(tmp))
        tmp.replace(prefix.with_name(prefix.name + suffix))
    tmp = prefix.with_name(prefix.name + ".json.tmp")
    tmp.write_text(json.dumps(state, indent=1), encoding="utf-8")
    tmp.replace(prefix.with_name(prefix.name + ".json"))


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
