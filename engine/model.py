"""Building the model a config names (a backbone, or a model of several members: engine/ensembles.py), and what
evaluation measures and export saves (DeployedModel). Weights and checkpoints: engine/weights.py."""
import paddle
import paddle.nn.functional as F

from .backbones import build_backbone
from .config import ConfigError
from .ensembles import DistillationModel, EnsembleModel, infer_member_name
from .weights import load_weights


def build_model(config):
    """The Arch backbone (the project's small-face ones, then paddleclas's), or a DistillationModel or
    EnsembleModel of several."""
    if config["Arch"]["name"] == "DistillationModel":
        return DistillationModel(config["Arch"])
    if config["Arch"]["name"] == "EnsembleModel":
        return EnsembleModel(config["Arch"])
    return build_backbone(config["Arch"])


def model_with_weights(config, needed_by):
    """build_model with Global.pretrained_model loaded: what evaluation, inference and export run. An
    EnsembleModel's members bring their own weights."""
    model = build_model(config)
    weights = config["Global"].get("pretrained_model")
    if weights:
        load_weights(model, weights)
    elif not isinstance(model, EnsembleModel):
        raise ConfigError(f"{needed_by} needs -o Global.pretrained_model=<prefix>, e.g. output/ResNet18/best_model")
    return model


def trainable_parameters(model):
    """What the optimizer updates: every parameter but a DistillationModel's frozen members'."""
    if isinstance(model, EnsembleModel):
        raise ConfigError("an EnsembleModel is not trained: train each member with its own config, then evaluate and "
                          "export the ensemble (configs/masked_fer/FaceCNN_ensemble.yaml)")
    return [p for p in model.parameters() if not p.stop_gradient]


def trained_output(model, outputs):
    """The logits of the model being trained: the infer member's, for a DistillationModel."""
    return outputs[model.infer_model_name] if isinstance(model, DistillationModel) else outputs


def deployed_arch_name(config):
    """The name of the backbone that evaluation measures and export saves."""
    arch = config["Arch"]
    members = {next(iter(m)): next(iter(m.values())) for m in arch.get("models") or []}
    if arch["name"] == "EnsembleModel":
        return "EnsembleModel: " + " + ".join(member["name"] for member in members.values())
    if arch["name"] != "DistillationModel":
        return arch["name"]
    return members[infer_member_name(arch, list(members))]["name"]


class DeployedModel(paddle.nn.Layer):
    """What evaluation measures and export saves: class probabilities (softmax in the graph); with
    Global.flip_average, the mean of each face's and its mirror image's; with Global.view_average, the mean over
    those views of the face as well (each a centred crop of a share of the side, moved by dx, dy pixels, resized
    back to the input size), every view mirrored too when flip_average is on; for an EnsembleModel, each
    member's, then combined (EnsembleModel.combine). All run as one batch, so every backend and the phone get the
    same answer. With answer_classes, the softmax runs over the first classes' logits alone: a model trained on more
    classes answers among those."""

    def __init__(self, model, flip_average=False, views=None, answer_classes=None):
        super().__init__()
        self.model, self.flip_average, self.answer_classes = model, flip_average, answer_classes
        self.views = [tuple(view) for view in views or []]

    def _view(self, x, share, dx, dy):
        height, width = x.shape[2], x.shape[3]
        size = int(round(share * height))
        margin = max(abs(int(dx)), abs(int(dy)), 0)
        if margin:
            x = F.pad(x, [margin] * 4, mode="replicate")
        top, left = margin + (height - size) // 2 + int(dy), margin + (width - size) // 2 + int(dx)
        x = x[:, :, top:top + size, left:left + size]
        return x if size == height else F.interpolate(x, size=[height, width], mode="bilinear", align_corners=False)

    def forward(self, x):
        views = [x] + [self._view(x, *view) for view in self.views]
        if self.flip_average:
            views += [paddle.flip(v, axis=[3]) for v in views]
        batch = views[0] if len(views) == 1 else paddle.concat(views)
        if isinstance(self.model, EnsembleModel):
            # Each member's answer over the views first: a combination other than the mean is not linear.
            return self.model.combine([self._view_mean(self._softmax(logits), len(views))
                                       for logits in self.model(batch).values()])
        return self._view_mean(self._softmax(self.model(batch)), len(views))

    @staticmethod
    def _view_mean(probs, count):
        return probs if count == 1 else probs.reshape([count, -1, probs.shape[-1]]).mean(axis=0)

    def _softmax(self, logits):
        return F.softmax(logits if self.answer_classes is None else logits[:, :self.answer_classes], axis=-1)


def check_views(views, where="Global.view_average"):
    """Views as [share, dx, dy]: a share of the side in (0, 1], whole-pixel moves of at most 8 px."""
    for view in views or []:
        if not (isinstance(view, list) and len(view) == 3 and all(isinstance(v, (int, float)) for v in view)
                and 0 < view[0] <= 1 and all(float(v).is_integer() and abs(v) <= 8 for v in view[1:])):
            raise ConfigError(f"{where}: each view is [share of the side in (0, 1], dx, dy in whole pixels up to 8], "
                              f"for example [0.9, 0, 0] or [1.0, 2, 0]; got {view!r}")
    return views


def as_deployed(model, config):
    if isinstance(model, DistillationModel):
        model = model.infer_model
    return DeployedModel(model, bool(config["Global"].get("flip_average", False)),
                         check_views(config["Global"].get("view_average")), config["Global"].get("answer_classes"))
