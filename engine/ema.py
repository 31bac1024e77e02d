"""An exponential moving average of the weights, PaddleClas's `EMA: {decay: ...}`: evaluated and saved beside them."""
from contextlib import contextmanager

import paddle

from .config import ConfigError


class ModelEMA:
    """shadow = decay * shadow + (1 - decay) * weight after every step; integer buffers are copied."""

    def __init__(self, model, decay):
        if not 0 < decay < 1:
            raise ConfigError(f"EMA.decay {decay}: use a value in (0, 1), such as 0.999 (about the last 1,000 steps)")
        self.model, self.decay = model, float(decay)
        with paddle.no_grad():
            self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @paddle.no_grad()
    def update(self):
        for key, value in self.model.state_dict().items():
            if paddle.is_floating_point(value):
                self.shadow[key] = self.shadow[key] * self.decay + value.detach() * (1 - self.decay)
            else:
                self.shadow[key] = value.detach().clone()

    @contextmanager
    def applied(self):
        """The model holds the averaged weights inside the block, its own again after it."""
        with paddle.no_grad():
            own = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.model.set_state_dict(self.shadow)
        try:
            yield self.model
        finally:
            self.model.set_state_dict(own)

    def state_dict(self):
        return dict(self.shadow)

    def set_state_dict(self, state):
        missing = sorted(set(self.shadow) - set(state))
        if missing:
            raise ConfigError(f"the saved EMA weights lack {missing[0]} (and {len(missing) - 1} more): they belong "
                              "to another model")
        self.shadow = {k: paddle.to_tensor(state[k]) for k in self.shadow}
