"""Backbones from the paddleclas wheel, weight loading with clear errors, and Paddle-format checkpoints."""
import difflib
import json
from pathlib import Path

import paddle
import paddle.nn.functional as F
from paddleclas.ppcls.arch import backbone

from basics import UserError, atomic_write_text, written_atomically

from .backbones import BACKBONES
from .config import ConfigError
from .logger import log


class WeightsError(UserError, ValueError):
    """Weights that do not fit the model; the message names the file."""


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


def build_backbone(arch, name_prefix=None):
    """One backbone from an Arch mapping, built in a fresh name scope so that the same architecture can be built
    twice per process (its parameter names then match the exported model's); name_prefix starts every parameter
    name, for members that share one exported graph."""
    arch = dict(arch)
    name = arch.pop("name")
    factory = BACKBONES.get(name) or getattr(backbone, name, None)
    if not callable(factory) or name.startswith("_"):
        names = list(BACKBONES) + [n for n in dir(backbone) if not n.startswith("_") and n[0].isupper()]
        close = difflib.get_close_matches(name, names, n=1)
        raise ConfigError(f"Arch.name {name!r} is neither a FaceCNN nor a paddleclas backbone"
                          + (f"; did you mean '{close[0]}'?" if close else ""))
    with paddle.utils.unique_name.guard(name_prefix):
        try:
            return factory(pretrained=False, **arch)
        except TypeError as error:
            raise ConfigError(f"Arch: {name} does not accept these parameters: {error}") from None


DISTILLATION_KEYS = {"name", "models", "freeze_params_list", "infer_model_name"}


def member_specs(arch):
    """Arch.models as (name, backbone mapping) pairs, each member's own settings over Arch's (class_num,
    dropout_prob... which a _base_ config may give)."""
    members = arch.get("models") or []
    if not all(isinstance(m, dict) and len(m) == 1 and isinstance(next(iter(m.values())), dict) for m in members) \
            or len(members) < 2:
        raise ConfigError(f"Arch.models: list two or more members as '- Teacher: {{name: FaceCNN_x0_5, ...}}' "
                          f"for a {arch['name']}")
    shared = {k: v for k, v in arch.items() if k not in DISTILLATION_KEYS}
    return [(name, {**shared, **spec}) for member in members for name, spec in member.items()]


class DistillationModel(paddle.nn.Layer):
    """PaddleClas's DistillationModel: named members (Arch.models, e.g. Teacher and Student), each a backbone with
    an optional `pretrained` weights prefix; members flagged in Arch.freeze_params_list are frozen and stay in eval
    mode. forward gives {name: logits}. Given a paired batch [N, 2, C, H, W] (PairedImageNetDataset: this
    project's extension), frozen members see the second image of each pair and the others the first, so that a
    teacher can see the unmasked face while the student learns from the masked one. What is evaluated and exported
    is the member Arch.infer_model_name names."""

    def __init__(self, arch):
        super().__init__()
        members = member_specs(arch)
        frozen = arch.get("freeze_params_list") or [False] * len(members)
        if len(frozen) != len(members) or not all(isinstance(f, bool) for f in frozen):
            raise ConfigError(f"Arch.freeze_params_list: one True or False per member of Arch.models ({len(members)})")
        self.names = [name for name, _ in members]
        self.infer_model_name = infer_member_name(arch, self.names)
        if self.infer_model_name not in self.names:
            raise ConfigError(f"Arch.infer_model_name {self.infer_model_name!r} is not among Arch.models {self.names}")
        if sum(not f for f in frozen) != 1:
            # Each member has its own name scope, so two trainable members would share optimizer state names.
            raise ConfigError("Arch.freeze_params_list: exactly one member may train (the others are teachers)")
        self.frozen = dict(zip(self.names, frozen))
        self.members = paddle.nn.LayerList()
        for name, spec in members:
            if "answers" in spec:
                raise ConfigError(f"Arch.models.{name}.answers is an EnsembleModel's: a DistillationModel exports "
                                  "one member")
            pretrained = spec.pop("pretrained", None)
            net = build_backbone(spec)
            if pretrained:
                # A teacher must fit its weights exactly; the student may start a new head (more classes).
                log_new_head(load_weights(net, pretrained, finetune=not self.frozen[name]), f"Arch.models.{name}: ")
            if self.frozen[name]:
                for param in net.parameters():
                    param.stop_gradient = True
            self.members.append(net)

    @property
    def infer_model(self):
        return self.members[self.names.index(self.infer_model_name)]

    def forward(self, x):
        outputs = {}
        for name, net in zip(self.names, self.members):
            view = x if x.ndim == 4 else x[:, 1 if self.frozen[name] else 0]
            if self.frozen[name]:
                # Here, not in train(): paddle.DataParallel's train() sets every sublayer's mode itself.
                if net.training:
                    net.eval()
                with paddle.no_grad():
                    outputs[name] = net(view)
            else:
                outputs[name] = net(view)
        return outputs


