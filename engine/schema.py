"""The kinds of value a config holds (Leaf: an int, a float, a bool...; with a range where one applies), shared by
the config check (engine/config.py) and the parts that declare what they take (engine/registry.py)."""
import re

from .errors import ConfigError


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

    @staticmethod
    def like(default):
        """The kind of a parameter's default value: what a config may give where a part declares no kind."""
        for kind, types in (("bool", bool), ("int", int), ("float", float), ("str", str), ("list", (list, tuple))):
            if isinstance(default, types):
                return Leaf(kind)
        return ANY


INT, FLOAT, BOOL, STR, LIST, ANY = (Leaf(k) for k in ("int", "float", "bool", "str", "list", "any"))
COUNT, NONNEGATIVE_INT = INT.within(1), INT.within(0)
POSITIVE, NONNEGATIVE, FRACTION = FLOAT.within(0, low_open=True), FLOAT.within(0), FLOAT.within(0, 1, high_open=True)

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
