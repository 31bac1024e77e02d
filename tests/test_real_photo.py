"""A real photograph (scikit-image's astronaut, shipped inside the wheel): detect, crop, mask and classify."""
import cv2
import numpy as np
import pytest

from masker.dataset import mask_face
from masker.faces import crop_face, detect_faces
from tools import predict

from skimage import data as skimage_data  # noqa: E402  (pinned: an import error is a failure)


@pytest.fixture(scope="module")
def astronaut():
    return cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)


def test_face_is_found_cropped_and_masked_on_the_lower_half(astronaut):
    boxes = detect_faces(astronaut)
    assert len(boxes) == 1
    left, top, right, bottom = boxes[0]
    assert 150 < (left + right) / 2 < 290 and 60 < (top + bottom) / 2 < 190   # her face, not the flag or suit
    face = crop_face(astronaut, boxes[0], size=48)
    assert face.shape == (48, 48) and face.dtype == np.uint8
    masked, style = mask_face(face, np.random.default_rng(0))
    changed = np.abs(masked.astype(int) - face.astype(int)) > 4
    assert changed[34:42, 16:32].mean() > 0.5          # mouth and chin covered
    assert changed[6:16, 8:40].mean() < 0.1            # brows and eyes left alone
    assert style["style"] in {"surgical", "n95", "kn95", "cloth"}


def test_predict_faces_annotates_the_photo(astronaut, inference_dir, tmp_path, capsys):
    photo = tmp_path / "astronaut.jpg"
    cv2.imwrite(str(photo), astronaut)
    out = tmp_path / "annotated"
    assert predict.main(["--model-dir", str(inference_dir), "--faces", str(photo), "--annotate", str(out),
                         "--csv", str(tmp_path / "faces.csv")]) == 0
    rows = (tmp_path / "faces.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[1].split(",")[-1] != ""
    annotated = cv2.imread(str(next(out.iterdir())))
    assert annotated.shape == astronaut.shape and np.abs(annotated.astype(int) - astronaut).max() > 100


def test_a_photo_whose_faces_are_all_too_small_is_answered_so(astronaut, tmp_path, capsys):
    """The shipped models, on a thumbnail of the masked astronaut: the CLI used to say 'no face found'. The face
    is named too small, and drawn as a thin grey box without a caption."""
    from masker.photo import mask_photo

    thumbnail = cv2.resize(mask_photo(astronaut, "surgical", "blue"), None, fx=0.15, fy=0.15,
                           interpolation=cv2.INTER_AREA)
    photo = tmp_path / "thumbnail.png"
    cv2.imwrite(str(photo), thumbnail)
    out = tmp_path / "annotated"
    assert predict.main(["--faces", str(photo), "--annotate", str(out)]) == 1
    assert "1 face found, under 24 px: too small to classify; try a larger photo" in capsys.readouterr().out
    drawn = cv2.imread(str(out / "thumbnail.png")).astype(int)
    changed = np.abs(drawn - thumbnail).max(axis=2) > 0
    assert changed.any()
    assert np.all(np.abs(drawn[changed] - 160) <= 1), "only the grey box is drawn"


def test_each_face_says_which_expression_model_answered(astronaut, tmp_path):
    from masker.photo import mask_photo

    photo = tmp_path / "two.png"
    cv2.imwrite(str(photo), np.hstack([astronaut, mask_photo(astronaut, "surgical", "blue")]))
    assert predict.main(["--faces", str(photo), "--csv", str(tmp_path / "faces.csv")]) == 0
    import csv

    rows = list(csv.DictReader(open(tmp_path / "faces.csv")))
    assert all(row["expression_model"] == ("masked" if row["masked"] == "1" else "unmasked") for row in rows)
    # The two astronauts are the largest faces (the rows come largest first): the plain one at the left.
    assert [row["expression_model"] for row in sorted(rows[:2], key=lambda row: int(row["left"]))] == \
        ["unmasked", "masked"]
