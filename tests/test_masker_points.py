"""The masker's six-point predictor: it agrees with dlib's 68-point model on real faces it never trained on,
as its committed report says, and its training pipeline runs end to end."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from masker.faces import ModelMissing, crop_landmarks
from masker.geometry import from_68, mask_box
from masker.points import MODEL, mask_points, model_report, predictor, upscaled_crop
from masker.points_training import SETTINGS, build, file_sha256


def eval_faces(fer2013_dir, n):
    paths = sorted((fer2013_dir / "test").glob("*/PublicTest_*.jpg"))[::7][:n]
    return [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths]


def test_agrees_with_the_68_point_model_as_its_report_says(fer2013_dir):
    faces = eval_faces(fer2013_dir, 300)
    centre, tilt = [], []
    for face in faces:
        ours, teacher = mask_box(mask_points(face), (48, 48)), mask_box(from_68(crop_landmarks(face)), (48, 48))
        centre.append(np.hypot(ours.centre[0] - teacher.centre[0], ours.centre[1] - teacher.centre[1]))
        tilt.append(abs(ours.tilt_degrees - teacher.tilt_degrees))
    reported = model_report()["box_vs_68_point_model"]
    # A sample of the report's faces: its means, give or take the sampling error.
    assert np.mean(centre) == pytest.approx(reported["centre_px"]["mean"], rel=0.25)
    assert np.mean(tilt) == pytest.approx(reported["tilt_degrees"]["mean"], rel=0.25)
    assert np.mean(centre) < 2.0 and np.mean(tilt) < 5.0          # within a few percent of a 48 px face


def test_the_committed_model_is_the_one_reported():
    """The report's figures are of this very file: its hash is in the report (a retrained or swapped model
    without a new report fails), and it was trained with the settings the code has."""
    report = model_report()
    assert MODEL.is_file() and report["refused"] == 0
    assert file_sha256(MODEL) == report["model_sha256"]
    assert report["settings"] == SETTINGS


def test_missing_model_and_wrong_sizes_are_clear_errors(tmp_path):
    with pytest.raises(ModelMissing, match="mask-points-model"):
        predictor(str(tmp_path / "absent.dat"))
    with pytest.raises(ValueError, match="48x48"):
        upscaled_crop(np.zeros((40, 40), np.uint8))


def test_training_pipeline_on_the_csv_sample(fer2013_dir, tmp_path):
    out = tmp_path / "points.dat"
    tiny = {**SETTINGS, "cascade_depth": 2, "num_trees_per_cascade_level": 20}
    report = build(fer2013_dir / "fer2013_sample.csv", out, threads=1, progress=False, settings=tiny,
                   consistency_faces=50)
    assert json.loads(out.with_suffix(".json").read_text()) == report
    assert report["model_sha256"] == file_sha256(out)
    assert report["faces"] == 400 and report["settings"] == tiny
    face = eval_faces(fer2013_dir, 1)[0]
    points = mask_points(face, str(out))
    assert points.shape == (6, 2) and np.isfinite(points).all()
    # Even two cascade levels put the mask near the 68-point model's.
    assert report["box_vs_68_point_model"]["centre_px"]["mean"] < 4.0
    assert set(report["consistency"]) == {"this predictor", "68-point model"}
