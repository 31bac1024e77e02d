"""A model of several heads (Global.heads): MultiListDataset, DistillationKLDivLoss.class_offset, evaluation of one
head and export of all (configs/fused/FaceCNN_fused.yaml's machinery)."""
import cv2
import numpy as np
import paddle
import pytest
import yaml

from engine.config import ConfigError, load_config
from engine.data import DataError, build_loader, label_list
from engine.evaluate import evaluate
from engine.export import export
from engine.losses import CELoss, DistillationGTCELoss, DistillationKLDivLoss
from engine.model import as_deployed, build_model
from engine.train import train
from engine.weights import load_weights
from test_engine_data import make_dataset, overrides
from test_engine_distill import TINY

STATUS = ["masked", "unmasked", "no_face"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The generated four classes, and a label map of three 'status' classes (the first three of them)."""
    data = make_dataset(tmp_path_factory.mktemp("data"))
    (data / "status_labels.txt").write_text("".join(f"{i} {n}\n" for i, n in enumerate(STATUS)))
    lines = [line for line in (data / "train_list.txt").read_text().splitlines() if int(line.split()[1]) < 3]
    (data / "status_list.txt").write_text("\n".join(lines) + "\n")
    return data


def headed_overrides(data, out, teachers, extra=()):
    """A DistillationModel whose student has a 3-class head and a 4-class one, each taught by its own exported
    teacher, on both lists at once."""
    status, expression = teachers
    return overrides(data, out, [
        "Global.heads={status: %s, expression: %s}" % (data / "status_labels.txt", data / "label_list.txt"),
        "Global.eval_head=expression", "Arch.name=DistillationModel", "Arch.class_num=7",
        "Arch.freeze_params_list=[True, True, False]", "Arch.infer_model_name=Student",
        f"Arch.models=[{{Status: {{exported: {status}}}}}, {{Expression: {{exported: {expression}}}}}, "
        "{Student: {name: PPLCNet_x0_25}}]",
        "Loss.Train=[{DistillationKLDivLoss: {weight: 1.0, model_name_pairs: [[Student, Status]]}}, "
        "{DistillationKLDivLoss: {weight: 1.0, model_name_pairs: [[Student, Expression]], class_offset: 3}}]",
        "DataLoader.Train.dataset={name: MultiListDataset, lists: ["
        f"{{image_root: {data}, cls_label_path: {data / 'status_list.txt'}, repeat: 2}}, "
        f"{{image_root: {data}, cls_label_path: {data / 'train_list.txt'}, label_offset: 3}}], "
        "transform_ops: [{DecodeImage: {to_rgb: True, channel_first: False}}, {RandFlipImage: {flip_code: 1}}, "
        "{NormalizeImage: {scale: 1.0/255.0, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], order: ''}}]}",
        "Metric.Train=[]", *extra])


def exported_teacher(data, folder, labels, seed):
    """A tiny model of the classes `labels` lists, with weights that answer unevenly, exported into folder."""
    config = load_config(TINY, overrides(data, folder, [f"Infer.PostProcess.class_id_map_file={labels}",
                                                        f"Arch.class_num={len(labels.read_text().splitlines())}"]))
    model = build_model(config)
    rng = np.random.default_rng(seed)
    model.set_state_dict({k: (v.numpy() + rng.normal(0, 0.3, v.shape)).astype(np.float32)
                          for k, v in model.state_dict().items() if not k.endswith("_variance")})
    paddle.save(model.state_dict(), str(folder / "weights.pdparams"))
    config["Global"].update(pretrained_model=str(folder / "weights"), save_inference_dir=str(folder / "graph"))
    return export(config) / "inference"


def head_distance(model, x):
    """How far the student's heads answer from their teachers (mean absolute difference of the probabilities)."""
    model.eval()
    outputs, softmax = model(x), paddle.nn.functional.softmax
    student = outputs["Student"]
    return float((softmax(student[:, :3]) - softmax(outputs["Status"])).abs().mean()
                 + (softmax(student[:, 3:]) - softmax(outputs["Expression"])).abs().mean())


def test_the_list_of_lists_offsets_and_repeats_each_list(data, tmp_path):
    config = load_config(TINY, headed_overrides(data, tmp_path, ("a", "b")))
    dataset = build_loader(config, "Train").dataset
    status = (data / "status_list.txt").read_text().splitlines()
    train_lines = (data / "train_list.txt").read_text().splitlines()
    assert len(dataset) == 2 * len(status) + len(train_lines)
    assert dataset.labels == [int(line.split()[1]) for line in status] * 2 + \
        [int(line.split()[1]) + 3 for line in train_lines]
    image, label, _ = dataset[len(dataset) - 1]
    assert image.shape == (3, 48, 48) and label == 6


def test_a_list_with_a_pair_root_gives_each_image_with_its_pair_under_the_same_draws(data, tmp_path):
    """pair_root (configs/fused/FaceCNN_fused_privileged.yaml): every sample becomes [image, pair]; the pair is the
    file of the same name under pair_root, flipped with its image, and a list without pair_root pairs each image
    with itself."""
    pairs = tmp_path / "pairs"
    for line in (data / "train_list.txt").read_text().splitlines():
        name = line.split()[0]
        (pairs / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(pairs / name), 255 - cv2.imread(str(data / name), cv2.IMREAD_GRAYSCALE))
    config = load_config(TINY, headed_overrides(data, tmp_path, ("a", "b"), [
        f"DataLoader.Train.dataset.lists=[{{image_root: {data}, cls_label_path: {data / 'status_list.txt'}}}, "
        f"{{image_root: {data}, cls_label_path: {data / 'train_list.txt'}, label_offset: 3, pair_root: {pairs}}}]"]))
    dataset = build_loader(config, "Train").dataset
    first, _, _ = dataset[0]
    assert first.shape == (2, 3, 48, 48) and np.array_equal(first[0], first[1])
    flips = set()
    for epoch in range(6):
        dataset.set_epoch(epoch)
        (image, pair), label, _ = dataset[len(dataset) - 1]
        # JPEG rounding aside, the pair is the image's negative, under the same flip: in [-1, 1], minus the image.
        assert label == 6 and np.abs(image + pair).mean() < 0.05
        flips.add(float(image[0, :, :24].mean() > image[0, :, 24:].mean()))
    assert len(flips) == 2, "the flips never varied, so the test could not tell a shared draw from none"
    (pairs / (data / "train_list.txt").read_text().split()[0]).unlink()
    with pytest.raises(DataError, match=r"item 1: 1 of 48 images of .*train_list.txt have no pair under .*pairs"):
        build_loader(config, "Train")


@pytest.mark.parametrize("lists, message", [
    ("[{image_root: DATA, cls_label_path: DATA/train_list.txt, offset: 3}]", r"got the keys \['cls_label_path', "),
    ("[{image_root: DATA, cls_label_path: DATA/train_list.txt, repeat: 0}]", "repeat an int >= 1"),
    ("[{image_root: DATA, cls_label_path: DATA/train_list.txt, label_offset: 4}]",
     r"label 7 \(with label_offset 4\) is outside 0..6"),
    ("[{image_root: DATA, cls_label_path: DATA/none.txt}]", "none.txt not found"),
    ("[{image_root: DATA, cls_label_path: DATA/train_list.txt, pair_root: [DATA]}]",
     "pair_root must be a folder's path"),
])
def test_a_bad_list_of_lists_names_the_fix(data, tmp_path, lists, message):
    config = load_config(TINY, headed_overrides(data, tmp_path, ("a", "b"), [
        "DataLoader.Train.dataset.lists=" + lists.replace("DATA", str(data))]))
    with pytest.raises((ConfigError, DataError), match=message):
        build_loader(config, "Train")


@pytest.mark.parametrize("extra, message", [
    (["Arch.class_num=8"], "Global.heads list 7 classes in all, but Arch.class_num is 8"),
    (["Global.eval_head=mouth"], r"Global.eval_head 'mouth' is not among Global.heads \['expression', 'status'\]"),
    (["Global.answer_classes=4"], "Global.answer_classes and Global.heads both pick"),
    (["Global.heads=[a, b]"], "Global.heads: two or more '<head name>: <its label_list.txt>'"),
])
def test_bad_heads_name_the_fix(data, tmp_path, extra, message):
    with pytest.raises(ConfigError, match=message):
        label_list(load_config(TINY, headed_overrides(data, tmp_path, ("a", "b"), extra)))


def test_an_eval_head_without_heads_is_an_error(data, tmp_path):
    with pytest.raises(ConfigError, match="Global.eval_head names one of Global.heads"):
        load_config(TINY, overrides(data, tmp_path, ["Global.eval_head=masked"]))


def test_the_kl_term_of_a_head_is_the_kl_term_on_its_classes():
    rng = np.random.default_rng(0)
    student, teacher = rng.normal(size=(5, 7)), rng.normal(size=(5, 4)) * 3
    sliced = DistillationKLDivLoss(4)({"Student": paddle.to_tensor(student[:, 3:]),
                                      "Teacher": paddle.to_tensor(teacher)}, None)
    offset = DistillationKLDivLoss(7, class_offset=3)({"Student": paddle.to_tensor(student),
                                                       "Teacher": paddle.to_tensor(teacher)}, None)
    assert float(offset) == pytest.approx(float(sliced), rel=1e-6) and float(offset) > 0.01
    with pytest.raises(ConfigError, match="fewer than class_offset 4 plus its teacher Teacher's 4"):
        DistillationKLDivLoss(7, class_offset=4)({"Student": paddle.to_tensor(student),
                                                  "Teacher": paddle.to_tensor(teacher)}, None)


def test_a_kl_term_on_some_labels_learns_on_those_faces_alone():
    rng = np.random.default_rng(2)
    student, teacher = rng.normal(size=(6, 7)), rng.normal(size=(6, 4)) * 3
    labels = np.array([0, 4, 2, 1, 3, 6])
    rows = np.isin(labels, [1, 3, 4])
    got = DistillationKLDivLoss(7, class_offset=3, on_labels=[1, 3, 4])(
        {"Student": paddle.to_tensor(student), "Teacher": paddle.to_tensor(teacher)}, paddle.to_tensor(labels))
    expected = DistillationKLDivLoss(7, class_offset=3)(
        {"Student": paddle.to_tensor(student[rows]), "Teacher": paddle.to_tensor(teacher[rows])}, None)
    assert float(got) == pytest.approx(float(expected), rel=1e-6) and float(got) > 0.01
    none = DistillationKLDivLoss(7, class_offset=3, on_labels=[5])(
        {"Student": paddle.to_tensor(student), "Teacher": paddle.to_tensor(teacher)}, paddle.to_tensor(labels))
    assert float(none) == 0
    for bad in ([], [7], [1.0], 3):
        with pytest.raises(ConfigError, match=r"on_labels: the classes \(0..6, Arch.class_num\)"):
            DistillationKLDivLoss(7, on_labels=bad)


def training_images(data):
    """The training faces as the loader normalises them, [N, 3, 48, 48]."""
    paths = [data / line.split()[0] for line in (data / "train_list.txt").read_text().splitlines()]
    images = np.stack([cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in paths]).astype(np.float32)
    return paddle.to_tensor(((images / 255.0 - 0.5) / 0.5).transpose(0, 3, 1, 2))


def test_a_student_of_two_heads_learns_each_from_its_teacher_evaluates_one_and_exports_both(data, tmp_path):
    # Seeded: the teachers' weights are drawn at random. On six noise images, outside what the student learns on,
    # a few seeds in six left the heads no nearer their teachers; on the training faces every one of them did.
    paddle.seed(0)
    teachers = []
    for name, labels, seed in (("status", data / "status_labels.txt", 1), ("expression", data / "label_list.txt", 2)):
        (tmp_path / name).mkdir()
        teachers.append(exported_teacher(data, tmp_path / name, labels, seed))
    config = load_config(TINY, headed_overrides(data, tmp_path / "run", teachers, ["Global.epochs=4"]))
    x = training_images(data)
    before = head_distance(build_model(config), x)

    run_dir = train(config)
    config["Global"].update(pretrained_model=str(run_dir / "latest"), save_inference_dir=str(tmp_path / "fused"))
    trained = build_model(config)
    load_weights(trained, str(run_dir / "latest"))
    assert head_distance(trained, x) < 0.7 * before, "the heads did not move toward their teachers"

    # Evaluation measures the eval head alone, with its labels; export writes every head, each its own softmax.
    report = evaluate(config)
    assert report["labels"] == ["angry", "fear", "happy", "surprise"] and report["images"] == 16
    out = export(config)
    yml = yaml.safe_load((out / "inference.yml").read_text())
    assert yml["Heads"] == {"status": STATUS, "expression": ["angry", "fear", "happy", "surprise"]}
    assert yml["PostProcess"]["Topk"]["label_list"] == STATUS + ["angry", "fear", "happy", "surprise"]
    probs = paddle.jit.load(str(out / "inference"))(x).numpy()
    assert probs.shape == (x.shape[0], 7)
    np.testing.assert_allclose(probs.sum(axis=1), 2, atol=1e-5)
    np.testing.assert_allclose(probs[:, :3].sum(axis=1), 1, atol=1e-5)
    one_head = as_deployed(trained, config)
    one_head.eval()
    np.testing.assert_allclose(probs[:, 3:], one_head(x).numpy(), atol=1e-5)


def test_the_ce_term_of_a_head_takes_the_faces_labelled_among_its_classes():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(6, 7)).astype(np.float32)
    labels = np.array([0, 4, 2, 6, 3, 1])
    head = DistillationGTCELoss(7, class_range=[3, 7], epsilon=0.1, class_weight=[1.0, 2.0, 1.0, 1.0])
    got = head({"Student": paddle.to_tensor(logits)}, paddle.to_tensor(labels))
    rows = labels >= 3
    expected = CELoss(4, epsilon=0.1, class_weight=[1.0, 2.0, 1.0, 1.0])(
        paddle.to_tensor(logits[rows, 3:]), paddle.to_tensor(labels[rows] - 3))
    assert float(got) == pytest.approx(float(expected), rel=1e-6)
    assert float(head({"Student": paddle.to_tensor(logits)}, paddle.to_tensor(np.array([0, 1, 2, 0, 1, 2])))) == 0
    for bad in ([3, 8], [4, 3], [3]):
        with pytest.raises(ConfigError, match=r"class_range: \[first, end\] of a head's classes, within 0..7"):
            DistillationGTCELoss(7, class_range=bad)
