"""Drawing predictions on copies of images: face boxes with label and score, or a label banner."""
import cv2
import numpy as np

from deploy.images import as_bgr

GREEN = (60, 200, 60)
# Masked faces are drawn in this colour (BGR, a mask's light blue), unmasked ones in GREEN.
BLUE = (230, 170, 40)
# Faces found but too small to classify: a thin box, no label.
GREY = (160, 160, 160)
# FER2013 crops are 48 px: text would not fit, so small images are enlarged before drawing.
MIN_SIDE = 256


def _fit(text, scale, room):
    """(scale, thickness, width, height, baseline) of text at scale, shrunk if need be to fit `room` px."""
    while True:
        thickness = max(1, int(round(scale * 2)))
        (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        if w <= room or scale < 0.2:
            return scale, thickness, w, h, base
        scale *= room / w


def _label(image, text, x, y, scale, colour=GREEN):
    """text on a filled band whose top left corner is (x, y), kept whole in the picture."""
    scale, thickness, w, h, base = _fit(text, scale, image.shape[1] - 2)
    x, y = max(0, min(x, image.shape[1] - 2 - w)), max(0, min(y, image.shape[0] - 2 - h - base))
    cv2.rectangle(image, (x, y), (x + w, y + h + base), colour, cv2.FILLED)
    cv2.putText(image, text, (x, y + h), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness, cv2.LINE_AA)


def _overlap(a, b) -> int:
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


def place_labels(shape, boxes, sizes, rounds: int = 3) -> list:
    """Where each box's label goes: (x, y) top left corners. Each label (width, height in `sizes`) may sit above
    its box, below it, or inside its top or bottom, at its left or right edge or centred, inside the picture.
    Boxes come largest first, and each takes the place that covers the least of the labels placed so far, then
    of the other faces (of equals the first in that order); then, for a few rounds, each label whose place
    still covers another moves to its best place among all the others'."""
    height, width = shape[:2]
    options = []
    for (left, top, right, bottom), (w, h) in zip(boxes, sizes):
        places = [(x, y) for y in (top - h, bottom, top, bottom - h) for x in (left, right - w, (left + right - w) // 2)]
        options.append([(max(0, min(x, width - 2 - w)), max(0, min(y, height - 2 - h))) for x, y in places])
    bands = [None] * len(boxes)

    def band(index, corner):
        return corner[0], corner[1], corner[0] + sizes[index][0], corner[1] + sizes[index][1]

    def cost(index, corner):
        placed = band(index, corner)
        on_labels = sum(_overlap(placed, other) for j, other in enumerate(bands) if j != index and other)
        on_faces = sum(_overlap(placed, box) for j, box in enumerate(boxes) if j != index)
        return on_labels, on_faces

    for index in range(len(boxes)):
        bands[index] = band(index, min(options[index], key=lambda corner: cost(index, corner)))
    for _ in range(rounds):
        crowded = [i for i in range(len(boxes)) if cost(i, bands[i][:2])[0]]
        if not crowded:
            break
        for index in crowded:
            bands[index] = band(index, min(options[index], key=lambda corner: cost(index, corner)))
    return [b[:2] for b in bands]


def face_caption(prediction) -> str:
    """'label score', led by the mask status where there is one: 'mask 0.97 happy 0.80'."""
    text = f"{prediction.label} {prediction.score:.2f}"
    if prediction.masked is None:
        return text
    status = ("mask", prediction.mask_score) if prediction.masked else ("no mask", 1 - prediction.mask_score)
    return f"{status[0]} {status[1]:.2f} {text}"


def caption_bands(shape, faces) -> list:
    """(caption, scale, band) for each FacePrediction: its text, size and where it is drawn (left, top, right,
    bottom), placed by place_labels."""
    scale = max(0.4, min(shape[:2]) / 800)
    captions = [face_caption(face.prediction) for face in faces]
    fitted = [_fit(caption, scale, shape[1] - 2) for caption in captions]
    sizes = [(w, h + base) for _, _, w, h, base in fitted]
    corners = place_labels(shape, [face.box for face in faces], sizes)
    return [(caption, fit[0], (x, y, x + w, y + h)) for caption, fit, (x, y), (w, h) in
            zip(captions, fitted, corners, sizes)]


def draw_faces(image: np.ndarray, faces, fps: float = None, too_small=()) -> np.ndarray:
    """A BGR copy of image with each FacePrediction's box and caption (caption_bands: captions do not cover
    each other where there is room), masked faces in BLUE, and the boxes of faces too small to classify in thin
    GREY, without a caption."""
    out = as_bgr(image).copy()
    for left, top, right, bottom in too_small:
        cv2.rectangle(out, (left, top), (right, bottom), GREY, 1)
    line = max(1, int(round(max(0.4, min(out.shape[:2]) / 800) * 3)))
    colours = [BLUE if face.prediction.masked else GREEN for face in faces]
    for face, colour in zip(faces, colours):
        left, top, right, bottom = face.box
        cv2.rectangle(out, (left, top), (right, bottom), colour, line)
    for (caption, scale, (x, y, _, _)), colour in zip(caption_bands(out.shape, faces), colours):
        _label(out, caption, x, y, scale, colour)
    if fps is not None:
        _label(out, f"{fps:.1f} FPS", 0, 0, max(0.4, min(out.shape[:2]) / 800))
    return out


def draw_label(image: np.ndarray, prediction) -> np.ndarray:
    """A BGR copy of a whole-image prediction, enlarged if small, with 'label score' in the top-left corner."""
    out = as_bgr(image)
    factor = MIN_SIDE / min(out.shape[:2])
    if factor > 1:
        out = cv2.resize(out, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)
    else:
        out = out.copy()
    _label(out, face_caption(prediction), 0, 0, max(0.5, min(out.shape[:2]) / 500),
           BLUE if prediction.masked else GREEN)
    return out
