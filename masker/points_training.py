"""Trains masker.points' predictor on FER2013 and measures it against dlib's 68-point model (the teacher).

Labels: the teacher's six mask points (faces.crop_landmarks, with its second pass on tilted faces) on every
Training face. Each face is also shown once more, mirrored or not and turned by a random angle, with the
teacher's points moved to match: the teacher's answer on the upright face, turned, is a better label for the
turned face than the teacher's own answer there, and the predictor learns to follow a head tilt.
The report compares the predictor with the teacher on the PublicTest faces, which neither trained on.
"""
import hashlib
import json
import time
from pathlib import Path

import cv2
import dlib
import numpy as np
from tqdm import tqdm

from basics import atomic_write_text, written_atomically

from . import FER2013_CLASSES
from .faces import LANDMARK_SIZE, crop_landmarks, fer2013_face_rect
from .geometry import DegenerateFace, from_68, mask_box
from .points import located, mask_points, upscaled_crop
from .readers import load_gray, read_inputs

MIRRORED = [1, 0, 2, 3, 5, 4]          # the six points' order in a mirrored face
# dlib's trainer options and our augmentation. Trials, mask centres vs the 68-point model's on PublicTest (two
# passes): dlib's default feature pool (400) and split tests (20), with the turned copies, 1.43 px; 800 and 40
# without them, 1.36 px (same size and speed); 12 levels of 300 trees, 1.32 px for 1.8x the file and 1.5x the time.
# These settings, with three passes: 1.43 px (masker/models/mask_points.json).
SETTINGS = {"cascade_depth": 10, "num_trees_per_cascade_level": 200, "tree_depth": 4, "oversampling_amount": 2,
            "feature_pool_size": 800, "num_test_splits": 40, "max_rotation_degrees": 15.0, "seed": 0}
TRAINING_FIELDS = ("trained_on", "settings", "training_seconds")      # of the report; the rest is evaluation
TRAINER_OPTIONS = ("cascade_depth", "num_trees_per_cascade_level", "tree_depth", "oversampling_amount",
                   "feature_pool_size", "num_test_splits")


def faces_of(fer2013, split: str) -> list:
    samples, _ = read_inputs(fer2013, FER2013_CLASSES)
    faces = []
    for sample in (s for s in samples if s.split == split):
        try:
            faces.append(load_gray(sample))
        except ValueError:
            continue
    return faces


def teacher_points(faces, progress=True) -> np.ndarray:
    return np.stack([from_68(crop_landmarks(f)) for f in tqdm(faces, desc="68-point labels", unit="face",
                                                                  disable=not progress)])


def _detection(points_big) -> "dlib.full_object_detection":
    parts = [dlib.point(int(round(x)), int(round(y))) for x, y in points_big]
    return dlib.full_object_detection(fer2013_face_rect(), parts)


def training_examples(faces, points, max_rotation: float, seed: int) -> tuple:
    """(images, detections) at LANDMARK_SIZE: each face as it is, and once mirrored-or-not and turned."""
    rng = np.random.default_rng(seed)
    centre = ((LANDMARK_SIZE - 1) / 2, (LANDMARK_SIZE - 1) / 2)
    images, detections = [], []
    for face, p in zip(faces, points):
        big, scale = upscaled_crop(face)
        q = (p + 0.5) * scale - 0.5
        images.append(big)
        detections.append([_detection(q)])
        if rng.random() < 0.5:
            big, q = big[:, ::-1].copy(), q[MIRRORED] * [-1, 1] + [LANDMARK_SIZE - 1, 0]
        turn = cv2.getRotationMatrix2D(centre, rng.uniform(-max_rotation, max_rotation), 1.0)
        images.append(cv2.warpAffine(big, turn, big.shape[::-1], flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REFLECT))
        detections.append([_detection(q @ turn[:, :2].T + turn[:, 2])])
    return images, detections


def train(images, detections, out, threads: int = 2, settings=SETTINGS, verbose: bool = True) -> None:
    options = dlib.shape_predictor_training_options()
    for name in TRAINER_OPTIONS:
        setattr(options, name, settings[name])
    options.random_seed = str(settings["seed"])
    options.num_threads = threads
    options.be_verbose = verbose                      # dlib prints its own progress and time left
    predictor = dlib.train_shape_predictor(images, detections, options)
    with written_atomically(out) as tmp:
        predictor.save(str(tmp))


