"""Each augmentation op, batch op and loss does what its name says, on a real face (scikit-image's astronaut,
cropped as FER2013 faces are); each is built by name from a config list, and its parameters are checked."""
import cv2
import numpy as np
import paddle
import pytest

from engine.config import ConfigError, load_config, validate
from engine.losses import build_loss
from engine.registry import TRANSFORMS
from engine.transforms import apply_transforms, build_batch_transforms, build_transforms
from masker.faces import crop_face, detect_faces
from tests.test_config import CONFIGS

from skimage import data as skimage_data  # noqa: E402  (pinned: an import error is a failure)


@pytest.fixture(scope="module")
def face():
    photo = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)
    gray = crop_face(photo, detect_faces(photo)[0], size=48)
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)


def run(op_list, image, seed=0):
    return apply_transforms(build_transforms(op_list), image, np.random.default_rng(seed))


def test_random_erasing_fills_one_box_inside_the_bounds(face):
    image = (face.astype(np.float32) - 127.5) / 127.5
    out = run([{"RandomErasing": {"EPSILON": 1.0, "sl": 0.1, "sh": 0.2, "r1": 0.5}}], image)
    erased = np.all(out == 0.0, axis=2) & np.any(image != 0.0, axis=2)
    rows, cols = np.nonzero(erased)
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    assert erased[top:bottom, left:right].mean() > 0.95                     # one solid box
    assert 0.1 * 48 * 48 * 0.8 <= (bottom - top) * (right - left) <= 0.2 * 48 * 48 * 1.2
    assert np.array_equal(out[~erased], image[~erased])                    # nothing else touched
    assert np.array_equal(run([{"RandomErasing": {"EPSILON": 0.0}}], image), image)


def test_random_rotation_rotates_by_an_angle_within_degrees(face):
    out = run([{"RandomRotation": {"degrees": 10, "prob": 1.0, "interpolation": "bilinear"}}], face, seed=4)
    errors = {angle: np.abs(out.astype(int) - cv2.warpAffine(
        face, cv2.getRotationMatrix2D((23.5, 23.5), angle, 1.0), (48, 48)).astype(int))[8:40, 8:40].mean()
        for angle in np.arange(-10, 10.5, 0.5)}
    best = min(errors, key=errors.get)
    assert abs(best) >= 1 and errors[best] < 2.0 < errors[0.0], (best, errors[best], errors[0.0])


def test_random_affine_shifts_within_its_range(face):
    for seed in range(5):
        out = run([{"RandomAffine": {"translate": [0.2, 0.2], "scale": [0.8, 1.2]}}], face, seed=seed)
        shift = cv2.phaseCorrelate(np.float32(face[..., 0]), np.float32(out[..., 0]))[0]
        assert max(abs(shift[0]), abs(shift[1])) <= 0.2 * 48 + 2, shift
        assert not np.array_equal(out, face)


def test_random_affine_zooms_within_its_range():
    """A centred disc's area gives the zoom: every draw within 0.8-1.2, and the draws spread over that range."""
    disc = np.zeros((48, 48, 3), np.uint8)
    cv2.circle(disc, (24, 24), 10, (255, 255, 255), -1)
    area = (disc[..., 0] > 127).sum()
    zooms = [np.sqrt((run([{"RandomAffine": {"scale": [0.8, 1.2]}}], disc, seed=seed)[..., 0] > 127).sum() / area)
             for seed in range(12)]
    # 1 px of the disc's rim is about 0.02 of its radius: the margin for drawing and resampling.
    assert all(0.8 - 0.03 <= z <= 1.2 + 0.03 for z in zooms), zooms
    assert max(zooms) - min(zooms) > 0.2, zooms


