"""Load PaddleClas-schema YAML configs, apply `-o Key.sub=value` overrides, reject unknown keys."""
import copy
import difflib
import re
from pathlib import Path

import yaml

from basics import atomic_write_text

from .errors import ConfigError
from .registry import BATCH_TRANSFORMS, LOSSES, METRICS, TRANSFORMS

__all__ = ["ConfigError", "load_config", "dump_config", "flatten", "validate", "parse_number"]


class OpList:
    """A YAML list of one-key dicts, `- OpName: {param: value}`, each op from a registry (engine/registry.py)."""

    def __init__(self, registry):
        self.registry = registry


class Leaf:
    """A value of one kind: int, float (also a fraction like 1.0/255.0), bool, str, list, or any; `null` is
    allowed where PaddleClas writes it (optional values)."""

    def __init__(self, kind="any", nullable=True, low=None, high=None, low_open=False, high_open=False):
        self.kind, self.nullable = kind, nullable
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open

    def within(self, low=None, high=None, low_open=False, high_open=False) -> "Leaf":
        """The same kind of value, limited to a range (a count at least 1, a rate above 0, a probability...)."""
        return Leaf(self.kind, self.nullable, low, high, low_open, high_open)

    def check(self, value, where):
        if value is None and self.nullable or self.kind == "any":
            return
        ok = {"int": isinstance(value, int) and not isinstance(value, bool),
              "bool": isinstance(value, bool),
              "str": isinstance(value, str),
              "list": isinstance(value, list)}.get(self.kind)
        if self.kind == "float":
            try:
                ok = not isinstance(value, bool) and parse_number(value) is not None
            except ConfigError:
                ok = False
        if not ok:
            example = {"int": "3", "float": "0.1", "bool": "True", "str": "a name or path",
                       "list": "[1, 2]"}[self.kind]
            raise ConfigError(f"'{where.rstrip('.')}' must be a{'n' if self.kind == 'int' else ''} {self.kind} "
                              f"(for example {example}), got {value!r}")
        if value is None or (self.low is None and self.high is None):
            return
        number = parse_number(value, where)
        below = self.low is not None and (number <= self.low if self.low_open else number < self.low)
        above = self.high is not None and (number >= self.high if self.high_open else number > self.high)
        if below or above:
            lower = "" if self.low is None else f"{'above' if self.low_open else 'at least'} {self.low:g}"
            upper = "" if self.high is None else f"{'below' if self.high_open else 'at most'} {self.high:g}"
            raise ConfigError(f"'{where.rstrip('.')}' must be {' and '.join(filter(None, (lower, upper)))}, "
                              f"got {value!r}")


INT, FLOAT, BOOL, STR, LIST, ANY = (Leaf(k) for k in ("int", "float", "bool", "str", "list", "any"))
COUNT, NONNEGATIVE_INT = INT.within(1), INT.within(0)
POSITIVE, NONNEGATIVE, FRACTION = FLOAT.within(0, low_open=True), FLOAT.within(0), FLOAT.within(0, 1, high_open=True)
LOADER = {
    # pair_root: PairedImageNetDataset's (this project's), the folder with each listed image's pair.
    # teacher_only_classes (this project's): ids in the list beyond Arch.class_num whose faces a DistillationModel
    # learns from its teacher's answer alone.
    "dataset": {"name": STR, "image_root": STR, "cls_label_path": STR, "pair_root": STR,
                "teacher_only_classes": LIST,
                "transform_ops": OpList(TRANSFORMS),
                "batch_transform_ops": OpList(BATCH_TRANSFORMS)},
    "sampler": {"name": STR, "batch_size": COUNT, "drop_last": BOOL, "shuffle": BOOL},
    "loader": {"num_workers": NONNEGATIVE_INT, "use_shared_memory": BOOL},
}
# stride_list / max_pool (PPLCNet, ResNet): fewer early downsamplings keep detail in 48 px faces.
# se_reduction / spatial_head (FaceCNN, engine/backbones.py): squeeze-excitation, and a head over the last map.
BACKBONE = {"name": STR, "class_num": COUNT, "scale": POSITIVE, "dropout_prob": FRACTION, "class_expand": COUNT,
            "use_last_conv": BOOL, "stride_list": LIST, "max_pool": BOOL, "se_reduction": NONNEGATIVE_INT,
            "spatial_head": BOOL}
