"""Losses, chosen by their PaddleClas names in Loss.Train / Loss.Eval (`- CELoss: {weight: 1.0, epsilon: 0.1}`)."""
import paddle
import paddle.nn.functional as F

from .config import ConfigError
from .data import UNLABELLED
from .registry import LOSSES
from .schema import LIST, NONNEGATIVE_INT


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


def _output(outputs, name, loss):
    if name not in outputs:
        raise ConfigError(f"Loss {loss} names model {name!r}, but Arch.models has {sorted(outputs)}")
    return outputs[name]


def labelled_rows(logits, labels):
    """The rows of a batch of integer labels whose face is of one of the classes (the others, UNLABELLED, come
    from DataLoader.Train.dataset.teacher_only_classes); None when there is none."""
    if is_soft(labels, logits.shape[-1]):
        return logits, labels
    return rows_where(logits, labels, labels != UNLABELLED)


def rows_where(first, second, keep):
    """The rows of two tensors of one batch (logits and labels, or two models' logits) where the boolean `keep`
    holds; None when it holds nowhere."""
    if bool(keep.all()):
        return first, second
    if not bool(keep.any()):
        return None
    index = paddle.nonzero(keep).flatten()
    return paddle.gather(first, index), paddle.gather(second, index)


@LOSSES.register
class DistillationGTCELoss(CELoss):
    """PaddleClas's name: CELoss (with its epsilon and class_weight) on the ground truth, for each member of a
    DistillationModel in model_names. Faces of none of the classes (teacher_only_classes) are left out of it.

    This project's: class_range [first, end] makes it one head's loss (Global.heads): CE over those logits alone,
    on the faces labelled among those classes (MultiListDataset's label_offset puts each list's there); the others
    are left out."""

    def __init__(self, class_num, model_names=("Student",), epsilon=None, class_weight=None, class_range: LIST = None):
        if class_range is not None and not (isinstance(class_range, list) and len(class_range) == 2 and all(
                type(c) is int for c in class_range) and 0 <= class_range[0] < class_range[1] <= class_num):
            raise ConfigError(f"DistillationGTCELoss.class_range: [first, end] of a head's classes, within 0.."
                              f"{class_num} (Arch.class_num), e.g. [3, 7]; got {class_range!r}")
        self.range = class_range
        super().__init__(class_num if class_range is None else class_range[1] - class_range[0], epsilon,
                         class_weight)
        self.model_names = list(model_names)

    def forward(self, outputs, labels):
        total = 0.0
        for name in self.model_names:
            logits = _output(outputs, name, "DistillationGTCELoss")
            if self.range is None:
                rows = labelled_rows(logits, labels)
            elif labels.ndim != 1:
                raise ConfigError("DistillationGTCELoss.class_range takes integer labels: drop the batch ops that "
                                  "mix them")
            else:
                first, end = self.range
                rows = rows_where(logits[:, first:end], labels - first, (labels >= first) & (labels < end))
            if rows is not None:
                total = total + super(DistillationGTCELoss, self).forward(*rows)
        return total


@LOSSES.register
class DistillationKLDivLoss(paddle.nn.Layer):
    """PaddleClas's name: KL(teacher || student) between answers softened by `temperature`, times temperature**2
    so that its gradients keep their size as the temperature changes (Hinton et al., 2015), for each [student,
    teacher] pair in model_name_pairs. Its weight is the alpha of the CE + alpha * KL mix.

    This project's extension: a student with more classes than its teacher (FER2013's seven against the four,
    answered with Global.answer_classes) learns the teacher's answer as its own answer among the teacher's classes,
    its first ones, or those from class_offset on: a student of several heads (Global.heads) learns each head from
    its own teacher, one term per head, class_offset the head's first class. on_labels: the term learns on the
    faces labelled with one of these classes only (integer labels, as MultiListDataset offsets them), so that a
    head learns its teacher on the faces it will answer (the unmasked faces' head on unmasked faces, not on
    masked ones); by default on every face."""

    def __init__(self, class_num, model_name_pairs=(("Student", "Teacher"),), temperature=4.0,
                 class_offset: NONNEGATIVE_INT = 0, on_labels: LIST = None):
        super().__init__()
        self.pairs = [list(pair) for pair in model_name_pairs]
        if not all(len(pair) == 2 for pair in self.pairs):
            raise ConfigError("DistillationKLDivLoss.model_name_pairs: a list of [student, teacher] name pairs")
        if not float(temperature) > 0:
            raise ConfigError(f"DistillationKLDivLoss.temperature must be above 0, got {temperature!r}")
        if on_labels is not None and not (isinstance(on_labels, list) and on_labels and all(
                type(c) is int and 0 <= c < class_num for c in on_labels)):
            raise ConfigError(f"DistillationKLDivLoss.on_labels: the classes (0..{class_num - 1}, Arch.class_num) "
                              f"whose faces the term learns on, e.g. [1, 7, 8, 9, 10]; got {on_labels!r}")
        self.temperature, self.offset, self.on_labels = float(temperature), class_offset, on_labels

    def forward(self, outputs, labels):
        total = 0.0
        keep = None
        if self.on_labels is not None:
            if labels.ndim != 1:
                raise ConfigError("DistillationKLDivLoss.on_labels takes integer labels: drop the batch ops that mix "
                                  "them")
            keep = (labels.unsqueeze(-1) == paddle.to_tensor(self.on_labels, dtype=labels.dtype)).any(axis=-1)
        for student, teacher in self.pairs:
            student_logits = _output(outputs, student, "DistillationKLDivLoss")
            teacher_logits = _output(outputs, teacher, "DistillationKLDivLoss").detach()
            if keep is not None:
                rows = rows_where(student_logits, teacher_logits, keep)
                if rows is None:
                    continue
                student_logits, teacher_logits = rows
            taught, end = teacher_logits.shape[-1], self.offset + teacher_logits.shape[-1]
            if student_logits.shape[-1] < end:
                offset = f"class_offset {self.offset} plus " if self.offset else ""
                raise ConfigError(f"DistillationKLDivLoss: {student} answers {student_logits.shape[-1]} classes, "
                                  f"fewer than {offset}its teacher {teacher}'s {taught}: give the student a class_num "
                                  "of at least that")
            log_p = F.log_softmax(student_logits[:, self.offset:end] / self.temperature, axis=-1)
            target = F.softmax(teacher_logits / self.temperature, axis=-1)
            kl = (target * (paddle.log(target + 1e-12) - log_p)).sum(axis=-1).mean()
            total = total + kl * self.temperature ** 2
        return total


def build_loss(config, mode="Train"):
    """The weighted sum of Loss.<mode>'s terms, each built by name."""
    terms = []
    distilling = config["Arch"]["name"] == "DistillationModel"
    for item in config.get("Loss", {}).get(mode) or [{"CELoss": {"weight": 1.0}}]:
        (name, params), = item.items()
        if distilling != name.startswith("Distillation"):
            raise ConfigError(f"Loss.{mode}.{name}: " + (
                "a DistillationModel gives one output per member: use DistillationGTCELoss (model_names) or "
                "DistillationKLDivLoss" if distilling else "takes a DistillationModel's outputs: set Arch.name to "
                "DistillationModel, or use CELoss"))
        params = dict(params or {})
        weight = float(params.pop("weight", 1.0))
        terms.append((weight, LOSSES.build(name, params, f"Loss.{mode}.", class_num=config["Arch"]["class_num"])))

    def loss(logits, labels):
        return sum(weight * term(logits, labels) for weight, term in terms)
    return loss
