"""Annotated pictures: a face's caption stays whole inside the picture, wherever the face is, and captions do
not cover each other on a crowded photo."""
import cv2
import numpy as np
import pytest

from conftest import SHARED, skip_unless_ci
from deploy.annotate import BLUE, GREEN, caption_bands, draw_faces
from deploy.predictor import FacePrediction, Prediction

CAPTION_ROWS = slice(0, 58)


def band_columns(picture, colour, rows=CAPTION_ROWS):
    """The columns where a caption's filled band (exactly `colour`) shows in the given rows."""
    return np.flatnonzero(np.all(picture[rows] == colour, axis=-1).any(axis=0))


def masked_face_at_right_edge(width, height=400):
    photo = np.full((height, width, 3), 90, np.uint8)
    return photo, FacePrediction((width - 50, 60, width - 5, 110),
                                 Prediction("happy", 0.81, masked=True, mask_score=0.93))


@pytest.mark.parametrize("width", [267, 2000])
def test_a_caption_near_the_right_edge_stays_whole_in_the_picture(width):
    """A face at the right edge of a photo (as a runway photo's masked face was): its caption is moved left,
    whole, instead of running off the edge (the same caption drawn with room to spare gives its width)."""
    photo, face = masked_face_at_right_edge(width)
    columns = band_columns(draw_faces(photo, [face]), BLUE)
    roomy = np.full((min(400, width), 2000, 3), 90, np.uint8)           # the same shorter side: the same scale
    whole = band_columns(draw_faces(roomy, [FacePrediction((100, 60, 145, 110), face.prediction)]), BLUE)
    assert columns.max() < width - 1                                      # ends inside, not cut by the edge
    assert columns.max() - columns.min() == whole.max() - whole.min()     # the whole caption


def test_a_caption_wider_than_the_picture_is_shrunk_to_fit():
    photo, face = masked_face_at_right_edge(120, height=300)
    columns = band_columns(draw_faces(photo, [face]), BLUE)
    assert columns.size and columns.min() >= 0 and columns.max() < 120 - 1


def test_a_caption_keeps_its_place_above_a_face_with_room():
    photo = np.full((400, 600, 3), 90, np.uint8)
    face = FacePrediction((100, 200, 180, 280), Prediction("fear", 0.55, masked=False, mask_score=0.1))
    assert band_columns(draw_faces(photo, [face]), GREEN, slice(150, 199)).min() == 100


def overlapping_pairs(bands) -> list:
    return [(a, b) for i, a in enumerate(bands) for b in bands[i + 1:]
            if min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])]


def test_captions_of_a_row_of_close_faces_do_not_cover_each_other():
    """Six faces side by side, closer than a caption is wide: each caption used to sit above its own box's left
    edge, so that each covered the next."""
    photo = np.full((300, 400, 3), 90, np.uint8)
    faces = [FacePrediction((20 + 60 * i, 120, 70 + 60 * i, 170), Prediction("surprise", 0.55, masked=i % 2 == 0,
                                                                              mask_score=0.9 if i % 2 == 0 else 0.1))
             for i in range(6)]
    bands = [band for _, _, band in caption_bands(photo.shape, faces)]
    assert not overlapping_pairs(bands)
    assert all(0 <= left < right < 400 and 0 <= top < bottom < 300 for left, top, right, bottom in bands)


CROWD = SHARED / "realmask" / "photos" / "maksssksksss705.jpg"   # a crowd of masked students, 11 faces found


def test_captions_on_a_real_crowd_photo_do_not_cover_each_other():
    if not CROWD.is_file():
        skip_unless_ci(f"{CROWD} is absent (the shared data folder)")
    from deploy.predictor import Predictor

    photo = cv2.imread(str(CROWD))
    found = Predictor("inference").predict_faces(photo)
    assert len(found) >= 8
    bands = [band for _, _, band in caption_bands(photo.shape, found)]
    assert not overlapping_pairs(bands)
    assert all(0 <= left < right < photo.shape[1] and 0 <= top < bottom < photo.shape[0]
               for left, top, right, bottom in bands)
