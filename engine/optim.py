"""Optimizer and lr schedule from the config (PaddleClas's names, Paddle's implementations)."""
import paddle

from .config import ConfigError


def build_lr(config, iters_per_epoch):
    """Cosine or Piecewise, stepped every iteration, with PaddleClas's linear warmup_epoch."""
    lr_cfg = dict(config["Optimizer"].get("lr", {}))
    name = lr_cfg.get("name", "Cosine")
    base = float(lr_cfg.get("learning_rate", 0.1))
    epochs = int(config["Global"]["epochs"])
    warmup = int(round(float(lr_cfg.get("warmup_epoch", 0)) * iters_per_epoch))
    if name == "Cosine":
        schedule = paddle.optimizer.lr.CosineAnnealingDecay(
            base, T_max=max(1, epochs * iters_per_epoch - warmup), eta_min=float(lr_cfg.get("eta_min", 0.0)))
    elif name == "Piecewise":
        boundaries = [int(e * iters_per_epoch) for e in lr_cfg["decay_epochs"]]
        schedule = paddle.optimizer.lr.PiecewiseDecay(boundaries, [float(v) for v in lr_cfg["values"]])
        base = float(lr_cfg["values"][0])
    elif name == "Constant":
        return base
    else:
        raise ConfigError(f"Optimizer.lr.name {name!r}: use Cosine, Piecewise or Constant")
    if warmup:
        schedule = paddle.optimizer.lr.LinearWarmup(schedule, warmup, float(lr_cfg.get("warmup_start_lr", 0.0)), base)
    return schedule


def build_optimizer(config, parameters, iters_per_epoch):
    opt_cfg = config.get("Optimizer")
    if not opt_cfg:
        raise ConfigError("the config has no Optimizer section")
    lr = build_lr(config, iters_per_epoch)
    regularizer = opt_cfg.get("regularizer")
    decay = None
    if regularizer:
        if regularizer.get("name", "L2") != "L2":
            raise ConfigError("Optimizer.regularizer.name: only L2 is supported")
        decay = paddle.regularizer.L2Decay(float(regularizer.get("coeff", 0.0)))
    name = opt_cfg.get("name", "Momentum")
    if name == "Momentum":
        return paddle.optimizer.Momentum(lr, momentum=float(opt_cfg.get("momentum", 0.9)), parameters=parameters,
                                         use_nesterov=bool(opt_cfg.get("use_nesterov", False)), weight_decay=decay)
    adam = dict(beta1=float(opt_cfg.get("beta1", 0.9)), beta2=float(opt_cfg.get("beta2", 0.999)),
                epsilon=float(opt_cfg.get("epsilon", 1e-8)), parameters=parameters)
    if name == "Adam":
        return paddle.optimizer.Adam(lr, weight_decay=decay, **adam)
    if name == "AdamW":
        if decay is not None:
            raise ConfigError("Optimizer: AdamW decays weights itself (Optimizer.weight_decay); drop the regularizer")
        return paddle.optimizer.AdamW(lr, weight_decay=float(opt_cfg.get("weight_decay", 0.01)), **adam)
    raise ConfigError(f"Optimizer.name {name!r}: use Momentum, Adam or AdamW")
