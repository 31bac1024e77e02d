"""A fresh mask every epoch: masker.online.FreshMask behind PairedImageNetDataset's masker, on generated faces."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.config import ConfigError, load_config
from engine.data import build_loader
from masker.geometry import MaskBox, refitted
from masker.online import POINTS_CACHE, FreshMask, RealisticFreshMask, cached_points
from masker.synthetic import synthetic_face
from test_engine_distill import CROP_AND_FLIP, distill_overrides

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "test" / "tiny.yaml"
CLASSES = ("angry", "fear", "happy", "surprise")


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    """Generated faces in make data's layout, unmasked, with train and eval lists."""
    root = tmp_path_factory.mktemp("unmasked")
    for split, count in (("train", 5), ("eval", 2)):
        lines = []
        for label, name in enumerate(CLASSES):
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                rel = f"{split}/{name}/{split}_{i}.png"
                cv2.imwrite(str(root / rel), synthetic_face(name, np.random.default_rng([label, i])))
                lines.append(f"{rel} {label}")
        (root / f"{split}_list.txt").write_text("\n".join(lines) + "\n")
    (root / "label_list.txt").write_text("".join(f"{i} {n}\n" for i, n in enumerate(CLASSES)))
    return root


def paired(faces, out, masker):
    extra = [CROP_AND_FLIP] + ([f"DataLoader.Train.dataset.masker={masker}"] if masker else [])
    config = load_config(TINY, distill_overrides(faces, out, "unused", faces, extra))
    return build_loader(config, "Train").dataset


def test_every_epoch_draws_a_new_mask_and_the_pair_keeps_its_crop(faces, tmp_path):
    plain, fresh = paired(faces, tmp_path, None), paired(faces, tmp_path, "masker.online:FreshMask")
    assert fresh.masker.unmaskable == 0
    masks = []
    for epoch in range(3):
        plain.set_epoch(epoch)
        fresh.set_epoch(epoch)
        for index in range(len(fresh)):
            (masked, unmasked), label, _ = fresh[index]
            # The teacher's face is the face as read, under the same crop and flip as the masked one.
            np.testing.assert_array_equal(unmasked, plain[index][0][1])
            assert label == plain.labels[index]
            changed = np.abs(masked - unmasked).mean(axis=(0, 2))
            assert changed[30:].mean() > 10 * changed[:12].mean() + 0.05, "the mask is not on the lower face"
        masks.append(fresh[0][0][0])
        np.testing.assert_array_equal(fresh[0][0][0], masks[-1])        # one epoch, one mask: resumable
    assert not np.array_equal(masks[0], masks[1]) and not np.array_equal(masks[1], masks[2])


def test_points_are_found_once_and_again_for_another_points_model(faces):
    files = [line.rsplit(maxsplit=1)[0] for line in (faces / "train_list.txt").read_text().splitlines()]
    cache = faces / POINTS_CACHE
    cache.unlink(missing_ok=True)
    points = cached_points(faces, files, progress=False)
    assert points.shape == (len(files), 6, 2) and np.isfinite(points).all()
    written = cache.stat().st_mtime_ns
    np.testing.assert_array_equal(cached_points(faces, files[:3], progress=False), points[:3])
    assert cache.stat().st_mtime_ns == written, "a cached face was looked at again"
    with np.load(cache) as saved:
        stale = dict(saved)
    np.savez(cache, **{**stale, "model": "another model", "points": np.zeros_like(stale["points"])})
    np.testing.assert_array_equal(cached_points(faces, files, progress=False), points)
    # The same name, another face: its points are found anew.
    other = faces / "moved.png"
    cv2.imwrite(str(other), cv2.imread(str(faces / files[0]), cv2.IMREAD_GRAYSCALE))
    first = cached_points(faces, ["moved.png"], progress=False)
    cv2.imwrite(str(other), cv2.flip(cv2.imread(str(faces / files[0]), cv2.IMREAD_GRAYSCALE), 1))
    flipped = cached_points(faces, ["moved.png"], progress=False)
    assert abs(first[0, 0, 0] - (47 - flipped[0, 1, 0])) < 3 and not np.allclose(first, flipped)


def test_a_face_without_points_comes_back_unmasked(faces, tmp_path):
    (tmp_path / "broken.png").write_bytes(b"not an image")
    masker = FreshMask(tmp_path, ["broken.png"])
    assert masker.unmaskable == 1
    face = np.full((48, 48), 9, np.uint8)
    assert masker(face, 0, np.random.default_rng(0)) is face


def test_a_refitted_mask_stays_near_its_fit():
    box = MaskBox(centre=(24.0, 34.0), width=40.0, height=22.0, tilt_degrees=5.0)
    fits = [refitted(box, np.random.default_rng(seed)) for seed in range(200)]
    assert refitted(box, np.random.default_rng(3)) == fits[3]
    heights = np.array([f.height for f in fits])
    assert 0.8 * box.height < heights.min() < 0.95 * box.height < 1.05 * box.height < heights.max() < 1.2 * box.height
    assert all(abs(f.tilt_degrees - box.tilt_degrees) <= 4 and 0.93 * 40 < f.width < 1.09 * 40 for f in fits)
    assert max(np.hypot(f.centre[0] - 24, f.centre[1] - 34) for f in fits) < 0.15 * box.height + 0.05 * box.width


@pytest.mark.parametrize("masker, message", [
    ("masker.online:NoSuchMasker", "names no class"),
    ("masker.online", "names no class"),
])
def test_a_masker_that_names_no_class_says_how_to_name_one(faces, tmp_path, masker, message):
    with pytest.raises(ConfigError, match=message):
        paired(faces, tmp_path, masker)


def test_a_worn_mask_takes_a_real_grey_and_the_faces_light(faces):
    files = [line.rsplit(maxsplit=1)[0] for line in (faces / "train_list.txt").read_text().splitlines()]
    drawn, worn = FreshMask(faces, files), RealisticFreshMask(faces, files)
    face = cv2.imread(str(faces / files[0]), cv2.IMREAD_GRAYSCALE)
    # Lit from the left: the face's light must fall on the mask too.
    lit = np.clip(face * np.linspace(1.3, 0.5, 48)[None, :], 0, 255).astype(np.uint8)
    greys, slopes = [], []
    for seed in range(40):
        plain = drawn(lit, 0, np.random.default_rng(seed)).astype(float)
        real = worn(lit, 0, np.random.default_rng(seed)).astype(float)
        covered = np.abs(plain - lit) > 8              # where the drawn mask is (the worn one has the same fit)
        greys.append(real[covered].mean())
        columns = np.nanmean(np.where(covered, real, np.nan), axis=0)
        slopes.append(np.nanmean(columns[10:22]) - np.nanmean(columns[26:38]))
    assert min(greys) < 90 and max(greys) > 170, "real masks come in all greys, from black to white"
    assert np.median(slopes) > 5, "the mask is not lit like the face"
    np.testing.assert_array_equal(worn(lit, 0, np.random.default_rng(1)), worn(lit, 0, np.random.default_rng(1)))
