"""Readers of both FER2013 forms: good and bad CSV rows, the folder layout, unreadable images, class names."""
import numpy as np
import pytest
from PIL import Image

from conftest import skip_unless_ci
from masker.readers import load_gray, parse_classes, read_csv, read_folders, read_inputs

GOOD_PIXELS = " ".join(str(i % 256) for i in range(2304))


def write_csv(path, rows, header="emotion,pixels,Usage"):
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_csv_good_rows_map_usage_to_split_and_filter_classes(tmp_path):
    csv = write_csv(tmp_path / "fer2013.csv", [
        f"0,{GOOD_PIXELS},Training",       # angry
        f"3,{GOOD_PIXELS},PublicTest",     # happy
        f"5,{GOOD_PIXELS},PrivateTest",    # surprise
        f"6,{GOOD_PIXELS},Training",       # neutral: not asked for, silently left out
    ])
    samples, skips = read_csv(csv, ("angry", "happy", "surprise"))
    assert skips == []
    assert [(s.split, s.class_name, s.name) for s in samples] == [
        ("train", "angry", "Training_1"), ("eval", "happy", "PublicTest_2"), ("test", "surprise", "PrivateTest_3")]
    face = load_gray(samples[0])
    assert face.shape == (48, 48) and face.dtype == np.uint8
    assert face[0, :5].tolist() == [0, 1, 2, 3, 4] and face[5, 16] == (5 * 48 + 16) % 256


def test_csv_bad_rows_are_recorded_skips_with_reasons(tmp_path):
    short = " ".join(["7"] * 2303)
    csv = write_csv(tmp_path / "fer2013.csv", [
        f"0,{GOOD_PIXELS},Training",
        f"0,{short},Training",
        f"0,{GOOD_PIXELS.replace('17', 'x7', 1)},Training",
        f"0,{GOOD_PIXELS.replace('255', '256', 1)},Training",
        f"9,{GOOD_PIXELS},Training",
        f"0,{GOOD_PIXELS},Validation",
        f"0,{GOOD_PIXELS}",
    ])
    samples, skips = read_csv(csv, ("angry",))
    assert len(samples) == 1
    reasons = {int(s.source.rsplit(":", 1)[1]): s.reason for s in skips}
    assert "2303 pixel values" in reasons[3]
    assert "not all integers" in reasons[4]
    assert "outside 0..255" in reasons[5]
    assert "not a code 0..6" in reasons[6]
    assert "Usage 'Validation'" in reasons[7]
    assert "expected 3 fields" in reasons[8]


def test_csv_with_a_foreign_header_is_an_error(tmp_path):
    csv = write_csv(tmp_path / "other.csv", ["1,2,3"], header="a,b,c")
    with pytest.raises(ValueError, match="emotion,pixels,Usage"):
        read_csv(csv, ("angry",))


def test_folder_layout_prefix_sets_split_and_bad_files_are_skipped(tmp_path):
    face = Image.fromarray(np.full((48, 48), 100, np.uint8))
    for rel in ["train/angry/Training_1.jpg", "test/angry/PublicTest_2.jpg", "test/fear/PrivateTest_3.png",
                "train/angry/holiday.jpg", "train/happy/Training_4.jpg"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        face.save(tmp_path / rel)
    (tmp_path / "train/angry/notes.txt").write_text("not an image")
    samples, skips = read_folders(tmp_path, ("angry", "fear"))
    assert sorted((s.split, s.class_name, s.name) for s in samples) == [
        ("eval", "angry", "PublicTest_2"), ("test", "fear", "PrivateTest_3"), ("train", "angry", "Training_1")]
    assert [s.reason for s in skips] == [
        "file name does not start with Training_, PublicTest_ or PrivateTest_, so its split is unknown"]
    assert all(load_gray(s).mean() == pytest.approx(100, abs=1) for s in samples)


def test_truncated_unreadable_and_wrong_size_images_raise_with_reason(tmp_path):
    folder = tmp_path / "train" / "angry"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (48, 48), dtype=np.uint8)).save(folder / "Training_1.jpg", quality=95)
    data = (folder / "Training_1.jpg").read_bytes()
    (folder / "Training_1.jpg").write_bytes(data[: len(data) // 2])
    (folder / "Training_2.jpg").write_bytes(b"")
    Image.fromarray(np.zeros((64, 48), np.uint8)).save(folder / "Training_3.jpg")
    samples, _ = read_inputs(tmp_path, ("angry",))
    errors = {}
    for s in samples:
        with pytest.raises(ValueError) as info:
            load_gray(s)
        errors[s.name] = str(info.value)
    assert "truncated" in errors["Training_1"] and "unreadable" in errors["Training_2"]
    assert "48x64, expected 48x48" in errors["Training_3"]


def test_unknown_class_names_list_the_valid_ones():
    assert parse_classes("Angry, fear") == ("angry", "fear")
    with pytest.raises(ValueError, match="'angy'.*angry, disgust, fear, happy, sad, surprise, neutral"):
        parse_classes("angy,fear")


def test_input_that_is_neither_csv_nor_layout_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no <split>/<class>/ folders"):
        read_inputs(tmp_path, ("angry",))
    with pytest.raises(ValueError, match="expected fer2013.csv"):
        read_inputs(tmp_path / "missing.csv", ("angry",))


def test_the_real_fer2013_sample_csv_reads_and_masks(fer2013_dir, tmp_path):
    from masker.dataset import RunConfig, build_dataset
    from masker.quality import sharpness

    csv = fer2013_dir / "fer2013_sample.csv"
    if not csv.is_file():
        skip_unless_ci(f"{csv} is absent")
    classes = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    samples, skips = read_csv(csv, classes)
    assert skips == [] and len(samples) == 1800
    assert {s.split for s in samples} == {"train", "eval"}
    assert sum(s.split == "train" for s in samples) == 1400
    faces = [load_gray(s) for s in samples[:50]]
    assert all(f.shape == (48, 48) for f in faces)
    assert np.median([sharpness(f) for f in faces]) > 200          # real, sharp faces, not noise or blur
    manifest = build_dataset(RunConfig(fer2013=str(csv), classes=("angry", "fear", "happy", "surprise"),
                                       limit=20), tmp_path / "out", workers=1, progress=False)
    assert manifest["coverage"] >= 0.95 and sum(manifest["written"]["train"].values()) >= 76