SCHEMA = {
    "Global": {
        "checkpoints": STR, "pretrained_model": STR, "output_dir": STR, "device": STR, "save_interval": COUNT,
        "eval_during_train": BOOL, "eval_interval": COUNT, "epochs": COUNT, "print_batch_step": COUNT,
        "use_visualdl": BOOL, "image_shape": LIST, "save_inference_dir": STR, "seed": INT,
        "keep_checkpoints": NONNEGATIVE_INT,
        # This project's: the dataset folder, which sets the five data paths (apply_dataset).
        "dataset": STR,
        # This project's: which list of Global.dataset the Eval loader reads (EVAL_SPLITS).
        "eval_split": STR,
        # This project's: evaluation and the exported model average each face's answer with its mirror image's.
        "flip_average": BOOL,
        # This project's: ... and over these views too, each [share of the side, dx, dy] (engine/model.py).
        "view_average": LIST,
        # This project's: evaluation and the exported model answer with the first N classes alone, for a model
        # trained on more (FER2013's seven, or the four plus "other") that is asked about the four.
        "answer_classes": COUNT,
    },
    "Arch": {**BACKBONE,
             # PaddleClas's DistillationModel (engine/ensembles.py): members, each a BACKBONE mapping plus `pretrained`.
             "models": LIST, "freeze_params_list": LIST, "infer_model_name": STR},
    "Loss": {"Train": OpList(LOSSES), "Eval": OpList(LOSSES)},
    "Optimizer": {
        "name": STR, "momentum": FRACTION, "use_nesterov": BOOL, "beta1": FRACTION, "beta2": FRACTION,
        "epsilon": POSITIVE, "weight_decay": NONNEGATIVE,
        "lr": {"name": STR, "learning_rate": POSITIVE, "warmup_epoch": NONNEGATIVE, "warmup_start_lr": NONNEGATIVE,
               "eta_min": NONNEGATIVE, "decay_epochs": LIST, "values": LIST},
        "regularizer": {"name": STR, "coeff": NONNEGATIVE},
    },
    "DataLoader": {"Train": LOADER, "Eval": LOADER},
    "Infer": {
        "infer_imgs": STR, "batch_size": COUNT, "transforms": OpList(TRANSFORMS),
        "PostProcess": {"name": STR, "topk": COUNT, "class_id_map_file": STR},
    },
    "Metric": {"Train": OpList(METRICS), "Eval": OpList(METRICS)},
    # PaddleClas's: an exponential moving average of the weights, evaluated and saved beside them (engine/ema.py).
    "EMA": {"decay": FRACTION},
}

# The key under which a resolved config records the files it was merged from (a dumped config.yaml has it).
RESOLVED_FROM = "_resolved_from_"

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
    if isinstance(schema, Leaf):
        schema.check(node, where)
        return
    if isinstance(schema, OpList):
        if not isinstance(node, list):
            raise ConfigError(f"'{where.rstrip('.')}' must be a list of '- OpName: {{params}}' items")
        for item in node:
            if not isinstance(item, dict) or len(item) != 1:
                raise ConfigError(f"'{where.rstrip('.')}': each item must be one '- OpName: {{params}}', got {item!r}")
            (name, params), = item.items()
            if name not in schema.registry:
                raise _unknown(name, schema.registry.names(), where)
            if params is not None and not isinstance(params, dict):
                raise ConfigError(f"'{where}{name}' parameters must be a mapping, got {params!r}")
            allowed = schema.registry.params(name)
            for param in params or {}:
                if param not in allowed:
                    raise _unknown(param, allowed, f"{where}{name}.")
        return
    if node is None:
        return
    if not isinstance(node, dict):
        raise ConfigError(f"'{where.rstrip('.')}' must be a mapping with keys among {sorted(schema)}")
    for key, value in node.items():
        if key not in schema:
            raise _unknown(key, schema, where)
        _check(value, schema[key], f"{where}{key}.")


