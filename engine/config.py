"""Load PaddleClas-schema YAML configs, apply `-o Key.sub=value` overrides, reject unknown keys."""
import copy
import difflib
from pathlib import Path

import yaml

from basics import atomic_write_text

from .errors import ConfigError
from .schema import ANY, BOOL, COUNT, FRACTION, INT, LIST, NONNEGATIVE, NONNEGATIVE_INT, STR, Leaf, parse_number  # noqa: F401
from .registry import (BACKBONES, BATCH_TRANSFORMS, DATASETS, LOSSES, METRICS, MODELS, OPTIMIZERS, SCHEDULES,
                       TRANSFORMS)

__all__ = ["ConfigError", "load_config", "dump_config", "flatten", "validate", "parse_number"]


class OpList:
    """A YAML list of one-key dicts, `- OpName: {param: value}`, each op from a registry (engine/registry.py)."""

    def __init__(self, registry):
        self.registry = registry


class Part:
    """A mapping whose `name` picks one part of a registry (engine/registry.py); its other keys are that part's
    parameters, which the registry reads from the part itself, besides `fixed` keys that the engine reads."""

    def __init__(self, registry, fixed=None, default=None):
        self.registry, self.fixed, self.default = registry, {"name": STR, **(fixed or {})}, default

    def child(self, key):
        """The schema of `key` below this part, for an override: a part's own parameters are checked when the
        whole config is."""
        return self.fixed.get(key, ANY)

    def check(self, node, where, whole=True):
        """whole: the merged config, where a missing name means the default; a file on its own (not whole) may
        leave the name to its _base_, and its parameters are then checked with the merged config."""
        if not isinstance(node, dict):
            raise ConfigError(f"'{where.rstrip('.')}' must be a mapping with a 'name' and its parameters")
        name = node.get("name", self.default if whole else None)
        self._check_fixed(node, where, whole)
        if name is None:
            return
        if not isinstance(name, str) or name not in self.registry:
            raise self.registry.unknown(name, f"'{where}name': ")
        self._check_params(node, self.registry.param_types(name), where, name)

    def _check_fixed(self, node, where, whole):
        for key, value in node.items():
            if key in self.fixed:
                _check(value, self.fixed[key], f"{where}{key}.", whole)

    def _check_params(self, node, params, where, name):
        for key, value in node.items():
            if key in self.fixed:
                continue
            if key not in params:
                raise _unknown(key, set(self.fixed) | set(params), where, f" ({name} takes no '{key}')")
            params[key].check(value, f"{where}{key}.")


# What a member of Arch.models may give besides its backbone's parameters (engine/ensembles.py says whose each is).
MEMBER_KEYS = {"pretrained": STR, "answers": LIST, "flip_average": BOOL, "view_average": LIST, "sees": STR}
# A DistillationModel teacher given as an exported model's prefix instead of a backbone.
EXPORTED_MEMBER_KEYS = {"exported": STR, "sees": STR}


class Architecture(Part):
    """Arch: a backbone and its parameters, or a model of several (MODELS) whose `models` list its members, each
    a backbone's mapping plus MEMBER_KEYS; the keys that such a model does not take itself (class_num,
    dropout_prob...) go to every member, so every member's backbone must take them."""

    def __init__(self):
        super().__init__(BACKBONES, {"class_num": COUNT})

    def check(self, node, where, whole=True):
        name = node.get("name") if isinstance(node, dict) else None
        if name not in MODELS:
            super().check(node, where, whole)
            return
        self._check_fixed(node, where, whole)
        own = MODELS.param_types(name)
        members = node.get("models")
        own["models"].check(members, f"{where}models.")
        shared = {k: v for k, v in node.items() if k not in own and k not in self.fixed}
        for key in shared:
            others = [other for other in MODELS.names() if other != name and key in MODELS.params(other)]
            if others:
                raise ConfigError(f"'{where}{key}' is for {', '.join(others)}: {name} does not take it")
        for index, member in enumerate(members or []):
            if not (isinstance(member, dict) and len(member) == 1 and isinstance(next(iter(member.values())), dict)):
                raise ConfigError(f"'{where}models' item {index}: list each member as '- Teacher: {{name: "
                                  f"FaceCNN_x0_5, ...}}', got {member!r}")
            (member_name, spec), = member.items()
            at = f"{where}models.{member_name}."
            if "exported" in spec:
                for key, value in spec.items():
                    if key not in EXPORTED_MEMBER_KEYS:
                        raise _unknown(key, set(EXPORTED_MEMBER_KEYS), at,
                                       f" (an exported teacher takes no '{key}': its graph is whole)")
                    EXPORTED_MEMBER_KEYS[key].check(value, f"{at}{key}.")
                continue
            if "name" not in spec:
                raise ConfigError(f"'{at}name': give the member's backbone, e.g. FaceCNN_x0_5")
            if spec["name"] not in BACKBONES:
                raise BACKBONES.unknown(spec["name"], f"'{at}name': ")
            takes = BACKBONES.param_types(spec["name"])
            self._check_fixed(spec, at, whole)
            self._check_params(spec, {**takes, **MEMBER_KEYS}, at, spec["name"])
            self._check_params(shared, takes, where, f"member {member_name}'s {spec['name']}")
        self._check_params({k: v for k, v in node.items() if k in own}, own, where, name)


