"""dlib face detection and 68-point landmarks, with the models loaded once per process.

The predictor file is read straight from the face_recognition_models package folder: importing
`face_recognition` costs more than twice the time and memory, and exits silently with setuptools >= 82.
"""
import importlib.util
from functools import lru_cache
from pathlib import Path

import cv2
import dlib
import numpy as np

from basics import UserError

from .geometry import eye_line_tilt, from_68

# FER2013 crops are 48 px: the shape predictor needs about twice that to resolve eyes and mouth.
LANDMARK_SIZE = 96
# Where dlib's frontal detector puts the face inside a FER2013 crop, as fractions of the side
# (left, top, right, bottom): the median of the detector boxes where it fires on upscaled, border-padded Training
# crops, made symmetric, then checked on contact sheets of the predicted landmarks.
FER2013_FACE_BOX = (0.06, 0.10, 0.94, 0.96)
# Faces tilted more than this are levelled and measured a second time (see crop_landmarks).
RELEVEL_DEGREES = 4.0


class ModelMissing(UserError, RuntimeError):
    pass


def _models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissing(
            "face_recognition_models is not installed: run `make setup` "
            "(pip install --no-deps face_recognition_models==0.3.0)")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


@lru_cache(maxsize=None)
def shape_predictor() -> "dlib.shape_predictor":
    path = _models_dir() / "shape_predictor_68_face_landmarks.dat"
    if not path.is_file():
        raise ModelMissing(f"{path} is missing: reinstall face_recognition_models==0.3.0")
    return dlib.shape_predictor(str(path))


@lru_cache(maxsize=None)
def face_detector() -> "dlib.fhog_object_detector":
    return dlib.get_frontal_face_detector()


def to_gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    raise ValueError(f"expected a gray, BGR or BGRA image, got an array of shape {image.shape}")


def fer2013_face_rect(width: int = LANDMARK_SIZE, height: int = LANDMARK_SIZE) -> "dlib.rectangle":
    """Where the face sits in an upscaled FER2013 crop: the box the predictors start from."""
    l, t, r, b = FER2013_FACE_BOX
    return dlib.rectangle(*(int(round(v)) for v in (l * width, t * height, r * width, b * height)))


def upscaled(crop: np.ndarray) -> tuple:
    """(gray crop bicubically upscaled so its longer side is LANDMARK_SIZE, the scale factor)."""
    gray = to_gray(crop)
    h, w = gray.shape
    scale = LANDMARK_SIZE / max(h, w)
    return cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC), scale


def predicted(predictor, big: np.ndarray) -> np.ndarray:
    """The predictor's points, float (x, y), started from the FER2013 face box of an upscaled crop."""
    shape = predictor(np.ascontiguousarray(big), fer2013_face_rect(big.shape[1], big.shape[0]))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def in_crop(points: np.ndarray, scale: float) -> np.ndarray:
    """Points of the upscaled crop in the crop's own pixels (dlib's are integer pixel centres at both scales)."""
    return (points + 0.5) / scale - 0.5


def levelled_points(big: np.ndarray, locate, tilt_of, passes: int = 2) -> np.ndarray:
    """locate(big)'s points; while the face, as last measured, looks tilted by more than RELEVEL_DEGREES
    (tilt_of(points)), and for at most `passes` passes in all: the points of big turned level by the latest
    estimate, turned back.

    Started from an upright box, dlib's predictors follow only part of a head tilt (the 68-point model: a median
    17 of 20 degrees on real FER2013 faces, failing on one in ten), so a tilted face is measured again.
    """
    points = locate(big)
    centre = ((big.shape[1] - 1) / 2, (big.shape[0] - 1) / 2)
    turned = 0.0
    for _ in range(passes - 1):
        tilt = tilt_of(points)
        if abs(tilt - turned) <= RELEVEL_DEGREES:
            break
        level = cv2.getRotationMatrix2D(centre, tilt, 1.0)       # turns the eye line level
        levelled = cv2.warpAffine(big, level, big.shape[::-1], flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REFLECT)
        back = cv2.invertAffineTransform(level)
        points, turned = locate(levelled) @ back[:, :2].T + back[:, 2], tilt
    return points


def crop_landmarks(crop: np.ndarray) -> np.ndarray:
    """dlib's 68 landmarks of a face crop that fills the frame (FER2013 style), in the crop's own pixel
    coordinates.

    dlib's detector misses about 30% of 48 px faces even upsampled, so the predictor runs on the fixed box where
    faces sit in FER2013 crops, after a bicubic upscale to LANDMARK_SIZE, and a second time on tilted faces.
    The masker uses masker.points, trained on these landmarks; they remain the reference it is measured against.
    """
    big, scale = upscaled(crop)
    return in_crop(levelled_points(big, lambda image: predicted(shape_predictor(), image),
                                   lambda points: eye_line_tilt(from_68(points))), scale)


def detect_faces(image: np.ndarray, upsample: int = 1, min_score: float = 0.0) -> list:
    """Face boxes (left, top, right, bottom) in an ordinary photo (gray, BGR or BGRA uint8), largest first:
    those whose detection score (dlib's HOG detector's margin; 0 is its own threshold) is at least min_score."""
    gray = to_gray(image)
    rects, scores, _ = face_detector().run(gray, upsample, min(min_score, 0.0))
    boxes = [(r.left(), r.top(), r.right(), r.bottom()) for r, score in zip(rects, scores) if score >= min_score]
    return sorted(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)


def crop_matrix(box, size: int = 48) -> np.ndarray:
    """The 2x3 affine from a photo to the size x size crop around a detected face box, framed like FER2013 crops:
    the box is expanded so the face sits where FER2013_FACE_BOX says it sits in FER2013."""
    left, top, right, bottom = box
    l, t, r, b = FER2013_FACE_BOX
    side = max((right - left) / (r - l), (bottom - top) / (b - t))
    x0 = left - l * side
    y0 = top - t * side
    s = size / side
    return np.array([[s, 0, -x0 * s + 0.5 * s - 0.5], [0, s, -y0 * s + 0.5 * s - 0.5]])


def crop_face(image: np.ndarray, box, size: int = 48) -> np.ndarray:
    """A size x size gray uint8 crop around a detected face box, framed like FER2013 crops (crop_matrix); parts
    outside the photo are filled by replicating the border."""
    gray = to_gray(image)
    matrix = crop_matrix(box, size)
    # INTER_AREA-like quality via pre-blur when shrinking.
    s = matrix[0, 0]
    if s < 0.5:
        gray = cv2.GaussianBlur(gray, (0, 0), 0.5 / s / 2)
    return cv2.warpAffine(gray, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