def test_color_jitter_scales_brightness_and_contrast_as_asked(face):
    a = face.astype(np.float32)
    brightness = [run([{"ColorJitter": {"brightness": 0.4}}], face, seed=s).astype(np.float32) for s in range(8)]
    ratios = [b.mean() / a.mean() for b in brightness]
    # A brightness factor in 0.6-1.4 multiplies every pixel (clipped at 255): the picture stays, its mean moves.
    assert all(0.6 - 0.02 <= r <= 1.4 + 0.02 for r in ratios) and max(ratios) - min(ratios) > 0.2, ratios
    # (0.986 measured at 1.3: this face's bright half clips at 255)
    assert all(np.corrcoef(b[..., 0].ravel(), a[..., 0].ravel())[0, 1] > 0.98 for b in brightness)
    contrast = [run([{"ColorJitter": {"contrast": 0.4}}], face, seed=s).astype(np.float32) for s in range(8)]
    spreads = [c.std() / a.std() for c in contrast]
    # A contrast factor scales the distance from the mean grey: the mean stays, the spread moves.
    assert all(abs(c.mean() - a.mean()) < 3 for c in contrast), [c.mean() - a.mean() for c in contrast]
    assert all(0.6 - 0.03 <= r <= 1.4 + 0.03 for r in spreads) and max(spreads) - min(spreads) > 0.2, spreads
    assert all(np.corrcoef(c[..., 0].ravel(), a[..., 0].ravel())[0, 1] > 0.99 for c in contrast)


def test_rand_augment_applies_num_layers_ops_and_keeps_the_shape(face):
    outs = [run([{"RandAugment": {"num_layers": 2, "magnitude": 5}}], face, seed=s) for s in range(8)]
    assert all(o.shape == face.shape and o.dtype == np.uint8 for o in outs)
    assert sum(not np.array_equal(o, face) for o in outs) >= 6
    assert np.array_equal(run([{"RandAugment": {"num_layers": 0}}], face), face)


def test_random_ops_are_reproducible_per_generator(face):
    ops = [{"RandomAffine": {"degrees": 10, "translate": [0.2, 0.2]}}, {"ColorJitter": {"brightness": 0.3}},
           {"RandomRotation": {"degrees": 10}}, {"RandAugment": {}}]
    assert np.array_equal(run(ops, face, seed=7), run(ops, face, seed=7))
    assert not np.array_equal(run(ops, face, seed=7), run(ops, face, seed=8))


def test_mixup_and_cutmix_mix_images_and_targets_alike(face):
    # image 0 is the face (class 0), image 1 is black (class 3): the share of the face left in mixed image 0 is
    # what its target must give class 0
    images = np.stack([face.transpose(2, 0, 1), np.zeros_like(face).transpose(2, 0, 1)]).astype(np.float32)
    labels = np.array([0, 3])
    mixup, cutmix = build_batch_transforms([{"MixupOperator": {"alpha": 0.4}}, {"CutmixOperator": {"alpha": 1.0}}],
                                           class_num=4)
    shares = []
    for seed in range(6):
        mixed, targets = mixup(images, labels, np.random.default_rng(seed))
        assert targets.shape == (2, 4) and np.allclose(targets.sum(1), 1)
        shares.append(mixed[0].mean() / images[0].mean())
        assert shares[-1] == pytest.approx(targets[0, 0], rel=1e-4)
        cut, targets = cutmix(images, labels, np.random.default_rng(seed))
        kept = np.mean(np.all(cut[0] == images[0], axis=0))
        assert targets[0, 0] == pytest.approx(kept, abs=0.02) and np.allclose(targets.sum(1), 1)
    assert min(shares) < 0.99        # some draws really mixed


def test_ce_loss_takes_soft_targets_and_focal_loss_is_chosen_by_name():
    config = load_config(CONFIGS / "test" / "tiny.yaml")
    logits = paddle.to_tensor([[2.0, 0.5, -1.0, 0.0], [0.0, 0.0, 3.0, 0.0]])
    labels = paddle.to_tensor([0, 2])
    ce = build_loss({**config, "Loss": {"Train": [{"CELoss": {"weight": 1.0}}]}})
    soft = paddle.nn.functional.one_hot(labels, 4)
    assert float(ce(logits, labels)) == pytest.approx(float(ce(logits, soft)), rel=1e-6)
    focal = build_loss({**config, "Loss": {"Train": [{"FocalLoss": {"gamma": 2.0}}]}})
    probs = paddle.nn.functional.softmax(logits).numpy()[[0, 1], [0, 2]]
    expected = np.mean(-(1 - probs) ** 2 * np.log(probs))
    assert float(focal(logits, labels)) == pytest.approx(expected, rel=1e-5)
    halved = build_loss({**config, "Loss": {"Train": [{"CELoss": {"weight": 0.5}}]}})
    assert float(halved(logits, labels)) == pytest.approx(0.5 * float(ce(logits, labels)), rel=1e-6)


