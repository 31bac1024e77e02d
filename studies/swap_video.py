"""A video of two real FER2013 faces that drift across the frame and swap expressions at a known frame: the
timeline test's input, and the README's timeline picture."""
from pathlib import Path

import cv2
import numpy as np

SIZE, SWAP, FRAMES, FPS = 150, 15, 30, 10
FRAME = (300, 640)
PLACES = ((60, 40), (70, 380))     # (top, left) of the two faces in the first frame; they drift right a pixel a frame


def pick_distinct_faces(predictor, fer2013_dir, per_class=40, min_score=0.9):
    """[(label, face), (label, face)]: two PublicTest faces, upscaled to SIZE px, that the face finder finds wherever the
    video puts them (in its frame, at both places, as they drift across) and that `predictor` gives different top
    classes with at least min_score; [] when there are none."""
    found = {}
    for class_dir in sorted((Path(fer2013_dir) / "test").iterdir()):
        for path in sorted(class_dir.iterdir())[:per_class]:
            face = cv2.resize(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), (SIZE, SIZE), interpolation=cv2.INTER_CUBIC)
            canvases = []
            for top, left in PLACES:
                for drift in range(0, FRAMES, 7):
                    canvas = np.full(FRAME, 128, np.uint8)
                    canvas[top:top + SIZE, left + drift:left + drift + SIZE] = face
                    canvases.append(canvas)
            faces = predictor.predict_faces(canvases[0])
            if len(faces) == 1 and faces[0].prediction.score >= min_score and faces[0].prediction.label not in found \
                    and all(len(predictor.predict_faces(c)) == 1 for c in canvases[1:]):
                found[faces[0].prediction.label] = face
            if len(found) == 2:
                return list(found.items())
    return []


def make_swap_video(path, left, right):
    """FRAMES frames at FPS: `left` on the left and `right` on the right until frame SWAP, then the other way
    round; both drift right by a pixel a frame."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, FRAME[::-1])
    for frame_index in range(FRAMES):
        frame = np.full(FRAME, 128, np.uint8)
        for (top, x), face in zip(PLACES, (left, right) if frame_index < SWAP else (right, left)):
            frame[top:top + SIZE, x + frame_index:x + frame_index + SIZE] = face
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path