def validate(config):
    """Raise ConfigError on any key the engine does not know (so a typo never passes silently)."""
    _check(flatten(config), SCHEMA, "")
    for section in ("Global", "Arch"):
        if section not in config:
            raise ConfigError(f"the config has no '{section}' section")
    if "name" not in config["Arch"] or "class_num" not in config["Arch"]:
        raise ConfigError("Arch needs 'name' (a paddleclas backbone) and 'class_num'")
    answered = config["Global"].get("answer_classes")
    if answered is not None and answered > config["Arch"]["class_num"]:
        raise ConfigError(f"Global.answer_classes ({answered}) must be at most Arch.class_num "
                          f"({config['Arch']['class_num']}): it keeps the first classes of those trained")
    for member in config["Arch"].get("models") or []:
        if isinstance(member, dict) and len(member) == 1:
            (name, spec), = member.items()
            _check(spec, {**BACKBONE, "pretrained": STR, "answers": LIST, "flip_average": BOOL, "view_average": LIST},
                   f"Arch.models.{name}.")
            if not isinstance(spec, dict) or "name" not in spec:
                raise ConfigError(f"Arch.models.{name} needs a 'name' (a backbone)")
    return config


def apply_override(config, override):
    """Set one "A.b.c=value" override in place; the value is parsed as YAML. Returns the keys, ["A", "b", "c"]."""
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
            return keys
        else:
            if not isinstance(schema[key], dict):
                raise ConfigError(f"override {override!r}: '{where}{key}' is a list or a value; edit it in the YAML")
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {override!r}: '{where}{key}' is not a mapping")
            schema, where = schema[key], f"{where}{key}."


def _read_yaml(path):
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
    return config


def merge(base, child):
    """mmengine's rule: mappings merge key by key, anything else (lists included) is replaced by the child's."""
    merged = copy.deepcopy(base)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _load_chain(path, seen=()):
    """(config with its `_base_` files merged under it, [the files, base first])."""
    path = Path(path).resolve()
    if path in seen:
        raise ConfigError(f"{path}: _base_ files include each other ({' -> '.join(map(str, (*seen, path)))})")
    config = _read_yaml(path)
    bases = config.pop("_base_", [])
    bases = [bases] if isinstance(bases, str) else bases
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise ConfigError(f"{path}: _base_ must be a file name or a list of them, relative to this file")
    try:
        # Each file must be valid on its own terms: a misspelt key is reported with the file that holds it.
        _check(flatten(config), SCHEMA, "")
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    merged, chain = {}, []
    for base in bases:
        base_config, base_chain = _load_chain(path.parent / base, (*seen, path))
        merged, chain = merge(merged, base_config), chain + base_chain
    return merge(merged, config), chain + [str(path)]


# Global.eval_split: the lists of a dataset folder that evaluation may read.
EVAL_SPLITS = {"val": "the validation split carved from Training: every choice (best epoch, views, variants)",
               "eval": "FER2013 PublicTest, the test set: report a finished model on it once",
               "test": "FER2013 PrivateTest, where the CSV has it"}


