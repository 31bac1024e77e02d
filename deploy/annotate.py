"""Drawing predictions on copies of images: face boxes with label and score, or a label banner."""
import cv2
import numpy as np

from deploy.preprocess import as_bgr

GREEN = (60, 200, 60)
# Masked faces are drawn in this colour (BGR, a mask's light blue), unmasked ones in GREEN.
BLUE = (230, 170, 40)
# FER2013 crops are 48 px: text would not fit, so small images are enlarged before drawing.
MIN_SIDE = 256


def _text(image, text, x, y, scale, colour=GREEN):
    """text on a filled band from (x, y) up, moved left (and shrunk if need be) to stay whole in the picture."""
    room = image.shape[1] - 2
    while True:
        thickness = max(1, int(round(scale * 2)))
        (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        if w <= room or scale < 0.2:
            break
        scale *= room / w
    x, y = max(0, min(x, room - w)), max(y, h + base)
    cv2.rectangle(image, (x, y - h - base), (x + w, y + base // 2), colour, cv2.FILLED)
    cv2.putText(image, text, (x, y - base // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness, cv2.LINE_AA)


def face_caption(prediction) -> str:
    """'label score', led by the mask status where there is one: 'mask 0.97 happy 0.80'."""
    text = f"{prediction.label} {prediction.score:.2f}"
    if prediction.masked is None:
        return text
    status = ("mask", prediction.mask_score) if prediction.masked else ("no mask", 1 - prediction.mask_score)
    return f"{status[0]} {status[1]:.2f} {text}"


def draw_faces(image: np.ndarray, faces, fps: float = None) -> np.ndarray:
    """A BGR copy of image with each FacePrediction's box and caption above it, masked faces in BLUE."""
    out = as_bgr(image).copy()
    scale = max(0.4, min(out.shape[:2]) / 800)
    for face in faces:
        left, top, right, bottom = face.box
        colour = BLUE if face.prediction.masked else GREEN
        cv2.rectangle(out, (left, top), (right, bottom), colour, max(1, int(round(scale * 3))))
        _text(out, face_caption(face.prediction), left, top, scale, colour)
    if fps is not None:
        _text(out, f"{fps:.1f} FPS", 0, 0, scale)
    return out


def draw_label(image: np.ndarray, prediction) -> np.ndarray:
    """A BGR copy of a whole-image prediction, enlarged if small, with 'label score' in the top-left corner."""
    out = as_bgr(image)
    factor = MIN_SIDE / min(out.shape[:2])
    if factor > 1:
        out = cv2.resize(out, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)
    else:
        out = out.copy()
    _text(out, face_caption(prediction), 0, 0, max(0.5, min(out.shape[:2]) / 500),
          BLUE if prediction.masked else GREEN)
    return out
