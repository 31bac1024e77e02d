"""Load PaddleClas-schema YAML configs, apply `-o Key.sub=value` overrides, reject unknown keys."""
import copy
import difflib
import re
from pathlib import Path

import yaml


class ConfigError(ValueError):
    """A config or override that the engine cannot run; the message says what to change."""


# Transform ops and their parameters, as PaddleClas names them.
TRANSFORMS = {
    "DecodeImage": {"to_rgb", "channel_first"},
    "ResizeImage": {"size", "resize_short", "interpolation", "backend"},
    "RandCropImage": {"size", "scale", "ratio", "interpolation", "backend"},
    "RandFlipImage": {"flip_code"},
    "CropImage": {"size"},
    "NormalizeImage": {"scale", "mean", "std", "order", "output_fp16", "channel_num"},
    "ToCHWImage": set(),
}
LOSSES = {"CELoss": {"weight", "epsilon", "class_weight"}}
METRICS = {"TopkAcc": {"topk"}}


class OpList:
    """A YAML list of one-key dicts, `- OpName: {param: value}`, each op from a known set."""

    def __init__(self, ops):
        self.ops = ops


LEAF = None
LOADER = {
    "dataset": {"name": LEAF, "image_root": LEAF, "cls_label_path": LEAF, "transform_ops": OpList(TRANSFORMS)},
    "sampler": {"name": LEAF, "batch_size": LEAF, "drop_last": LEAF, "shuffle": LEAF},
    "loader": {"num_workers": LEAF, "use_shared_memory": LEAF},
}
SCHEMA = {
    "Global": dict.fromkeys([
        "checkpoints", "pretrained_model", "output_dir", "device", "save_interval", "eval_during_train",
        "eval_interval", "epochs", "print_batch_step", "use_visualdl", "image_shape", "save_inference_dir",
        "seed", "keep_checkpoints",
    ]),
    # stride_list / max_pool (PPLCNet, ResNet): fewer early downsamplings keep detail in 48 px faces.
    # infer_blur_sigma (FaceCNN): blur evaluation and deployed faces as the training faces were (engine/backbones.py).
    "Arch": dict.fromkeys(["name", "class_num", "scale", "dropout_prob", "class_expand", "use_last_conv",
                           "stride_list", "max_pool", "infer_blur_sigma"]),
    "Loss": {"Train": OpList(LOSSES), "Eval": OpList(LOSSES)},
    "Optimizer": {
        "name": LEAF, "momentum": LEAF, "beta1": LEAF, "beta2": LEAF, "epsilon": LEAF,
        "lr": dict.fromkeys(["name", "learning_rate", "warmup_epoch", "warmup_start_lr", "eta_min",
                             "decay_epochs", "values"]),
        "regularizer": {"name": LEAF, "coeff": LEAF},
    },
    "DataLoader": {"Train": LOADER, "Eval": LOADER},
    "Infer": {
        "infer_imgs": LEAF, "batch_size": LEAF, "transforms": OpList(TRANSFORMS),
        "PostProcess": {"name": LEAF, "topk": LEAF, "class_id_map_file": LEAF},
    },
    "Metric": {"Train": OpList(METRICS), "Eval": OpList(METRICS)},
}

_FRACTION = re.compile(r"^\s*([0-9.]+(?:[eE][-+]?\d+)?)\s*/\s*([0-9.]+(?:[eE][-+]?\d+)?)\s*$")


def parse_number(value, where="value"):
    """A number, or a fraction written as text ("1.0/255.0" in PaddleClas configs), without eval."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        match = _FRACTION.match(value)
        if match:
            return float(match.group(1)) / float(match.group(2))
        try:
            return float(value)
        except ValueError:
            pass
    raise ConfigError(f"{where}: {value!r} is not a number or a fraction like 1.0/255.0")


def _unknown(key, valid, where):
    close = difflib.get_close_matches(str(key), sorted(valid), n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else f"; valid keys: {', '.join(sorted(valid))}"
    return ConfigError(f"unknown key '{where}{key}'{hint}")


def _check(node, schema, where):
    if schema is LEAF:
        return
    if isinstance(schema, OpList):
        if not isinstance(node, list):
            raise ConfigError(f"'{where.rstrip('.')}' must be a list of '- OpName: {{params}}' items")
        for item in node:
            if not isinstance(item, dict) or len(item) != 1:
                raise ConfigError(f"'{where.rstrip('.')}': each item must be one '- OpName: {{params}}', got {item!r}")
            (name, params), = item.items()
            if name not in schema.ops:
                raise _unknown(name, schema.ops, where)
            if params is not None and not isinstance(params, dict):
                raise ConfigError(f"'{where}{name}' parameters must be a mapping, got {params!r}")
            for param in params or {}:
                if param not in schema.ops[name]:
                    raise _unknown(param, schema.ops[name], f"{where}{name}.")
        return
    if not isinstance(node, dict):
        raise ConfigError(f"'{where.rstrip('.')}' must be a mapping with keys among {sorted(schema)}")
    for key, value in node.items():
        if key not in schema:
            raise _unknown(key, schema, where)
        _check(value, schema[key], f"{where}{key}.")


def validate(config):
    """Raise ConfigError on any key the engine does not know (so a typo never passes silently)."""
    _check(config, SCHEMA, "")
    for section in ("Global", "Arch"):
        if section not in config:
            raise ConfigError(f"the config has no '{section}' section")
    if "name" not in config["Arch"] or "class_num" not in config["Arch"]:
        raise ConfigError("Arch needs 'name' (a paddleclas backbone) and 'class_num'")
    return config


def apply_override(config, override):
    """Set one "A.b.c=value" override in place; the value is parsed as YAML."""
    if "=" not in override:
        raise ConfigError(f"override {override!r} must look like Key.sub=value")
    dotted, text = override.split("=", 1)
    keys = dotted.strip().split(".")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"override {override!r}: the value is not valid YAML ({error})") from None
    node, schema, where = config, SCHEMA, ""
    for depth, key in enumerate(keys):
        if key not in schema:
            raise _unknown(key, schema, where)
        if depth == len(keys) - 1:
            node[key] = value
        else:
            if not isinstance(schema[key], dict):
                raise ConfigError(f"override {override!r}: '{where}{key}' is a list or a value; edit it in the YAML")
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {override!r}: '{where}{key}' is not a mapping")
            schema, where = schema[key], f"{where}{key}."


def load_config(path, overrides=()):
    """The config at `path` with `overrides` applied, validated against PaddleClas's schema."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    with open(path, encoding="utf-8") as handle:
        try:
            config = yaml.safe_load(handle) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path} must hold a mapping of sections (Global, Arch, ...)")
    try:
        validate(config)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    config = copy.deepcopy(config)
    for override in overrides:
        apply_override(config, override)
    return validate(config)


def dump_config(config, path):
    """Write the resolved config (what actually ran) as YAML, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    tmp.replace(path)
