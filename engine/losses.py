"""Losses, chosen by their PaddleClas names in Loss.Train / Loss.Eval (`- CELoss: {weight: 1.0, epsilon: 0.1}`)."""
import paddle
import paddle.nn.functional as F

from .config import ConfigError
from .registry import LOSSES


def is_soft(labels, class_num):
    return labels.ndim == 2 and labels.shape[-1] == class_num


def soft_targets(labels, class_num):
    """Soft targets (a row of class probabilities per image, as Mixup and CutMix give) as they are; integer
    labels one-hot."""
    return labels if is_soft(labels, class_num) else F.one_hot(labels, class_num)


@LOSSES.register
class CELoss(paddle.nn.Layer):
    """Cross entropy with PaddleClas's `epsilon` label smoothing and an optional per-class weight. Takes integer
    labels, or soft targets (one row of class probabilities per image, as Mixup and CutMix give)."""

    def __init__(self, class_num, epsilon=None, class_weight=None):
        super().__init__()
        self.class_num, self.epsilon = class_num, epsilon
        if class_weight is not None and len(class_weight) != class_num:
            raise ConfigError(f"CELoss.class_weight has {len(class_weight)} values for {class_num} classes")
        self.class_weight = None if class_weight is None else paddle.to_tensor(class_weight, dtype="float32")

    def forward(self, logits, labels):
        if not self.epsilon and not is_soft(labels, self.class_num):
            return F.cross_entropy(logits, labels, weight=self.class_weight)
        target = soft_targets(labels, self.class_num)
        if self.epsilon:
            target = F.label_smooth(target, epsilon=self.epsilon)
        return F.cross_entropy(logits, target, soft_label=True, weight=self.class_weight)


@LOSSES.register
class FocalLoss(paddle.nn.Layer):
    """Focal loss (Lin et al., 2017), PaddleClas's name and `gamma`: down-weights the images already classified
    well, for classes as unbalanced as FER2013's."""

    def __init__(self, class_num, gamma=2.0):
        super().__init__()
        self.class_num, self.gamma = class_num, float(gamma)

    def forward(self, logits, labels):
        target = soft_targets(labels, self.class_num)
        log_probs = F.log_softmax(logits, axis=-1)
        weight = (1 - log_probs.exp()) ** self.gamma
        return -(target * weight * log_probs).sum(axis=-1).mean()


def build_loss(config, mode="Train"):
    """The weighted sum of Loss.<mode>'s terms, each built by name."""
    terms = []
    for item in config.get("Loss", {}).get(mode) or [{"CELoss": {"weight": 1.0}}]:
        (name, params), = item.items()
        params = dict(params or {})
        weight = float(params.pop("weight", 1.0))
        terms.append((weight, LOSSES.build(name, params, f"Loss.{mode}.", class_num=config["Arch"]["class_num"])))

    def loss(logits, labels):
        return sum(weight * term(logits, labels) for weight, term in terms)
    return loss
