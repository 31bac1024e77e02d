"""EnsembleModel: members trained on their own, their probabilities averaged in evaluation and in the exported
graph."""
import json
from pathlib import Path

import numpy as np
import paddle
import pytest
import yaml

from engine.config import ConfigError, load_config
from engine.evaluate import evaluate, member_agreement
from engine.export import export
from engine.model import DeployedModel, build_model, trainable_parameters
from engine.train import train
from test_engine_data import make_dataset, overrides

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "test" / "tiny.yaml"
FACECNN = ["Arch.name=FaceCNN_x0_5", "Global.flip_average=True", "Global.view_average=[[0.9, 0, 0]]"]


def member_weights(config, seed, out):
    """A member trained for one epoch from its own seed, so that the members answer differently."""
    config["Global"].update(seed=seed, epochs=1, output_dir=str(out), eval_during_train=False)
    return train(config) / "latest"


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    root = tmp_path_factory.mktemp("members")
    data = make_dataset(root / "data")
    single = load_config(TINY, overrides(data, root, FACECNN))
    # One member as a training checkpoint, the other as an exported model: both are what `pretrained` takes.
    first = member_weights(single, 1, root / "first")
    second = member_weights(single, 2, root / "second_run")
    single["Global"].update(pretrained_model=str(second), save_inference_dir=str(root / "second"))
    export(single)
    return data, root, [first, root / "second" / "inference"]


def ensemble_overrides(data, out, prefixes, extra=()):
    first, second = prefixes
    return overrides(data, out, [*FACECNN, "Arch.name=EnsembleModel",
                                 f"Arch.models=[{{A: {{name: FaceCNN_x0_5, pretrained: {first}}}}}, "
                                 f"{{B: {{name: FaceCNN_x0_5, pretrained: {second}}}}}]", *extra])


def test_the_exported_ensemble_answers_the_mean_of_its_members(members, tmp_path):
    data, root, prefixes = members
    config = load_config(TINY, ensemble_overrides(data, tmp_path, prefixes,
                                                  [f"Global.save_inference_dir={tmp_path / 'ensemble'}"]))
    out = export(config)
    assert yaml.safe_load((out / "inference.yml").read_text())["Global"]["model_name"] == \
        "EnsembleModel: FaceCNN_x0_5 + FaceCNN_x0_5"
    x, answers = member_answers(data, root, prefixes, tmp_path)
    ensemble = paddle.jit.load(str(out / "inference"))(x).numpy()
    # With one parameter name per layer for both members, the graph would run one member's weights twice.
    np.testing.assert_allclose(ensemble, (answers[0] + answers[1]) / 2, atol=1e-5)


def member_answers(data, root, prefixes, tmp_path):
    """Each member's own exported answer on the same faces, and those faces."""
    x = paddle.to_tensor(np.random.default_rng(3).uniform(-1, 1, (5, 3, 48, 48)).astype(np.float32))
    single = load_config(TINY, overrides(data, tmp_path, FACECNN))
    answers = []
    for prefix in prefixes:
        single["Global"].update(pretrained_model=str(prefix), save_inference_dir=str(tmp_path / Path(prefix).name))
        answers.append(paddle.jit.load(str(export(single) / "inference"))(x).numpy())
    assert np.abs(answers[0] - answers[1]).max() > 0.05, "the members answer alike: the test would prove nothing"
    return x, answers


def answering(prefixes, answers_of_a, answers_of_b=None):
    first, second = prefixes
    of_b = f", answers: {answers_of_b}" if answers_of_b else ""
    return (f"Arch.models=[{{A: {{name: FaceCNN_x0_5, pretrained: {first}, answers: {answers_of_a}}}}}, "
            f"{{B: {{name: FaceCNN_x0_5, pretrained: {second}{of_b}}}}}]")


def test_a_member_that_answers_some_classes_sets_them_and_the_others_share_out_the_rest(members, tmp_path):
    """A: P(class 3) alone; B: how the rest divides among classes 0-2 (the face-status model's no-face check from
    one model and masked against unmasked from another)."""
    data, root, prefixes = members
    config = load_config(TINY, ensemble_overrides(data, tmp_path, prefixes, [
        answering(prefixes, [3]), f"Global.save_inference_dir={tmp_path / 'ensemble'}"]))
    ensemble = paddle.jit.load(str(export(config) / "inference"))
    x, (a, b) = member_answers(data, root, prefixes, tmp_path)
    combined = ensemble(x).numpy()
    np.testing.assert_allclose(combined[:, 3], a[:, 3], atol=1e-5)
    np.testing.assert_allclose(combined[:, :3], b[:, :3] / b[:, :3].sum(1, keepdims=True) * (1 - a[:, 3:]),
                               atol=1e-5)
    np.testing.assert_allclose(combined.sum(1), 1, atol=1e-5)


