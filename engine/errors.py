"""The engine's user-facing error, below every module that raises it (config, registry, data, model...)."""
from basics import UserError


class ConfigError(UserError, ValueError):
    """A config or override that the engine cannot run; the message says what to change."""
