"""Optimizers and learning-rate schedules (PaddleClas's names, Paddle's implementations), each a registered part
(engine/registry.py: OPTIMIZERS, SCHEDULES) that declares what a config may give it."""
import paddle

from .config import ConfigError
from .registry import OPTIMIZERS, SCHEDULES
from .schema import BOOL, FRACTION, LIST, NONNEGATIVE, POSITIVE


class _Warmup:
    """PaddleClas's linear warmup: warmup_epoch epochs from warmup_start_lr up to the schedule's start."""

    def __init__(self, warmup_epoch, warmup_start_lr):
        self.warmup_epoch, self.warmup_start_lr = float(warmup_epoch), float(warmup_start_lr)

    def warmup_iters(self, iters_per_epoch):
        return int(round(self.warmup_epoch * iters_per_epoch))

    def with_warmup(self, schedule, start, iters_per_epoch):
        warmup = self.warmup_iters(iters_per_epoch)
        return paddle.optimizer.lr.LinearWarmup(schedule, warmup, self.warmup_start_lr, start) if warmup else schedule


@SCHEDULES.register
class Cosine(_Warmup):
    """Cosine decay from learning_rate to eta_min over the run after the warmup, stepped every iteration."""

    def __init__(self, learning_rate: POSITIVE = 0.1, eta_min: NONNEGATIVE = 0.0, warmup_epoch: NONNEGATIVE = 0,
                 warmup_start_lr: NONNEGATIVE = 0.0):
        super().__init__(warmup_epoch, warmup_start_lr)
        self.learning_rate, self.eta_min = float(learning_rate), float(eta_min)

    def build(self, epochs, iters_per_epoch):
        steps = max(1, epochs * iters_per_epoch - self.warmup_iters(iters_per_epoch))
        return self.with_warmup(paddle.optimizer.lr.CosineAnnealingDecay(self.learning_rate, T_max=steps,
                                                                         eta_min=self.eta_min),
                                self.learning_rate, iters_per_epoch)


@SCHEDULES.register
class Piecewise(_Warmup):
    """values[i] from decay_epochs[i - 1] on (values has one more entry than decay_epochs)."""

    def __init__(self, decay_epochs: LIST, values: LIST, warmup_epoch: NONNEGATIVE = 0,
                 warmup_start_lr: NONNEGATIVE = 0.0):
        super().__init__(warmup_epoch, warmup_start_lr)
        if len(values) != len(decay_epochs) + 1:
            raise ConfigError(f"Optimizer.lr: Piecewise takes one more value than decay_epochs ({len(decay_epochs)}),"
                              f" got {len(values)}")
        self.decay_epochs, self.values = decay_epochs, [float(v) for v in values]

    def build(self, epochs, iters_per_epoch):
        boundaries = [int(e * iters_per_epoch) for e in self.decay_epochs]
        return self.with_warmup(paddle.optimizer.lr.PiecewiseDecay(boundaries, self.values), self.values[0],
                                iters_per_epoch)


@SCHEDULES.register
class Constant(_Warmup):
    def __init__(self, learning_rate: POSITIVE = 0.1, warmup_epoch: NONNEGATIVE = 0,
                 warmup_start_lr: NONNEGATIVE = 0.0):
        super().__init__(warmup_epoch, warmup_start_lr)
        self.learning_rate = float(learning_rate)

    def build(self, epochs, iters_per_epoch):
        return self.with_warmup(self.learning_rate, self.learning_rate, iters_per_epoch)


@OPTIMIZERS.register
class Momentum:
    def __init__(self, momentum: FRACTION = 0.9, use_nesterov: BOOL = False):
        self.momentum, self.use_nesterov = float(momentum), bool(use_nesterov)

    def build(self, lr, parameters, decay):
        return paddle.optimizer.Momentum(lr, momentum=self.momentum, parameters=parameters,
                                         use_nesterov=self.use_nesterov, weight_decay=decay)


@OPTIMIZERS.register
class Adam:
    def __init__(self, beta1: FRACTION = 0.9, beta2: FRACTION = 0.999, epsilon: POSITIVE = 1e-8):
        self.betas = dict(beta1=float(beta1), beta2=float(beta2), epsilon=float(epsilon))

    def build(self, lr, parameters, decay):
        return paddle.optimizer.Adam(lr, parameters=parameters, weight_decay=decay, **self.betas)


@OPTIMIZERS.register
class AdamW(Adam):
    """Adam with decoupled weight decay (its own weight_decay, not Optimizer.regularizer)."""

    def __init__(self, beta1: FRACTION = 0.9, beta2: FRACTION = 0.999, epsilon: POSITIVE = 1e-8,
                 weight_decay: NONNEGATIVE = 0.01):
        super().__init__(beta1, beta2, epsilon)
        self.weight_decay = float(weight_decay)

    def build(self, lr, parameters, decay):
        if decay is not None:
            raise ConfigError("Optimizer: AdamW decays weights itself (Optimizer.weight_decay); drop the regularizer")
        return paddle.optimizer.AdamW(lr, parameters=parameters, weight_decay=self.weight_decay, **self.betas)


def build_lr(config, iters_per_epoch):
    """Optimizer.lr's schedule (Cosine unless named), stepped every iteration, or a constant rate."""
    lr_cfg = dict(config["Optimizer"].get("lr") or {})
    name = lr_cfg.pop("name", "Cosine")
    schedule = SCHEDULES.build(name, lr_cfg, where="Optimizer.lr: ")
    return schedule.build(int(config["Global"]["epochs"]), iters_per_epoch)


def build_optimizer(config, parameters, iters_per_epoch):
    opt_cfg = dict(config.get("Optimizer") or {})
    if not opt_cfg:
        raise ConfigError("the config has no Optimizer section")
    lr = build_lr(config, iters_per_epoch)
    opt_cfg.pop("lr", None)
    regularizer = opt_cfg.pop("regularizer", None)
    decay = None
    if regularizer:
        if regularizer.get("name", "L2") != "L2":
            raise ConfigError("Optimizer.regularizer.name: only L2 is supported")
        decay = paddle.regularizer.L2Decay(float(regularizer.get("coeff", 0.0)))
    name = opt_cfg.pop("name", "Momentum")
    return OPTIMIZERS.build(name, opt_cfg, where="Optimizer: ").build(lr, parameters, decay)
