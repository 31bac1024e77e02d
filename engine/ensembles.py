"""Models of several members: PaddleClas's DistillationModel (a teacher and a student trained together) and this
project's EnsembleModel (members trained apart, combined in the exported graph)."""
import math
from pathlib import Path

import paddle
import paddle.nn.functional as F

from .backbones import build_backbone
from .config import ConfigError
from .registry import MODELS
from .schema import LIST, STR
from .views import Views, check_views
from .weights import load_weights, log_new_head


def member_specs(models, shared, kind):
    """Arch.models as (name, backbone mapping) pairs, each member's own settings over the `shared` ones that Arch
    gives every member (class_num, dropout_prob...)."""
    if not isinstance(models, list) or len(models) < 2 or not all(
            isinstance(m, dict) and len(m) == 1 and isinstance(next(iter(m.values())), dict) for m in models):
        raise ConfigError(f"Arch.models: list two or more members as '- Teacher: {{name: FaceCNN_x0_5, ...}}' "
                          f"for a {kind}")
    # Copies, which the models may pop keys from. An exported teacher is a whole graph: the settings shared by the
    # backbones are not its.
    return [(name, dict(spec) if "exported" in spec else {**shared, **spec})
            for member in models for name, spec in member.items()]


class ExportedTeacher(paddle.nn.Layer):
    """A frozen teacher that is an exported model (`exported: prefix`, engine.export's inference.pdmodel and
    .pdiparams): whatever its graph computes (an ensemble, views, the face-status combination) is its answer. It
    answers the log of the graph's class probabilities, so that softened at T its softmax is p^(1/T), as a teacher
    with views answers (DistillationModel._teacher_answer)."""

    def __init__(self, prefix, where):
        super().__init__()
        if not (Path(f"{prefix}.pdmodel").is_file() and Path(f"{prefix}.pdiparams").is_file()):
            raise ConfigError(f"{where}exported: {prefix}.pdmodel and .pdiparams not found (give an exported "
                              "model's prefix, e.g. ./inference/face_status/inference)")
        graph = paddle.jit.load(str(prefix))
        graph.eval()
        for param in graph.parameters():
            param.stop_gradient = True
        # Kept out of the layer tree: its weights are the exported file's, not the run's, so checkpoints do not
        # hold them (their saved names would collide with the student's) and nothing can switch it to training.
        object.__setattr__(self, "_graph", graph)

    def forward(self, x):
        # A floor far below any probability that matters, so that softened at T = 4 (p^(1/4)) it stays negligible.
        return paddle.log(paddle.clip(self._graph(x), min=1e-30))