class EnsembleModel(paddle.nn.Layer):
    """This project's own: members (Arch.models, each a backbone with the `pretrained` weights of a model trained
    on its own) whose class probabilities DeployedModel combines, in the exported graph too, so that every backend
    and the phone get the combination. It is evaluated and exported, never trained.

    By default the members' probabilities are averaged. A member given `answers` (class indices) instead sets
    those classes' probabilities alone, and the other members' mean shares out the rest among the other classes,
    in its own proportions: P(no face) from one model and, of what is left, masked against unmasked from another."""

    def __init__(self, arch):
        super().__init__()
        extra = sorted(set(arch) & {"freeze_params_list", "infer_model_name"})
        if extra:
            raise ConfigError(f"Arch.{extra[0]} is a DistillationModel's: an EnsembleModel exports all its members")
        self.names, self.members, answers = [], paddle.nn.LayerList(), {}
        for name, spec in member_specs(arch):
            pretrained = spec.pop("pretrained", None)
            if "answers" in spec:
                answers[name] = spec.pop("answers")
            if not pretrained:
                raise ConfigError(f"Arch.models.{name}: an EnsembleModel member needs 'pretrained' (the prefix of a "
                                  "trained model, e.g. output/distill/inference/inference)")
            # Each member's parameter names start with its own name: an exported graph with two parameters of one
            # name silently runs both members on the same weights.
            net = build_backbone(spec, name_prefix=f"{name}_")
            weights = build_backbone(spec)  # names as the member's own export has them
            load_weights(weights, pretrained)
            net.set_state_dict(weights.state_dict())
            self.names.append(name)
            self.members.append(net)
        self.answers = check_answers(answers, self.names, arch["class_num"])

    def forward(self, x):
        return {name: net(x) for name, net in zip(self.names, self.members)}

    def combine(self, probabilities):
        """One [N, classes] answer from each member's probabilities, in member order."""
        if not self.answers:
            return paddle.stack(probabilities).mean(axis=0)
        classes = probabilities[0].shape[-1]
        fixed = paddle.zeros_like(probabilities[0])
        for name, probs in zip(self.names, probabilities):
            if name in self.answers:
                fixed = fixed + probs * _class_mask(self.answers[name], classes)
        rest = paddle.stack([probs for name, probs in zip(self.names, probabilities)
                             if name not in self.answers]).mean(axis=0)
        rest = rest * (1 - _class_mask([c for a in self.answers.values() for c in a], classes))
        left = 1 - fixed.sum(axis=-1, keepdim=True)
        return fixed + rest / paddle.clip(rest.sum(axis=-1, keepdim=True), min=1e-9) * left


def _class_mask(classes, count):
    return paddle.to_tensor([[1.0 if c in classes else 0.0 for c in range(count)]], dtype="float32")


def check_answers(answers, names, class_num):
    """Arch.models.<name>.answers: lists of class indices, no class answered twice, and at least one member and
    one class left to share out the rest."""
    taken = set()
    for name, classes in answers.items():
        if not (isinstance(classes, list) and classes and all(type(c) is int and 0 <= c < class_num
                                                              for c in classes)):
            raise ConfigError(f"Arch.models.{name}.answers: a list of class indices from 0 to {class_num - 1}, "
                              f"e.g. [2]; got {classes!r}")
        if taken & set(classes):
            raise ConfigError(f"Arch.models.{name}.answers: class {min(taken & set(classes))} is already answered "
                              "by another member")
        taken |= set(classes)
    if answers and (len(answers) == len(names) or len(taken) >= class_num):
        raise ConfigError("Arch.models: with 'answers', leave at least one member without it and one class "
                          "unanswered: those members share out the other classes")
    return answers


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


def infer_member_name(arch, names):
    """The member of a DistillationModel that is evaluated and exported: Arch.infer_model_name, else the last."""
    return arch.get("infer_model_name") or names[-1]


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


def exported_weights(model, prefix) -> dict:
    """The weights of an exported model (`prefix`.pdmodel + .pdiparams, as engine.export writes them) for `model`,
    key -> array, matched by parameter name: both come from build_model's fresh name scope. So an exported model
    can be re-exported (other views), evaluated without its training checkpoint, or start a training."""
    import numpy as np

    paddle.enable_static()
    try:
        scope = paddle.static.Scope()
        with paddle.static.scope_guard(scope):
            program, _, _ = paddle.static.load_inference_model(str(prefix), paddle.static.Executor(paddle.CPUPlace()))
            values = {}
            for var in program.list_vars():
                if var.persistable and var.name not in ("feed", "fetch") and scope.find_var(var.name) is not None:
                    values[var.name] = np.array(scope.find_var(var.name).get_tensor())
    finally:
        paddle.disable_static()
    return {key: values[p.name] for key, p in model.state_dict().items() if p.name in values}


