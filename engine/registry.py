"""Name -> part registries, one for each kind of part a config or a command names: transform ops, batch ops,
losses, metrics, backbones, models of several members, datasets, optimizers and learning-rate schedules (and,
in deploy/backends, inference backends).

A part is one class or factory with one `@REGISTRY.register` line. The config check asks the registry which
parameters a config may give a part, and of what kind: read from the part's signature (a parameter annotated
with a Leaf of engine/schema.py is checked against it, another against its default's type), so adding a part
touches only the file that defines it. Importing this module imports no part: a registry imports the module
that defines its parts the first time it is read, and a lazily registered part ("module:attribute", for the
backends, which live in different environments) only when it is named.
"""
import difflib
import importlib
import inspect

from .errors import ConfigError
from .schema import FLOAT, Leaf

# Longer registries are summarised in an error message by the names closest to the unknown one.
LISTED_IN_FULL = 30


def imported(path: str):
    """The attribute that "module:attribute" names, its module imported (ImportError, AttributeError or ValueError
    where it names none)."""
    module, separator, attribute = path.partition(":")
    if not separator or not attribute:
        raise ValueError(f"{path!r} is not 'module:attribute'")
    return getattr(importlib.import_module(module), attribute)


class Registry:
    def __init__(self, kind, module=None, hidden=(), common=None, lazy=None):
        """kind: what the parts are (for messages); module: where they are defined; hidden: parameters the engine
        fills in itself (never written in a config), e.g. class_num; common: {parameter: Leaf} that every part
        takes and the engine consumes itself, e.g. a loss's weight; lazy: {name: "module:attribute"}, parts
        imported only when named."""
        self.kind, self.module, self.hidden, self.common = kind, module, set(hidden), dict(common or {})
        self._parts, self._lazy, self._loaded = {}, dict(lazy or {}), module is None
        self._params_from, self._kinds = {}, {}

    def register(self, part=None, *, name=None, params_from=None, kinds=None):
        """`@REGISTRY.register` over a class or factory, or REGISTRY.register(factory, name=..., params_from=cls)
        for a factory that passes **kwargs on to cls, whose parameters with defaults a config may then give;
        kinds: {parameter: Leaf} for parameters that the part's signature does not annotate."""
        if part is None:
            return lambda later: self.register(later, name=name, params_from=params_from, kinds=kinds)
        name = name or part.__name__
        if name in self._parts:
            raise RuntimeError(f"{self.kind} {name} is registered twice")
        self._parts[name] = part
        if params_from is not None:
            self._params_from[name] = params_from
        if kinds:
            self._kinds[name] = kinds
        return part

    def _load(self):
        if not self._loaded:
            self._loaded = True
            importlib.import_module(self.module)
        return self._parts

    def __contains__(self, name):
        return name in self._lazy or name in self._load()

    def __getitem__(self, name):
        parts = self._load()
        if name not in parts and name in self._lazy:
            parts[name] = imported(self._lazy[name])
        if name not in parts:
            raise self.unknown(name)
        return parts[name]

    def names(self):
        return sorted(set(self._load()) | set(self._lazy))

    def unknown(self, name, where=""):
        """The error for a name nobody registered: the registered names (or the closest of many) and the closest."""
        names = self.names()
        close = difflib.get_close_matches(str(name), names, n=5, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        listed = (", ".join(names) if len(names) <= LISTED_IN_FULL
                  else f"{len(names)} names; the closest: {', '.join(close)}" if close else f"{len(names)} names")
        return ConfigError(f"{where}unknown {self.kind} {name!r}{hint} (registered: {listed})")

    def param_types(self, name):
        """{parameter: Leaf}: what a config may give `name`, each of the kind its annotation declares (a Leaf)
        or its default's."""
        part = self[name]
        sources = [(part, True)] + ([(self._params_from[name], False)] if name in self._params_from else [])
        types = {}
        for source, required_too in sources:
            for param in inspect.signature(source).parameters.values():
                if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or param.name in self.hidden \
                        or (param.default is param.empty and not required_too):
                    continue
                default = None if param.default is param.empty else param.default
                kind = param.annotation if isinstance(param.annotation, Leaf) else \
                    self._kinds.get(name, {}).get(param.name) or Leaf.like(default)
                types.setdefault(param.name, kind)
        return {**types, **self.common}

    def params(self, name):
        """The parameter names a config may give `name`."""
        return set(self.param_types(name))

    def build(self, name, params=None, where="", **hidden):
        """The part `name` made with a config's `params` and the engine's `hidden` ones; bad parameters are a
        ConfigError that says where, as is an unknown name."""
        if name not in self:
            raise self.unknown(name, where)
        part = self[name]
        try:
            return part(**hidden, **(params or {}))
        except TypeError as error:
            raise ConfigError(f"{where}{name}: bad parameters: {error}") from None


TRANSFORMS = Registry("transform op", "engine.transforms")
BATCH_TRANSFORMS = Registry("batch transform op", "engine.transforms", hidden={"class_num"})
LOSSES = Registry("loss", "engine.losses", hidden={"class_num"}, common={"weight": FLOAT})
METRICS = Registry("metric", "engine.metrics")
# FaceCNN (engine/backbones.py) and every backbone of the paddleclas wheel.
BACKBONES = Registry("backbone", "engine.backbones", hidden={"pretrained", "use_ssld"})
# Models of several backbones (engine/ensembles.py): Arch.name picks one of these or a backbone.
MODELS = Registry("model", "engine.ensembles")
DATASETS = Registry("dataset", "engine.data", hidden={"class_num", "seed"})
OPTIMIZERS = Registry("optimizer", "engine.optim")
SCHEDULES = Registry("learning-rate schedule", "engine.optim")
