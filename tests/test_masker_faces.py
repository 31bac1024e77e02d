"""dlib models from face_recognition_models, face detection and FER2013-style crops of ordinary photos."""
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from masker.faces import crop_face, crop_landmarks, detect_faces, to_gray

ROOT = Path(__file__).resolve().parents[1]
# A Training face that dlib's frontal detector finds once it is photo-sized (most 48 px crops it misses).
DETECTABLE = "train/happy/Training_10181727.jpg"


def test_predictor_loads_without_importing_face_recognition():
    script = ("import sys; sys.path.insert(0, %r)\n"
              "import numpy as np\n"
              "from masker.faces import crop_landmarks\n"
              "points = crop_landmarks(np.full((48, 48), 128, np.uint8))\n"
              "assert points.shape == (68, 2)\n"
              "assert 'face_recognition' not in sys.modules and 'pkg_resources' not in sys.modules\n"
              "print('ok')\n" % str(ROOT))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_landmarks_land_on_the_face_of_a_fer2013_crop(fer2013_dir):
    face = cv2.imread(str(fer2013_dir / DETECTABLE), cv2.IMREAD_GRAYSCALE)
    points = crop_landmarks(face)
    eyes_y = points[36:48, 1].mean()
    assert 12 < eyes_y < 24 and 40 < points[8, 1] < 50                   # eyes upper middle, chin at the bottom
    assert points[36:42, 0].mean() < 24 < points[42:48, 0].mean()       # left eye left of centre
    assert crop_landmarks(cv2.cvtColor(face, cv2.COLOR_GRAY2BGR)) == pytest.approx(points)


def test_detect_and_crop_a_face_in_a_larger_photo(fer2013_dir):
    face = cv2.imread(str(fer2013_dir / DETECTABLE), cv2.IMREAD_GRAYSCALE)
    photo = np.full((300, 400), 128, np.uint8)
    photo[70:230, 120:280] = cv2.resize(face, (160, 160), interpolation=cv2.INTER_CUBIC)
    boxes = detect_faces(cv2.cvtColor(photo, cv2.COLOR_GRAY2BGR))
    assert len(boxes) == 1
    left, top, right, bottom = boxes[0]
    assert 105 <= left < right <= 295 and 55 <= top < bottom <= 245      # on the pasted face (120..280, 70..230)
    crop = crop_face(photo, boxes[0])
    assert crop.shape == (48, 48) and crop.dtype == np.uint8
    # The crop frames the face about as FER2013 does: it correlates with the original crop.
    assert np.corrcoef(crop.ravel(), face.ravel())[0, 1] > 0.7


def test_no_face_and_faces_at_the_border():
    assert detect_faces(np.full((200, 200, 3), 90, np.uint8)) == []
    image = np.arange(100 * 120, dtype=np.uint32).reshape(100, 120).astype(np.uint8)
    crop = crop_face(image, (-20, -10, 40, 50), size=32)
    assert crop.shape == (32, 32)


def test_unsupported_image_shapes_are_errors():
    with pytest.raises(ValueError, match="gray, BGR or BGRA"):
        to_gray(np.zeros((10, 10, 2), np.uint8))