def _box_differences(boxes, reference) -> dict:
    pairs = [(a, b) for a, b in zip(boxes, reference) if a is not None and b is not None]
    centre = [np.hypot(a.centre[0] - b.centre[0], a.centre[1] - b.centre[1]) for a, b in pairs]
    values = {"centre_px": centre, "width_px": [abs(a.width - b.width) for a, b in pairs],
              "height_px": [abs(a.height - b.height) for a, b in pairs],
              "tilt_degrees": [abs(a.tilt_degrees - b.tilt_degrees) for a, b in pairs]}
    return {k: {"mean": round(float(np.mean(v)), 3), "p95": round(float(np.percentile(v, 95)), 3)}
            for k, v in values.items()}


def _box(points):
    try:
        return mask_box(points, (48, 48))
    except DegenerateFace:
        return None


def consistency(locate, faces) -> dict:
    """How a point finder's mask box moves when the face moves: shifted 1 px right, turned 10 degrees either
    way. A perfect finder moves the box exactly with the face; the figures are its errors, in 48 px pixels."""
    moves = {"shifted 1 px": np.float32([[1, 0, 1], [0, 1, 0]]),
             "turned +10 degrees": cv2.getRotationMatrix2D((23.5, 23.5), -10, 1.0),
             "turned -10 degrees": cv2.getRotationMatrix2D((23.5, 23.5), 10, 1.0)}
    base = [_box(locate(f)) for f in faces]
    out = {}
    for name, move in moves.items():
        turn = float(np.degrees(np.arctan2(move[1, 0], move[0, 0])))
        centre_errors, tilt_errors = [], []
        for face, before in zip(faces, base):
            after = _box(locate(cv2.warpAffine(face, move, (48, 48), flags=cv2.INTER_CUBIC,
                                               borderMode=cv2.BORDER_REPLICATE)))
            if before is None or after is None:
                continue
            expected = move[:, :2] @ np.array(before.centre) + move[:, 2]
            centre_errors.append(np.hypot(*(np.array(after.centre) - expected)))
            tilt_errors.append(abs(after.tilt_degrees - before.tilt_degrees - turn))
        out[name] = {"centre_px": round(float(np.mean(centre_errors)), 3),
                     "tilt_degrees": round(float(np.mean(tilt_errors)), 2)}
    return out


def evaluate(model, faces, teacher, consistency_faces: int = 1000) -> dict:
    """The predictor against the teacher's points on `faces`; both finders' consistency on the first ones."""
    big = [upscaled_crop(f) for f in faces]
    start = time.perf_counter()
    points = [located(b, scale, str(model)) for b, scale in big]
    ms = 1000 * (time.perf_counter() - start) / len(faces)
    boxes = [_box(p) for p in points]
    some = faces[:consistency_faces]
    return {"faces": len(faces), "predictor_ms_per_face": round(ms, 4),
            "refused": sum(b is None for b in boxes),
            "box_vs_68_point_model": _box_differences(boxes, [_box(p) for p in teacher]),
            "consistency": {"this predictor": consistency(lambda f: mask_points(f, str(model)), some),
                            "68-point model": consistency(lambda f: from_68(crop_landmarks(f)), some)}}


def build(fer2013, out, threads: int = 2, progress: bool = True, settings=SETTINGS,
          consistency_faces: int = 1000) -> dict:
    """Trains on FER2013's Training faces, evaluates on its PublicTest faces, writes the model and its report."""
    start = time.perf_counter()
    train_faces, eval_faces = faces_of(fer2013, "train"), faces_of(fer2013, "eval")
    if not train_faces or not eval_faces:
        raise ValueError(f"{fer2013}: need FER2013's Training and PublicTest faces")
    images, detections = training_examples(train_faces, teacher_points(train_faces, progress),
                                           settings["max_rotation_degrees"], settings["seed"])
    train(images, detections, out, threads, settings, verbose=progress)
    report = {"trained_on": f"{len(train_faces)} FER2013 Training faces (all 7 classes) and as many turned copies",
              "settings": settings, "training_seconds": round(time.perf_counter() - start, 1)}
    return write_evaluation(report, fer2013, out, progress, consistency_faces, eval_faces)


def file_sha256(path) -> str:
    """The report names the model file it measured by this hash."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_evaluation(report: dict, fer2013, out, progress: bool = True, consistency_faces: int = 1000,
                     eval_faces=None) -> dict:
    """Measures the model at `out` on FER2013's PublicTest faces into `report`, written beside the model."""
    eval_faces = faces_of(fer2013, "eval") if eval_faces is None else eval_faces
    report = {**report, "model_sha256": file_sha256(out), "evaluated_on": "FER2013 PublicTest faces",
              **evaluate(out, eval_faces, teacher_points(eval_faces, progress), consistency_faces)}
    atomic_write_text(Path(out).with_suffix(".json"), json.dumps(report, indent=1))
    return report
