"""Loss, optimizer and lr schedule from the config (PaddleClas's names, Paddle's implementations)."""
import paddle
import paddle.nn.functional as F

from .config import ConfigError


class CELoss(paddle.nn.Layer):
    """Cross entropy with PaddleClas's `epsilon` label smoothing and an optional per-class weight."""

    def __init__(self, class_num, epsilon=None, class_weight=None):
        super().__init__()
        self.class_num, self.epsilon = class_num, epsilon
        if class_weight is not None and len(class_weight) != class_num:
            raise ConfigError(f"CELoss.class_weight has {len(class_weight)} values for {class_num} classes")
        self.class_weight = None if class_weight is None else paddle.to_tensor(class_weight, dtype="float32")

    def forward(self, logits, labels):
        if self.epsilon:
            target = F.label_smooth(F.one_hot(labels, self.class_num), epsilon=self.epsilon)
            return F.cross_entropy(logits, target, soft_label=True, weight=self.class_weight)
        return F.cross_entropy(logits, labels, weight=self.class_weight)


def build_loss(config, mode="Train"):
    """Weighted sum of the configured losses."""
    terms = []
    for item in config.get("Loss", {}).get(mode) or [{"CELoss": {"weight": 1.0}}]:
        (name, params), = item.items()
        params = dict(params or {})
        weight = float(params.pop("weight", 1.0))
        terms.append((weight, CELoss(config["Arch"]["class_num"], **params)))

    def loss(logits, labels):
        return sum(weight * term(logits, labels) for weight, term in terms)
    return loss


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
                                         weight_decay=decay)
    if name == "Adam":
        return paddle.optimizer.Adam(lr, beta1=float(opt_cfg.get("beta1", 0.9)), beta2=float(opt_cfg.get("beta2", 0.999)),
                                     epsilon=float(opt_cfg.get("epsilon", 1e-8)), parameters=parameters,
                                     weight_decay=decay)
    raise ConfigError(f"Optimizer.name {name!r}: use Momentum or Adam")