def test_op_parameters_come_from_the_class_signature():
    assert TRANSFORMS.params("RandomErasing") == {"EPSILON", "sl", "sh", "r1", "mean", "attempt",
                                                  "use_log_aspect", "mode"}
    config = load_config(CONFIGS / "test" / "tiny.yaml")
    config["DataLoader"]["Train"]["dataset"]["transform_ops"].append({"RandomErasing": {"EPSLON": 0.5}})
    with pytest.raises(ConfigError, match="did you mean 'EPSILON'"):
        validate(config)
    config["DataLoader"]["Train"]["dataset"]["transform_ops"][-1] = {"RandomErasing": {"EPSILON": 0.5}}
    config["DataLoader"]["Train"]["dataset"]["batch_transform_ops"] = [{"MixupOperator": {"class_num": 4}}]
    with pytest.raises(ConfigError, match="unknown key .*class_num"):
        validate(config)
    config["Loss"]["Train"] = [{"CELos": {}}]
    config["DataLoader"]["Train"]["dataset"]["batch_transform_ops"] = [{"MixupOperator": {"alpha": 0.2}}]
    with pytest.raises(ConfigError, match="did you mean 'CELoss'"):
        validate(config)


def test_color_jitter_skipped_by_its_prob_gives_the_array_back(face):
    """It runs on a PIL image; a draw that skips it must still hand the next op an array."""
    out = run([{"ColorJitter": {"brightness": 0.4, "prob": 0.0}}], face)
    assert isinstance(out, np.ndarray) and np.array_equal(out, face)


def test_mixup_and_cutmix_mix_both_faces_of_a_pair_with_the_same_draws(face):
    """PairedImageNetDataset's batches are [N, 2, C, H, W]: the teacher's unmasked face must be mixed exactly as
    the student's masked one, or the teacher answers for another picture."""
    masked = face.transpose(2, 0, 1).astype(np.float32)
    unmasked = masked[:, ::-1].copy()     # any second image; mirrored so that the two differ
    images = np.stack([np.stack([masked, unmasked]), np.zeros((2, *masked.shape), np.float32)])
    labels = np.array([0, 3])
    mixup, cutmix = build_batch_transforms([{"MixupOperator": {"alpha": 0.4}}, {"CutmixOperator": {"alpha": 1.0}}],
                                           class_num=4)
    for seed in range(4):
        mixed, targets = mixup(images, labels, np.random.default_rng(seed))
        assert mixed.shape == images.shape
        assert mixed[0, 0].mean() / masked.mean() == pytest.approx(targets[0, 0], rel=1e-4)
        assert mixed[0, 1].mean() / unmasked.mean() == pytest.approx(targets[0, 0], rel=1e-4)
        cut, targets = cutmix(images, labels, np.random.default_rng(seed))
        kept = [np.all(cut[0, member] == images[0, member], axis=0) for member in (0, 1)]
        assert np.array_equal(kept[0], kept[1])          # the same box cut from both faces of the pair
        assert targets[0, 0] == pytest.approx(kept[0].mean(), abs=0.02)


def test_random_downscale_softens_the_image_and_keeps_its_size(face):
    def sharpness(img):
        return cv2.Laplacian(img, cv2.CV_64F).var()
    always = [{"RandomDownscale": {"scale": [0.3, 0.4], "prob": 1.0}}]
    soft = run(always, face, seed=3)
    assert soft.shape == face.shape and soft.dtype == face.dtype
    assert sharpness(soft) < 0.5 * sharpness(face)
    assert np.array_equal(run([{"RandomDownscale": {"prob": 0.0}}], face, seed=3), face)
    for bad, message in (({"scale": [0.0, 0.5]}, "0 < low <= high <= 1"), ({"prob": 1.5}, "within 0..1")):
        with pytest.raises(ConfigError, match=message):
            run([{"RandomDownscale": bad}], face)
