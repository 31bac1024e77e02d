"""Distillation on paired faces: DistillationModel, PairedImageNetDataset and the Distillation losses."""
import shutil
from pathlib import Path

import cv2
import numpy as np
import paddle
import pytest
import yaml

from engine.config import ConfigError, load_config
from engine.data import DataError, build_loader
from engine.export import export
from engine.losses import DistillationKLDivLoss, build_loss
from engine.model import DeployedModel, build_model
from engine.weights import WeightsError, load_weights
from engine.train import train
from test_engine_data import make_dataset, overrides

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "test" / "tiny.yaml"
CROP_AND_FLIP = ("DataLoader.Train.dataset.transform_ops=[{DecodeImage: {to_rgb: True, channel_first: False}}, "
                 "{RandCropImage: {size: 48, scale: [0.5, 1.0], ratio: [0.75, 1.33]}}, {RandFlipImage: {flip_code: 1}}, "
                 "{NormalizeImage: {scale: 1.0/255.0, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], order: ''}}]")


def inverted_pairs(data, root):
    """Each training image of `data`, its grey levels inverted, under the same name in `root` (PNG bytes, so that
    the pixels are exact)."""
    for line in (data / "train_list.txt").read_text().splitlines():
        rel = line.rsplit(maxsplit=1)[0]
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(cv2.imencode(".png", 255 - cv2.imread(str(data / rel)))[1].tobytes())
    return root


def distill_overrides(data, out, teacher, pair_root, extra=()):
    return overrides(data, out, [
        "Arch.name=DistillationModel", "Arch.freeze_params_list=[True, False]", "Arch.infer_model_name=Student",
        f"Arch.models=[{{Teacher: {{name: PPLCNet_x0_25, pretrained: {teacher}}}}}, "
        f"{{Student: {{name: PPLCNet_x0_25, pretrained: {teacher}}}}}]",
        "Loss.Train=[{DistillationGTCELoss: {weight: 0.3, model_names: [Student], epsilon: 0.1}}, "
        "{DistillationKLDivLoss: {weight: 0.7, model_name_pairs: [[Student, Teacher]], temperature: 4}}]",
        "DataLoader.Train.dataset.name=PairedImageNetDataset", f"DataLoader.Train.dataset.pair_root={pair_root}",
        *extra])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    data = make_dataset(tmp_path_factory.mktemp("data"))
    return data, inverted_pairs(data, tmp_path_factory.mktemp("pairs"))


def test_a_pair_gets_the_same_crop_and_flip(data, tmp_path):
    data, pairs = data
    config = load_config(TINY, distill_overrides(data, tmp_path, "unused", pairs, [CROP_AND_FLIP]))
    dataset = build_loader(config, "Train").dataset
    firsts = []
    for epoch in range(3):
        dataset.set_epoch(epoch)
        for index in range(len(dataset)):
            pair, label, _ = dataset[index]
            assert pair.shape == (2, 3, 48, 48) and label == dataset.labels[index]
            # Normalised to [-1, 1], an inverted image is the negative; a different crop or flip would differ
            # far more than the one grey level (2/255) that rounding can move it.
            np.testing.assert_allclose(pair[1], -pair[0], atol=2.1 / 255)
        firsts.append(dataset[0][0][0])
    assert not np.allclose(firsts[0], firsts[1]) or not np.allclose(firsts[1], firsts[2]), "augmentation never varied"


