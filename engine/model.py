"""Building the model a config names (a backbone, or a model of several members: engine/ensembles.py), and what
evaluation measures and export saves (DeployedModel). Weights and checkpoints: engine/weights.py."""
import paddle
import paddle.nn.functional as F

from .backbones import build_backbone
from .config import ConfigError
from .data import eval_head, head_slices
from .ensembles import DistillationModel, EnsembleModel
from .registry import MODELS
from .views import Views, check_views
from .weights import load_weights


def build_model(config):
    """The Arch backbone (BACKBONES: FaceCNN or paddleclas's), or a model of several (MODELS: a DistillationModel
    or an EnsembleModel)."""
    arch = dict(config["Arch"])
    name = arch.pop("name")
    if name in MODELS:
        return MODELS.build(name, arch, where="Arch: ")
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
    return members[arch.get("infer_model_name") or list(members)[-1]]["name"]


class DeployedModel(paddle.nn.Layer):
    """What evaluation measures and export saves: class probabilities (softmax in the graph); with
    Global.flip_average, the mean of each face's and its mirror image's; with Global.view_average, the mean over
    those views of the face as well (engine/views.py), every view mirrored too when flip_average is on; for an
    EnsembleModel, each member's, then combined (EnsembleModel.combine). All run as one batch, so every backend and
    the phone get the same answer. With groups, [(first class, end)], each group of logits gets its own softmax
    and the answers are concatenated: a model trained on more classes answers among the first ones
    (Global.answer_classes), and a model of several heads answers with one head or all (Global.heads)."""

    def __init__(self, model, flip_average=False, views=None, groups=None):
        super().__init__()
        self.model, self.groups = model, groups
        self.views = Views(flip_average, views)

    def forward(self, x):
        batch = self.views.batch(x)
        if isinstance(self.model, EnsembleModel):
            # Each member's answer over the views first: a combination other than the mean is not linear.
            return self.model.combine([self.views.mean(self._softmax(logits))
                                       for logits in self.model(batch).values()])
        return self.views.mean(self._softmax(self.model(batch)))

    def _softmax(self, logits):
        if self.groups is None:
            return F.softmax(logits, axis=-1)
        answers = [F.softmax(logits[:, start:end], axis=-1) for start, end in self.groups]
        return answers[0] if len(answers) == 1 else paddle.concat(answers, axis=-1)


def as_deployed(model, config, every_head=False):
    """The DeployedModel of `model`: evaluation's (Global.eval_head's answer, for a model of several heads) or,
    with every_head, export's (every head's)."""
    if isinstance(model, DistillationModel):
        model = model.infer_model
    answered, groups = config["Global"].get("answer_classes"), None
    if config["Global"].get("heads"):
        slices = head_slices(config)
        chosen = slices.values() if every_head else [slices[eval_head(config)]]
        groups = [(start, end) for start, end, _ in chosen]
    elif answered:
        groups = [(0, answered)]
    return DeployedModel(model, bool(config["Global"].get("flip_average", False)),
                         check_views(config["Global"].get("view_average")), groups)