def apply_dataset(config):
    """Global.dataset (this project's key; PaddleClas ignores it), the folder tools/make_dataset.py wrote, sets
    the five paths that name it: image_root and cls_label_path of DataLoader.Train and .Eval, and the label map.
    Switching a config between masked and unmasked faces is then one override, -o Global.dataset=...
    The Eval loader reads Global.eval_split's list: the validation split unless told otherwise."""
    root = config.get("Global", {}).get("dataset")
    eval_split = config.get("Global", {}).get("eval_split", "val")
    if eval_split not in EVAL_SPLITS:
        raise ConfigError(f"'Global.eval_split' must be one of {', '.join(EVAL_SPLITS)}, got {eval_split!r}: "
                          + "; ".join(f"{k}: {v}" for k, v in EVAL_SPLITS.items()))
    if not root and "eval_split" in config.get("Global", {}):
        # A resolved config (a run's config.yaml) names its lists: the asked-for one is beside its Eval list.
        dataset = config.get("DataLoader", {}).get("Eval", {}).get("dataset", {})
        current = Path(str(dataset.get("cls_label_path", "")))
        if not current.name.endswith("_list.txt"):
            raise ConfigError(f"'Global.eval_split' picks a list of a tools/make_dataset.py folder, but the Eval "
                              f"list is {str(current)!r}: give -o Global.dataset=FOLDER too, or set "
                              "DataLoader.Eval.dataset.cls_label_path")
        dataset["cls_label_path"] = str(current.with_name(f"{eval_split}_list.txt"))
        return config
    if not root or not isinstance(root, str):  # a wrong type is validate's to report
        return config
    root = root.rstrip("/")
    for mode, split in (("Train", "train"), ("Eval", eval_split)):
        dataset = config.setdefault("DataLoader", {}).setdefault(mode, {}).setdefault("dataset", {})
        dataset["image_root"], dataset["cls_label_path"] = f"{root}/", f"{root}/{split}_list.txt"
    config.setdefault("Infer", {}).setdefault("PostProcess", {})["class_id_map_file"] = f"{root}/label_list.txt"
    return config


def apply_infer_transforms(config):
    """Infer.transforms, what ships, is the Eval ops plus ToCHWImage (PaddleClas's own fallback in
    dump_infer_config) when a config leaves it out; when it gives both, they must agree."""
    eval_ops = config.get("DataLoader", {}).get("Eval", {}).get("dataset", {}).get("transform_ops")
    if not eval_ops:
        return config
    expected = [*eval_ops, {"ToCHWImage": None}]
    infer = config.setdefault("Infer", {})
    if "transforms" not in infer:
        infer["transforms"] = copy.deepcopy(expected)
        return config
    given = infer["transforms"]
    for index, (want, got) in enumerate(zip(expected, given)):
        if want != got and not (list(want) == list(got) == ["ToCHWImage"]):
            raise ConfigError(f"Infer.transforms[{index}] is {got!r} but evaluation ran {want!r}: what ships must be "
                              "what was evaluated (drop Infer.transforms to have it made from the Eval ops)")
    if len(given) != len(expected):
        raise ConfigError(f"Infer.transforms has {len(given)} ops, the Eval ops plus ToCHWImage are {len(expected)}: "
                          "drop Infer.transforms to have it made from the Eval ops")
    return config


def load_config(path, overrides=()):
    """The config at `path`, merged over its `_base_` files, with `overrides` applied, validated against
    PaddleClas's schema; the chain of files it came from, base first, is recorded in it as RESOLVED_FROM."""
    config, chain = _load_chain(path)
    config.pop(RESOLVED_FROM, None)
    # Global.dataset sets the data paths where it is given, in the files or on the command line; a path given on
    # the command line after it wins. The resolved config keeps the paths alone, so that loading it again (a run's
    # saved config.yaml) cannot set them back from the folder.
    apply_dataset(config)
    for override in overrides:
        if apply_override(config, override) in (["Global", "dataset"], ["Global", "eval_split"]):
            apply_dataset(config)
    validate(config)
    config.get("Global", {}).pop("dataset", None)
    config.get("Global", {}).pop("eval_split", None)
    apply_infer_transforms(config)
    config[RESOLVED_FROM] = chain
    return config


def flatten(config):
    """The config as a PaddleClas checkout reads it: everything resolved, no `_base_` and no record of it."""
    return {key: value for key, value in config.items() if key != RESOLVED_FROM}


def dump_config(config, path):
    """Write the resolved config (what actually ran) as YAML, atomically."""
    atomic_write_text(path, yaml.safe_dump(config, sort_keys=False))