def test_the_kl_term_is_hintons_soft_target_loss():
    rng = np.random.default_rng(0)
    student, teacher = rng.normal(size=(5, 4)), rng.normal(size=(5, 4)) * 3
    temperature = 4.0

    def softmax(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    p_t, p_s = softmax(teacher / temperature), softmax(student / temperature)
    expected = temperature ** 2 * np.mean(np.sum(p_t * (np.log(p_t) - np.log(p_s)), axis=1))
    loss = DistillationKLDivLoss(4, [["Student", "Teacher"]], temperature)
    s = paddle.to_tensor(student.astype(np.float32), stop_gradient=False)
    t = paddle.to_tensor(teacher.astype(np.float32), stop_gradient=False)
    value = loss({"Student": s, "Teacher": t}, None)
    assert float(value) == pytest.approx(expected, rel=1e-5) and expected > 0.05
    value.backward()
    assert s.grad is not None and t.grad is None      # the teacher's answer is a target, never trained
    assert float(loss({"Student": s, "Teacher": s}, None)) == pytest.approx(0.0, abs=1e-6)


def test_the_student_trains_the_teacher_stays_and_only_the_student_ships(data, inference_dir, tmp_path):
    data, pairs = data
    teacher = inference_dir / "inference"
    config = load_config(TINY, distill_overrides(data, tmp_path, teacher, pairs, ["Global.epochs=1"]))
    run_dir = train(config)
    assert run_dir.name == "DistillationModel"
    start = build_model(load_config(TINY, overrides(data, tmp_path)))
    load_weights(start, teacher)
    start = {k: v.numpy() for k, v in start.state_dict().items()}
    trained = paddle.load(str(run_dir / "latest.pdparams"))
    teacher_keys = [k for k in trained if k.startswith("members.0.")]
    student_keys = [k for k in trained if k.startswith("members.1.")]
    assert len(teacher_keys) == len(student_keys) == len(start)
    # Frozen and in eval mode: neither its weights nor its BatchNorm statistics move.
    for key in teacher_keys:
        np.testing.assert_array_equal(trained[key].numpy(), start[key.removeprefix("members.0.")], err_msg=key)
    moved = [k for k in student_keys if not np.array_equal(trained[k].numpy(), start[k.removeprefix("members.1.")])]
    assert len(moved) > len(student_keys) // 2

    config["Global"].update(pretrained_model=str(run_dir / "latest"), save_inference_dir=str(tmp_path / "export"))
    out = export(config)
    assert yaml.safe_load((out / "inference.yml").read_text())["Global"]["model_name"] == "PPLCNet_x0_25"
    student = build_model(load_config(TINY, overrides(data, tmp_path)))
    student.set_state_dict({k.removeprefix("members.1."): trained[k] for k in student_keys})
    expected = DeployedModel(student)
    expected.eval()
    x = np.random.default_rng(1).uniform(-1, 1, (3, 3, 48, 48)).astype(np.float32)
    exported = paddle.jit.load(str(out / "inference"))
    np.testing.assert_allclose(exported(paddle.to_tensor(x)).numpy(), expected(paddle.to_tensor(x)).numpy(),
                               atol=1e-5)


def uneven_teacher(data, tmp_path, seed):
    """A model whose weights answer unevenly (so that views and images change its answer), saved as
    tmp_path/teacher.pdparams; returns it and the generator that made it."""
    plain = build_model(load_config(TINY, overrides(data, tmp_path)))
    rng = np.random.default_rng(seed)
    plain.set_state_dict({k: (v.numpy() + rng.normal(0, 0.3, v.shape)).astype(np.float32)
                          for k, v in plain.state_dict().items() if not k.endswith("_variance")})
    paddle.save(plain.state_dict(), str(tmp_path / "teacher.pdparams"))
    return plain, rng


def test_a_teacher_with_views_answers_the_view_average(data, tmp_path):
    """Softened at any temperature, the teacher's logits give the view-averaged model's probabilities (T = 1) or
    their p^(1/T): what its exported model with those views answers."""
    data, pairs = data
    plain, rng = uneven_teacher(data, tmp_path, 3)
    views = [[0.9, 0, 0], [1.0, 2, -1]]
    members = (f"Arch.models=[{{Teacher: {{name: PPLCNet_x0_25, pretrained: {tmp_path / 'teacher'}, "
               f"flip_average: True, view_average: {views}}}}}, {{Student: {{name: PPLCNet_x0_25}}}}]")
    model = build_model(load_config(TINY, distill_overrides(data, tmp_path, "", pairs, [members])))
    model.train()
    expected, one_pass = DeployedModel(plain, flip_average=True, views=views), DeployedModel(plain)
    expected.eval()
    x = paddle.to_tensor(rng.uniform(-1, 1, (5, 2, 3, 48, 48)).astype(np.float32))
    logits = model(x)["Teacher"]
    averaged = expected(x[:, 1]).numpy()
    assert np.abs(averaged - one_pass(x[:, 1]).numpy()).max() > 0.01
    np.testing.assert_allclose(paddle.nn.functional.softmax(logits).numpy(), averaged, atol=1e-5)
    softened = averaged ** 0.25 / (averaged ** 0.25).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(paddle.nn.functional.softmax(logits / 4).numpy(), softened, atol=1e-5)


def test_each_teacher_sees_the_image_its_sees_names(data, tmp_path):
    """By default a teacher sees the pair (the unmasked face) and the student the image (the masked one); a masked
    model among the teachers, `sees: image`, answers the image as the student sees it."""
    data, pairs = data
    plain, rng = uneven_teacher(data, tmp_path, 5)
    members = (f"Arch.models=[{{Unmasked: {{name: PPLCNet_x0_25, pretrained: {tmp_path / 'teacher'}}}}}, "
               f"{{Masked: {{name: PPLCNet_x0_25, pretrained: {tmp_path / 'teacher'}, sees: image}}}}, "
               f"{{Student: {{name: PPLCNet_x0_25}}}}]")
    model = build_model(load_config(TINY, distill_overrides(
        data, tmp_path, "", pairs, [members, "Arch.freeze_params_list=[True, True, False]"])))
    model.train()
    plain.eval()
    x = paddle.to_tensor(rng.uniform(-1, 1, (4, 2, 3, 48, 48)).astype(np.float32))
    outputs = model(x)
    image, pair = plain(x[:, 0]).numpy(), plain(x[:, 1]).numpy()
    assert np.abs(image - pair).max() > 0.01
    np.testing.assert_allclose(outputs["Unmasked"].numpy(), pair, atol=1e-5)
    np.testing.assert_allclose(outputs["Masked"].numpy(), image, atol=1e-5)


def test_an_exported_model_teaches_with_its_whole_graph(data, tmp_path):
    """A teacher given as an exported model (here with its mirror image and a crop averaged in the graph) answers
    what its graph answers, softened as a teacher with views is, and a student trains and exports beside it."""
    data, pairs = data
    plain, rng = uneven_teacher(data, tmp_path, 7)
    graph = export(load_config(TINY, overrides(data, tmp_path, [
        f"Global.pretrained_model={tmp_path / 'teacher'}", f"Global.save_inference_dir={tmp_path / 'graph'}",
        "Global.flip_average=True", "Global.view_average=[[0.9, 0, 0]]"]))) / "inference"
    members = (f"Arch.models=[{{Teacher: {{exported: {graph}, sees: pair}}}}, "
               f"{{Student: {{name: PPLCNet_x0_25, pretrained: {tmp_path / 'teacher'}}}}}]")
    config = load_config(TINY, distill_overrides(data, tmp_path, "", pairs, [members, "Global.epochs=1"]))
    model = build_model(config)
    # Building reads the config and leaves it whole: a run saves it, and a resumed run builds from it again.
    assert config["Arch"]["models"][0] == {"Teacher": {"exported": str(graph), "sees": "pair"}}
    model.train()
    x = paddle.to_tensor(rng.uniform(-1, 1, (4, 2, 3, 48, 48)).astype(np.float32))
    answer = paddle.jit.load(str(graph))(x[:, 1]).numpy()
    one_pass = DeployedModel(plain)
    one_pass.eval()
    assert np.abs(answer - one_pass(x[:, 1]).numpy()).max() > 0.01
    logits = model(x)["Teacher"]
    np.testing.assert_allclose(paddle.nn.functional.softmax(logits).numpy(), answer, atol=1e-5)
    softened = answer ** 0.25 / (answer ** 0.25).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(paddle.nn.functional.softmax(logits / 4).numpy(), softened, atol=1e-5)

    run_dir = train(config)
    # The checkpoint holds the student, not the graph (read from its file again); with the graph's weights in it,
    # their saved names, the same as the student's, made the resumed student NaN.
    config["Global"].update(epochs=2, checkpoints=str(run_dir / "latest"))
    train(config)
    config["Global"].update(checkpoints=None, pretrained_model=str(run_dir / "latest"),
                            save_inference_dir=str(tmp_path / "student"))
    student = paddle.jit.load(str(export(config) / "inference"))(x[:, 0]).numpy()
    assert student.shape == (4, 4) and np.allclose(student.sum(axis=1), 1, atol=1e-5)


@pytest.mark.parametrize("extra, message", [
    (["Arch.freeze_params_list=[False, False]"], "exactly one member may train"),
    (["Arch.models=[{Teacher: {name: PPLCNet_x0_25}}, {Student: {name: PPLCNet_x0_25, flip_average: True}}]"],
     "flip_average and view_average are for a frozen teacher"),
    (["Arch.models=[{Teacher: {name: PPLCNet_x0_25, view_average: [[1.5, 0, 0]]}}, "
      "{Student: {name: PPLCNet_x0_25}}]"], r"Arch.models.Teacher.view_average: each view is \[share"),
    (["Arch.infer_model_name=Pupil"], "'Pupil' is not among Arch.models"),
    (["Arch.models=[{Teacher: {name: PPLCNet_x0_25, dropout: 0.1}}, {Student: {name: PPLCNet_x0_25}}]"],
     r"unknown key 'Arch.models.Teacher.dropout' \(PPLCNet_x0_25 takes no 'dropout'\); did you mean 'dropout_prob'"),
    (["Arch.models=[{Student: {name: PPLCNet_x0_25}}]", "Arch.freeze_params_list=[False]"], "two or more members"),
    (["Arch.models=[{Teacher: {name: PPLCNet_x0_25, answers: [1]}}, {Student: {name: PPLCNet_x0_25}}]"],
     "Arch.models.Teacher.answers is an EnsembleModel's"),
    (["Arch.models=[{Teacher: {name: PPLCNet_x0_25, sees: masked}}, {Student: {name: PPLCNet_x0_25}}]"],
     "Arch.models.Teacher.sees: 'image' .* or 'pair' .*; got 'masked'"),
    (["Arch.models=[{Teacher: {exported: ./nowhere/inference}}, {Student: {name: PPLCNet_x0_25}}]"],
     r"Arch.models.Teacher.exported: ./nowhere/inference.pdmodel and .pdiparams not found"),
    (["Arch.models=[{Teacher: {exported: x, name: PPLCNet_x0_25}}, {Student: {name: PPLCNet_x0_25}}]"],
     "an exported teacher takes no 'name'"),
    (["Arch.models=[{Teacher: {name: PPLCNet_x0_25}}, {Student: {exported: x}}]"],
     "Arch.models.Student.exported: an exported model can only teach"),
    (["DataLoader.Train.dataset.pair_root="], "PairedImageNetDataset needs pair_root"),
    (["Loss.Train=[{CELoss: {weight: 1.0}}]"], "Loss.Train.CELoss: a DistillationModel gives one output per member"),
])
def test_distillation_settings_that_cannot_run_are_named(data, tmp_path, extra, message):
    data, pairs = data
    with pytest.raises(ConfigError, match=message):
        config = load_config(TINY, distill_overrides(data, tmp_path, "", pairs, extra))
        build_model(config)
        build_loader(config, "Train")
        build_loss(config)


def test_a_missing_pair_names_the_file(data, tmp_path):
    data, pairs = data
    partial = shutil.copytree(pairs, tmp_path / "partial")
    (partial / "train" / "fear" / "train_3.jpg").unlink()
    config = load_config(TINY, distill_overrides(data, tmp_path, "", partial))
    with pytest.raises(DataError, match=r"1 of 48 images .* have no pair .*partial/train/fear/train_3.jpg"):
        build_loader(config, "Train")


def test_a_student_trains_on_mixed_pairs(data, inference_dir, tmp_path):
    data, pairs = data
    mixing = "DataLoader.Train.dataset.batch_transform_ops=[{MixupOperator: {alpha: 0.4}}, {CutmixOperator: {}}]"
    config = load_config(TINY, distill_overrides(data, tmp_path, inference_dir / "inference", pairs,
                                                 ["Global.epochs=1", mixing]))
    run_dir = train(config)
    losses = [r["loss"] for r in map(yaml.safe_load, (run_dir / "metrics.jsonl").read_text().splitlines())
              if r.get("kind") == "train"]
    assert losses and all(np.isfinite(losses))


def with_extra_class(data, pairs, root):
    """A training list of `data`'s faces plus each fear face again under class id 4, a fifth class that the
    four-class model does not have (as FER2013's other three expressions can be)."""
    lines = (data / "train_list.txt").read_text().splitlines()
    extra = [line.replace(" 1", " 4") for line in lines if line.endswith(" 1")]
    (root / "train_list.txt").write_text("\n".join(lines + extra) + "\n")
    return [f"DataLoader.Train.dataset.cls_label_path={root / 'train_list.txt'}",
            "DataLoader.Train.dataset.teacher_only_classes=[4]"], len(extra)


def test_faces_of_teacher_only_classes_train_on_the_teacher_alone(data, inference_dir, tmp_path):
    data, pairs = data
    extra, count = with_extra_class(data, pairs, tmp_path)
    config = load_config(TINY, distill_overrides(data, tmp_path, inference_dir / "inference", pairs,
                                                 ["Global.epochs=1", *extra]))
    dataset = build_loader(config, "Train").dataset
    assert dataset.labels.count(-1) == count == 12 and len(dataset) == 60
    loss = build_loss(config)
    rng = np.random.default_rng(0)
    outputs = {name: paddle.to_tensor(rng.normal(size=(4, 4)).astype(np.float32)) for name in ("Student", "Teacher")}
    labels = paddle.to_tensor([0, -1, 2, -1])
    labelled = {name: paddle.gather(out, paddle.to_tensor([0, 2])) for name, out in outputs.items()}
    kl = DistillationKLDivLoss(4, [["Student", "Teacher"]], 4)
    # the label term sees the labelled rows only, the teacher's term all of them
    expected = (float(build_loss(config)(labelled, paddle.to_tensor([0, 2]))) - 0.7 * float(kl(labelled, None))
                + 0.7 * float(kl(outputs, None)))
    assert float(loss(outputs, labels)) == pytest.approx(expected, rel=1e-5)
    assert float(loss(outputs, paddle.to_tensor([-1, -1, -1, -1]))) == pytest.approx(0.7 * float(kl(outputs, None)),
                                                                                   rel=1e-5)
    run_dir = train(config)
    train_records = [r for r in map(yaml.safe_load, (run_dir / "metrics.jsonl").read_text().splitlines())
                     if r.get("kind") == "train"]
    assert train_records and 0 <= train_records[-1]["top1"] <= 1


@pytest.mark.parametrize("extra, message", [
    (["Arch={name: PPLCNet_x0_25, class_num: 4}"], "only a DistillationModel's training data"),
    (["DataLoader.Train.dataset.teacher_only_classes=[3]"], r"each Arch.class_num \(4\) or more"),
    (["DataLoader.Train.dataset.batch_transform_ops=[{MixupOperator: {}}]"], "would mix labelled and unlabelled"),
    (["Loss.Train=[{DistillationGTCELoss: {weight: 1.0, model_names: [Student]}}]"],
     "add DistillationKLDivLoss to Loss.Train"),
])
def test_teacher_only_classes_that_cannot_work_are_named(data, tmp_path, extra, message):
    data, pairs = data
    extra_class, _ = with_extra_class(data, pairs, tmp_path)
    config = load_config(TINY, distill_overrides(data, tmp_path, "unused", pairs, [*extra_class, *extra]))
    if config["Arch"]["name"] != "DistillationModel":
        config["DataLoader"]["Train"]["dataset"].update(name="ImageNetDataset")
        config["DataLoader"]["Train"]["dataset"].pop("pair_root")
    with pytest.raises(ConfigError, match=message):
        build_loader(config, "Train")


def test_a_student_of_more_classes_learns_the_teachers_answer_among_its_classes(data, inference_dir, tmp_path):
    """A student of more classes than its four-class teacher: the KL term compares the teacher's answer with the
    student's answer among the teacher's four classes, its first logits; the student starts from the teacher's
    weights with a new head (the teacher's must fit exactly); training runs, and the export answers the four."""
    rng = np.random.default_rng(0)
    student, teacher = rng.normal(size=(5, 7)).astype(np.float32), rng.normal(size=(5, 4)).astype(np.float32)
    kl = DistillationKLDivLoss(7, [["Student", "Teacher"]], 4)
    expected = DistillationKLDivLoss(4, [["Student", "Teacher"]], 4)(
        {"Student": paddle.to_tensor(student[:, :4]), "Teacher": paddle.to_tensor(teacher)}, None)
    got = kl({"Student": paddle.to_tensor(student), "Teacher": paddle.to_tensor(teacher)}, None)
    assert float(got) == pytest.approx(float(expected), rel=1e-6) and float(expected) > 0.01
    with pytest.raises(ConfigError, match="fewer than its teacher"):
        kl({"Student": paddle.to_tensor(teacher), "Teacher": paddle.to_tensor(student)}, None)

    data, pairs = data
    extra, _ = with_extra_class(data, pairs, tmp_path)
    labels = tmp_path / "labels.txt"
    labels.write_text("0 angry\n1 fear\n2 happy\n3 surprise\n4 other\n")
    teacher_prefix = inference_dir / "inference"
    config = load_config(TINY, distill_overrides(data, tmp_path, teacher_prefix, pairs, [
        "Global.epochs=1", extra[0], "Arch.class_num=5", "Global.answer_classes=4",
        f"Infer.PostProcess.class_id_map_file={labels}",
        f"Arch.models=[{{Teacher: {{name: PPLCNet_x0_25, class_num: 4, pretrained: {teacher_prefix}}}}}, "
        f"{{Student: {{name: PPLCNet_x0_25, pretrained: {teacher_prefix}}}}}]"]))
    run_dir = train(config)
    assert "Arch.models.Student: 2 parameter(s) of another shape keep their initial values" in (
        run_dir / "train.log").read_text()
    wrong_teacher = [*config["Arch"]["models"]]
    wrong_teacher[0] = {"Teacher": {**wrong_teacher[0]["Teacher"], "class_num": 5}}
    with pytest.raises(WeightsError, match="shapes differ"):
        build_model({**config, "Arch": {**config["Arch"], "models": wrong_teacher}})
    config["Global"].update(pretrained_model=str(run_dir / "latest"), save_inference_dir=str(tmp_path / "export"))
    out = export(config)
    assert yaml.safe_load((out / "inference.yml").read_text())["PostProcess"]["Topk"]["label_list"] == [
        "angry", "fear", "happy", "surprise"]
    x = np.random.default_rng(1).uniform(-1, 1, (2, 3, 48, 48)).astype(np.float32)
    assert paddle.jit.load(str(out / "inference"))(paddle.to_tensor(x)).shape == [2, 4]