def _params_file(prefix):
    prefix = str(prefix)
    return Path(prefix if prefix.endswith(".pdparams") else prefix + ".pdparams")


def load_weights(model, prefix, finetune=False):
    """Load `prefix`.pdparams, or an exported model's `prefix`.pdiparams (`inference/inference`: .pdmodel and
    .pdiparams, no .pdparams), into `model`; any missing key or shape mismatch is an error naming the file. A
    plainer variant's weights are first fitted to the model where the backbone knows how (FaceCNN.fit_pretrained).

    finetune=True (Global.pretrained_model in training) keeps the model's own initial values for parameters whose
    shapes differ, as PaddleClas does, so that a model trained on other classes (another class_num) starts a new
    head; it returns the names of those parameters.
    """
    path = _params_file(prefix)
    if not path.is_file() and Path(f"{prefix}.pdmodel").is_file() and Path(f"{prefix}.pdiparams").is_file():
        path, state = Path(f"{prefix}.pdiparams"), exported_weights(model, prefix)
    elif not path.is_file():
        raise WeightsError(f"weights file {path} not found (give the prefix, e.g. output/ResNet18/best_model)")
    else:
        state = paddle.load(str(path))
    state = model.fit_pretrained(state) if hasattr(model, "fit_pretrained") else state
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    if len(missing) == len(own):
        raise WeightsError(f"{path} holds weights of another architecture (none of {type(model).__name__}'s "
                           "parameters are in it): check Arch.name or the weights file")
    if missing:
        raise WeightsError(f"{path} lacks {len(missing)} of the model's parameters (first: {missing[0]}): "
                           "it was saved from another architecture or variant")
    wrong = [k for k, v in own.items() if list(state[k].shape) != list(v.shape)]
    described = [f"{k} {list(state[k].shape)} vs {list(own[k].shape)}" for k in wrong]
    if wrong and (not finetune or len(wrong) > len(own) // 2):
        raise WeightsError(f"{path} does not fit the model, shapes differ (file vs model): {described[0]}"
                           f"{f' and {len(wrong) - 1} more' if len(wrong) > 1 else ''}: check Arch.class_num "
                           "and Arch.name")
    model.set_state_dict({k: v if k in wrong else paddle.to_tensor(state[k]) for k, v in own.items()})
    return wrong


def log_new_head(names, whose=""):
    """Warn of the parameters that load_weights(finetune=True) left at their initial values, if any."""
    if names:
        log.warning("%s%d parameter(s) of another shape keep their initial values (a new head): %s", whose,
                    len(names), "; ".join(names))


# A checkpoint's averaged weights (engine/ema.py), beside its own.
EMA_SUFFIX = ".ema.pdparams"


def save_checkpoint(model, optimizer, state, prefix, ema=None):
    """prefix.pdparams / .pdopt / .json (and .ema.pdparams with an EMA), each written to a temp file and renamed so
    a kill leaves no torn file."""
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    parts = [(".pdparams", model.state_dict()), (".pdopt", optimizer.state_dict())]
    if ema is not None:
        parts.append((EMA_SUFFIX, ema.state_dict()))
    for suffix, obj in parts:
        with written_atomically(prefix.with_name(prefix.name + suffix)) as tmp:
            paddle.save(obj, str(tmp))
    atomic_write_text(prefix.with_name(prefix.name + ".json"), json.dumps(state, indent=1))


def load_checkpoint(model, optimizer, prefix, ema=None):
    """Restore weights, optimizer (with its lr schedule) and EMA from `prefix`; returns the saved state dict."""
    prefix = Path(str(prefix).removesuffix(".pdparams"))
    opt, meta = prefix.with_name(prefix.name + ".pdopt"), prefix.with_name(prefix.name + ".json")
    averaged = prefix.with_name(prefix.name + EMA_SUFFIX)
    for path in (opt, meta):
        if not path.is_file():
            raise WeightsError(f"checkpoint file {path} not found: Global.checkpoints takes a prefix such as "
                               "output/ResNet18/latest")
    if ema is not None and not averaged.is_file():
        raise WeightsError(f"{averaged} not found: this checkpoint was saved without EMA; resume it without the EMA "
                           "section, or start a new run")
    load_weights(model, prefix)
    optimizer.set_state_dict(paddle.load(str(opt)))
    if ema is not None:
        ema.set_state_dict(paddle.load(str(averaged)))
    return json.loads(meta.read_text(encoding="utf-8"))


def remove_checkpoint(prefix):
    for suffix in (".pdparams", ".pdopt", ".json", EMA_SUFFIX):
        Path(str(prefix) + suffix).unlink(missing_ok=True)
