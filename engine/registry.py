"""Name -> class registries for config-driven parts (transform ops, batch ops, losses, metrics).

A part is one class with one `@REGISTRY.register` line; the config check reads the parameters a config may give
it from its `__init__` signature, so adding a part touches only the file that defines it. Importing this module
does not import paddle: the defining module is imported the first time a registry is read.
"""
import importlib
import inspect

from .errors import ConfigError


class Registry:
    def __init__(self, kind, module, hidden=(), common=()):
        """kind: what the parts are (for messages); module: where they are defined; hidden: constructor
        parameters the engine fills in itself (never written in a config), e.g. class_num; common: parameters
        every part takes that the engine consumes itself, e.g. a loss's weight."""
        self.kind, self.module, self.hidden, self.common = kind, module, set(hidden), set(common)
        self._parts = {}

    def register(self, cls):
        if cls.__name__ in self._parts:
            raise RuntimeError(f"{self.kind} {cls.__name__} is registered twice")
        self._parts[cls.__name__] = cls
        return cls

    def _load(self):
        if not self._parts:
            importlib.import_module(self.module)
        return self._parts

    def __contains__(self, name):
        return name in self._load()

    def __getitem__(self, name):
        return self._load()[name]

    def names(self):
        return sorted(self._load())

    def build(self, name, params=None, where="", **hidden):
        """The part `name` made with a config's `params` and the engine's `hidden` ones; bad parameters are a
        ConfigError that says where."""
        try:
            return self[name](**hidden, **(params or {}))
        except TypeError as error:
            raise ConfigError(f"{where}{name}: bad parameters: {error}") from None

    def params(self, name):
        """The parameter names a config may give `name`."""
        signature = inspect.signature(self[name].__init__)
        return {p for p in list(signature.parameters)[1:]
                if signature.parameters[p].kind not in (inspect.Parameter.VAR_POSITIONAL,
                                                        inspect.Parameter.VAR_KEYWORD)} - self.hidden | self.common


TRANSFORMS = Registry("transform op", "engine.transforms")
BATCH_TRANSFORMS = Registry("batch transform op", "engine.transforms", hidden={"class_num"})
LOSSES = Registry("loss", "engine.losses", hidden={"class_num"}, common={"weight"})
METRICS = Registry("metric", "engine.metrics")