@MODELS.register
class DistillationModel(paddle.nn.Layer):
    """PaddleClas's DistillationModel: named members (Arch.models, e.g. Teacher and Student), each a backbone with
    an optional `pretrained` weights prefix; members flagged in Arch.freeze_params_list are frozen and stay in eval
    mode. forward gives {name: logits}. Given a paired batch [N, 2, C, H, W] (PairedImageNetDataset: this
    project's extension), frozen members see the second image of each pair and the others the first, so that a
    teacher can see the unmasked face while the student learns from the masked one; a member's `sees: image` or
    `sees: pair` says otherwise (a masked model among the teachers sees the masked face, as the student does).
    A frozen member given `flip_average` or `view_average` (this project's) answers with the log of its class
    probabilities averaged over those views (engine/views.py), so that a one-pass student learns the view-averaged
    answer; one given `exported` instead of a backbone is an exported model's whole graph (ExportedTeacher).
    What is evaluated and exported is the member Arch.infer_model_name names."""

    def __init__(self, models: LIST, freeze_params_list: LIST = None, infer_model_name: STR = None, **shared):
        super().__init__()
        members = member_specs(models, shared, "DistillationModel")
        frozen = freeze_params_list or [False] * len(members)
        if len(frozen) != len(members) or not all(isinstance(f, bool) for f in frozen):
            raise ConfigError(f"Arch.freeze_params_list: one True or False per member of Arch.models ({len(members)})")
        self.names = [name for name, _ in members]
        self.infer_model_name = infer_model_name or self.names[-1]
        if self.infer_model_name not in self.names:
            raise ConfigError(f"Arch.infer_model_name {self.infer_model_name!r} is not among Arch.models {self.names}")
        if sum(not f for f in frozen) != 1:
            # Each member has its own name scope, so two trainable members would share optimizer state names.
            raise ConfigError("Arch.freeze_params_list: exactly one member may train (the others are teachers)")
        self.frozen = dict(zip(self.names, frozen))
        self.members, self.views, self.sees_pair = paddle.nn.LayerList(), {}, {}
        for name, spec in members:
            sees = spec.pop("sees", "pair" if self.frozen[name] else "image")
            if sees not in ("image", "pair"):
                raise ConfigError(f"Arch.models.{name}.sees: 'image' (the list's image, e.g. the masked face) or "
                                  f"'pair' (its pair from pair_root, e.g. the unmasked face); got {sees!r}")
            self.sees_pair[name] = sees == "pair"
            if "answers" in spec:
                raise ConfigError(f"Arch.models.{name}.answers is an EnsembleModel's: a DistillationModel exports "
                                  "one member")
            flip, crops = spec.pop("flip_average", False), spec.pop("view_average", None)
            if (flip or crops) and not self.frozen[name]:
                raise ConfigError(f"Arch.models.{name}: flip_average and view_average are for a frozen teacher; "
                                  "the member that trains sees one view (set the exported model's views in Global)")
            self.views[name] = Views(flip, check_views(crops, f"Arch.models.{name}.view_average"))
            if "exported" in spec:
                if not self.frozen[name]:
                    raise ConfigError(f"Arch.models.{name}.exported: an exported model can only teach (freeze it "
                                      "in Arch.freeze_params_list)")
                self.members.append(ExportedTeacher(spec["exported"], f"Arch.models.{name}."))
                continue
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
            view = x if x.ndim == 4 else x[:, 1 if self.sees_pair[name] else 0]
            if self.frozen[name]:
                # Here, not in train(): paddle.DataParallel's train() sets every sublayer's mode itself.
                if net.training:
                    net.eval()
                with paddle.no_grad():
                    outputs[name] = self._teacher_answer(name, net, view)
            else:
                outputs[name] = net(view)
        return outputs

    def _teacher_answer(self, name, net, x):
        views = self.views[name]
        if views.count == 1:
            return net(x)
        # Logits whose softmax is the view average (log of the mean probability, in log space so that tiny
        # probabilities stay exact): softened at a temperature T, it gives the average's p^(1/T).
        log_probs = views.per_view(F.log_softmax(net(views.batch(x)), axis=-1))
        return paddle.logsumexp(log_probs, axis=0) - math.log(views.count)


@MODELS.register
class EnsembleModel(paddle.nn.Layer):
    """This project's own: members (Arch.models, each a backbone with the `pretrained` weights of a model trained
    on its own) whose class probabilities DeployedModel combines, in the exported graph too, so that every backend
    and the phone get the combination. It is evaluated and exported, never trained.

    By default the members' probabilities are averaged. A member given `answers` (class indices) instead sets
    those classes' probabilities alone, and the other members' mean shares out the rest among the other classes,
    in its own proportions: P(no face) from one model and, of what is left, masked against unmasked from another."""

    def __init__(self, models: LIST, **shared):
        super().__init__()
        self.names, self.members, answers = [], paddle.nn.LayerList(), {}
        for name, spec in member_specs(models, shared, "EnsembleModel"):
            pretrained = spec.pop("pretrained", None)
            if {"flip_average", "view_average"} & set(spec):
                raise ConfigError(f"Arch.models.{name}: an EnsembleModel's views are Global.flip_average and "
                                  "Global.view_average, for all members")
            for key in ("sees", "exported"):
                if key in spec:
                    raise ConfigError(f"Arch.models.{name}.{key} is a DistillationModel teacher's: an EnsembleModel "
                                      "combines backbones of its own, which all see the image")
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
        self.answers = check_answers(answers, self.names, shared["class_num"])

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