LOADER = {
    # pair_root: PairedImageNetDataset's (this project's), the folder with each listed image's pair.
    # teacher_only_classes (this project's): ids in the list beyond Arch.class_num whose faces a DistillationModel
    # learns from its teacher's answer alone.
    "dataset": Part(DATASETS, {"transform_ops": OpList(TRANSFORMS), "batch_transform_ops": OpList(BATCH_TRANSFORMS)},
                    default="ImageNetDataset"),
    "sampler": {"name": STR, "batch_size": COUNT, "drop_last": BOOL, "shuffle": BOOL},
    "loader": {"num_workers": NONNEGATIVE_INT, "use_shared_memory": BOOL},
}
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
        # This project's: ... and over these views too, each [share of the side, dx, dy] (engine/views.py).
        "view_average": LIST,
        # This project's: evaluation and the exported model answer with the first N classes alone, for a model
        # trained on more (FER2013's seven, or the four plus "other") that is asked about the four.
        "answer_classes": COUNT,
        # This project's: a model of several heads, {name: label map} in the order of its classes (engine/data.py's
        # head_slices): the exported graph answers each head with its own softmax, and evaluation measures
        # eval_head (default: the first).
        "heads": ANY, "eval_head": STR,
    },
    # A backbone (FaceCNN or paddleclas's) or a model of several: engine/registry.py's BACKBONES and MODELS.
    "Arch": Architecture(),
    "Loss": {"Train": OpList(LOSSES), "Eval": OpList(LOSSES)},
    "Optimizer": Part(OPTIMIZERS, {"lr": Part(SCHEDULES, default="Cosine"),
                                   "regularizer": {"name": STR, "coeff": NONNEGATIVE}}, default="Momentum"),
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

def _unknown(key, valid, where, whose=""):
    close = difflib.get_close_matches(str(key), sorted(valid), n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else f"; valid keys: {', '.join(sorted(valid))}"
    return ConfigError(f"unknown key '{where}{key}'{whose}{hint}")


def _check(node, schema, where, whole=True):
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
            allowed = schema.registry.param_types(name)
            for param, value in (params or {}).items():
                if param not in allowed:
                    raise _unknown(param, allowed, f"{where}{name}.")
                allowed[param].check(value, f"{where}{name}.{param}.")
        return
    if isinstance(schema, Part):
        if node is not None:
            schema.check(node, where, whole)
        return
    if node is None:
        return
    if not isinstance(node, dict):
        raise ConfigError(f"'{where.rstrip('.')}' must be a mapping with keys among {sorted(schema)}")
    for key, value in node.items():
        if key not in schema:
            raise _unknown(key, schema, where)
        _check(value, schema[key], f"{where}{key}.", whole)


def validate(config):
    """Raise ConfigError on any key the engine does not know (so a typo never passes silently)."""
    _check(flatten(config), SCHEMA, "")
    for section in ("Global", "Arch"):
        if section not in config:
            raise ConfigError(f"the config has no '{section}' section")
    if "name" not in config["Arch"] or "class_num" not in config["Arch"]:
        raise ConfigError("Arch needs 'name' (a backbone, or a model of several) and 'class_num'")
    answered = config["Global"].get("answer_classes")
    if answered is not None and answered > config["Arch"]["class_num"]:
        raise ConfigError(f"Global.answer_classes ({answered}) must be at most Arch.class_num "
                          f"({config['Arch']['class_num']}): it keeps the first classes of those trained")
    check_heads(config["Global"])
    return config


def check_heads(global_section):
    heads, evaluated = global_section.get("heads"), global_section.get("eval_head")
    if heads is None:
        if evaluated is not None:
            raise ConfigError("Global.eval_head names one of Global.heads: set Global.heads too, or drop eval_head")
        return
    if not (isinstance(heads, dict) and len(heads) >= 2 and all(isinstance(k, str) and isinstance(v, str)
                                                                  for k, v in heads.items())):
        raise ConfigError("Global.heads: two or more '<head name>: <its label_list.txt>', e.g. "
                          "{masked: ./dataset/masked/label_list.txt, unmasked: ./dataset/unmasked/label_list.txt}")
    if global_section.get("answer_classes") is not None:
        raise ConfigError("Global.answer_classes and Global.heads both pick the classes answered: keep one")
    if evaluated is not None and evaluated not in heads:
        raise ConfigError(f"Global.eval_head {evaluated!r} is not among Global.heads {sorted(heads)}")


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
        if isinstance(schema, Part):
            child = schema.child(key)
        elif key in schema:
            child = schema[key]
        else:
            raise _unknown(key, schema, where)
        if depth == len(keys) - 1:
            node[key] = value
            return keys
        if not isinstance(child, (dict, Part)):
            raise ConfigError(f"override {override!r}: '{where}{key}' is a list or a value; edit it in the YAML")
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {override!r}: '{where}{key}' is not a mapping")
        schema, where = child, f"{where}{key}."


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
        _check(flatten(config), SCHEMA, "", whole=False)
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