@pytest.mark.parametrize("answers_of_a, answers_of_b, message", [
    ("[4]", None, "answers: a list of class indices from 0 to 3"),
    ("[]", None, "answers: a list of class indices"),
    ("[true]", None, "answers: a list of class indices"),   # YAML's true is not class 1
    ("[1]", "[1, 2]", "class 1 is already answered by another member"),
    ("[0, 1]", "[2, 3]", "leave at least one member without it and one class unanswered"),
])
def test_answers_that_leave_nothing_to_share_are_errors(members, tmp_path, answers_of_a, answers_of_b, message):
    data, root, prefixes = members
    models = answering(prefixes, answers_of_a, answers_of_b)
    with pytest.raises(ConfigError, match=message):
        build_model(load_config(TINY, ensemble_overrides(data, tmp_path, prefixes, [models])))


def test_evaluation_measures_the_ensemble(members, tmp_path):
    data, root, prefixes = members
    config = load_config(TINY, ensemble_overrides(data, tmp_path, prefixes))
    report = evaluate(config)
    model = DeployedModel(build_model(config), flip_average=True, views=[[0.9, 0, 0]])
    model.eval()
    from engine.data import build_loader
    from engine.evaluate import make_report, predict_loader
    _, labels, probs, _ = predict_loader(model, build_loader(config, "Eval", shard=False))
    assert report["accuracy"] == make_report(labels, probs, report["labels"])["accuracy"]
    assert json.loads((tmp_path / "EnsembleModel" / "report.json").read_text())["members"] == report["members"]
    ensemble = build_model(config)
    alone = {}
    for name, net in zip(ensemble.names, ensemble.members):
        member = DeployedModel(net, flip_average=True, views=[[0.9, 0, 0]])
        member.eval()
        alone[name] = predict_loader(member, build_loader(config, "Eval", shard=False))[2].argmax(axis=1)
    assert report["members"]["accuracy"] == {name: float(np.mean(pred == labels)) for name, pred in alone.items()}
    assert report["members"]["disagree_pairs"] == {"A / B": float(np.mean(alone["A"] != alone["B"]))}


def test_member_agreement_counts_disagreements_and_faces_one_member_gets_right():
    labels = np.array([0, 1, 2, 0])
    one_hot = np.eye(3, dtype=np.float32)
    members = {"A": one_hot[[0, 1, 2, 1]], "B": one_hot[[0, 2, 2, 2]], "C": one_hot[[0, 1, 1, 2]]}
    agreement = member_agreement(labels, members)
    assert agreement["accuracy"] == {"A": 0.75, "B": 0.5, "C": 0.5}
    assert agreement["disagree_pairs"] == {"A / B": 0.5, "A / C": 0.5, "B / C": 0.5}
    assert agreement["disagree_any"] == 0.75
    assert agreement["one_right"] == 0.75


def test_an_ensemble_is_not_trained_and_needs_its_members_weights(members, tmp_path):
    data, root, prefixes = members
    config = load_config(TINY, ensemble_overrides(data, tmp_path, prefixes))
    with pytest.raises(ConfigError, match="not trained: train each member"):
        trainable_parameters(build_model(config))
    with pytest.raises(ConfigError, match="Arch.models.B: an EnsembleModel member needs 'pretrained'"):
        build_model(load_config(TINY, ensemble_overrides(data, tmp_path, prefixes, [
            f"Arch.models=[{{A: {{name: FaceCNN_x0_5, pretrained: {prefixes[0]}}}}}, {{B: {{name: FaceCNN_x0_5}}}}]"])))
    with pytest.raises(ConfigError, match="'Arch.infer_model_name' is for DistillationModel: EnsembleModel does not "
                                          "take it"):
        build_model(load_config(TINY, ensemble_overrides(data, tmp_path, prefixes, ["Arch.infer_model_name=A"])))
    with pytest.raises(ConfigError, match="Arch.models.B.sees is a DistillationModel teacher's"):
        build_model(load_config(TINY, ensemble_overrides(data, tmp_path, prefixes, [
            f"Arch.models=[{{A: {{name: FaceCNN_x0_5, pretrained: {prefixes[0]}}}}}, "
            f"{{B: {{name: FaceCNN_x0_5, pretrained: {prefixes[1]}, sees: pair}}}}]"])))
    with pytest.raises(ConfigError, match="Arch.models.B: an EnsembleModel's views are Global.flip_average"):
        build_model(load_config(TINY, ensemble_overrides(data, tmp_path, prefixes, [
            f"Arch.models=[{{A: {{name: FaceCNN_x0_5, pretrained: {prefixes[0]}}}}}, "
            f"{{B: {{name: FaceCNN_x0_5, pretrained: {prefixes[1]}, flip_average: True}}}}]"])))
