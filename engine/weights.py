"""Weights and checkpoints: loading a model's weights from a training checkpoint or an exported model, and saving
and restoring whole training states, each file written so that a kill leaves no torn one."""
import json
from pathlib import Path

import paddle

from basics import UserError, atomic_write_text, written_atomically

from .logger import log


class WeightsError(UserError, ValueError):
    """Weights that do not fit the model; the message names the file."""


def exported_weights(model, prefix) -> dict:
    """The weights of an exported model (`prefix`.pdmodel + .pdiparams, as engine.export writes them) for `model`,
    key -> array, matched by parameter name: both come from build_model's fresh name scope. So an exported model
    can be re-exported (other views), evaluated without its training checkpoint, or start a training."""
    import numpy as np

    paddle.enable_static()
    try:
        scope = paddle.static.Scope()
        with paddle.static.scope_guard(scope):
            program, _, _ = paddle.static.load_inference_model(str(prefix), paddle.static.Executor(paddle.CPUPlace()))
            values = {}
            for var in program.list_vars():
                if var.persistable and var.name not in ("feed", "fetch") and scope.find_var(var.name) is not None:
                    values[var.name] = np.array(scope.find_var(var.name).get_tensor())
    finally:
        paddle.disable_static()
    return {key: values[p.name] for key, p in model.state_dict().items() if p.name in values}


def _params_file(prefix):
    prefix = str(prefix)
    return Path(prefix if prefix.endswith(".pdparams") else prefix + ".pdparams")


def load_weights(model, prefix, finetune=False):
    """Load `prefix`.pdparams, or an exported model's `prefix`.pdiparams (`inference/inference`: .pdmodel and
    .pdiparams, no .pdparams), into `model`; any missing key or shape mismatch is an error naming the file. A
    plainer variant's weights are first fitted to the model where the backbone knows how (FaceCNN.fit_pretrained).

    finetune=True (Global.pretrained_model in training) keeps the model's own initial values for parameters whose
    shapes differ, as PaddleClas does, so that a model trained on other classes (another class_num) starts a new
    head; it returns the names of those parameters.
    """
    path = _params_file(prefix)
    if not path.is_file() and Path(f"{prefix}.pdmodel").is_file() and Path(f"{prefix}.pdiparams").is_file():
        path, state = Path(f"{prefix}.pdiparams"), exported_weights(model, prefix)
    elif not path.is_file():
        raise WeightsError(f"weights file {path} not found (give the prefix, e.g. output/ResNet18/best_model)")
    else:
        state = paddle.load(str(path))
    state = model.fit_pretrained(state) if hasattr(model, "fit_pretrained") else state
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
    model.set_state_dict({k: v if k in wrong else paddle.to_tensor(state[k]) for k, v in own.items()})
    return wrong


def log_new_head(names, whose=""):
    """Warn of the parameters that load_weights(finetune=True) left at their initial values, if any."""
    if names:
        log.warning("%s%d parameter(s) of another shape keep their initial values (a new head): %s", whose,
                    len(names), "; ".join(names))


# A checkpoint's averaged weights (engine/ema.py), beside its own.
EMA_SUFFIX = ".ema.pdparams"


def save_checkpoint(model, optimizer, state, prefix, ema=None):
    """prefix.pdparams / .pdopt / .json (and .ema.pdparams with an EMA), each written to a temp file and renamed so
    a kill leaves no torn file."""
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    parts = [(".pdparams", model.state_dict()), (".pdopt", optimizer.state_dict())]
    if ema is not None:
        parts.append((EMA_SUFFIX, ema.state_dict()))
    for suffix, obj in parts:
        with written_atomically(prefix.with_name(prefix.name + suffix)) as tmp:
            paddle.save(obj, str(tmp))
    atomic_write_text(prefix.with_name(prefix.name + ".json"), json.dumps(state, indent=1))


def load_checkpoint(model, optimizer, prefix, ema=None):
    """Restore weights, optimizer (with its lr schedule) and EMA from `prefix`; returns the saved state dict."""
    prefix = Path(str(prefix).removesuffix(".pdparams"))
    opt, meta = prefix.with_name(prefix.name + ".pdopt"), prefix.with_name(prefix.name + ".json")
    averaged = prefix.with_name(prefix.name + EMA_SUFFIX)
    for path in (opt, meta):
        if not path.is_file():
            raise WeightsError(f"checkpoint file {path} not found: Global.checkpoints takes a prefix such as "
                               "output/ResNet18/latest")
    if ema is not None and not averaged.is_file():
        raise WeightsError(f"{averaged} not found: this checkpoint was saved without EMA; resume it without the EMA "
                           "section, or start a new run")
    load_weights(model, prefix)
    optimizer.set_state_dict(paddle.load(str(opt)))
    if ema is not None:
        ema.set_state_dict(paddle.load(str(averaged)))
    return json.loads(meta.read_text(encoding="utf-8"))


def remove_checkpoint(prefix):
    for suffix in (".pdparams", ".pdopt", ".json", EMA_SUFFIX):
        Path(str(prefix) + suffix).unlink(missing_ok=True)
