"""Our masks drawn on the faces of an ordinary photo, for tests and pictures of the prediction path: the same
landmarks, geometry and templates as the data set's, drawn on an upscaled FER2013-style crop of each face and
composited back into the photo."""
from pathlib import Path

import cv2
import numpy as np

from basics import FACE_SIZE

from .compose import mask_layer
from .faces import crop_matrix, detect_faces, to_gray
from .geometry import mask_box
from .points import mask_points
from .templates import PALETTES, MaskStyle

# The crop the mask is drawn on: large enough that the mask's edges stay sharp in a photo.
CROP_SIZE = 192
MARGIN = CROP_SIZE // 2


def mask_photo(photo: np.ndarray, style: str = "surgical", colour: str = "white", faces: int = 1) -> np.ndarray:
    """A BGR copy of photo with a mask of that style and colour (masker.templates.PALETTES; the templates are
    drawn in grey, at the colour's brightness) on each of its `faces` largest faces that dlib finds; ValueError
    when it finds none."""
    if colour not in PALETTES.get(style, {}):
        raise ValueError(f"unknown mask {style!r} in {colour!r}; styles and colours: "
                         + "; ".join(f"{s}: {', '.join(c)}" for s, c in PALETTES.items()))
    boxes = detect_faces(photo)[:faces]
    if not boxes:
        raise ValueError("no face found to draw a mask on")
    out = photo.astype(np.float32)
    height, width = photo.shape[:2]
    for box in boxes:
        matrix = crop_matrix(box, CROP_SIZE)
        crop = cv2.warpAffine(to_gray(photo), matrix, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
        # The points are found at FER2013's 48 px, as for the data set, and scaled up to the crop; the mask is
        # drawn on a frame with a margin round the crop, since FER2013's framing cuts the chin.
        points = (mask_points(cv2.resize(crop, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)) + 0.5) \
            * (CROP_SIZE / FACE_SIZE) - 0.5 + MARGIN
        frame = (CROP_SIZE + 2 * MARGIN,) * 2
        luma, alpha = mask_layer(mask_box(points, (CROP_SIZE, CROP_SIZE)), MaskStyle(style, colour), frame)
        back = cv2.invertAffineTransform(matrix + np.array([[0, 0, MARGIN], [0, 0, MARGIN]]))
        luma, alpha = (cv2.warpAffine(layer, back, (width, height), flags=cv2.INTER_LINEAR) for layer in (luma, alpha))
        out = out * (1.0 - alpha[..., None]) + 255.0 * luma[..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def write_sample_photo_and_clip(out_dir, frames: int = 24) -> tuple:
    """scikit-image's astronaut with our blue surgical mask, as a photo and as a short clip that slowly zooms in
    (`make demo` writes them, so that the README's photo and video commands have real inputs); returns both
    paths."""
    import skimage.data

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    photo = mask_photo(cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR), "surgical", "blue")
    photo_path, clip_path = out_dir / "astronaut_masked.jpg", out_dir / "astronaut_masked.mp4"
    cv2.imwrite(str(photo_path), photo)
    height, width = photo.shape[:2]
    writer = cv2.VideoWriter(str(clip_path), cv2.VideoWriter_fourcc(*"mp4v"), 12, (width, height))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write {clip_path}")
    try:
        for index in range(frames):
            zoom = 1.0 + 0.2 * index / max(1, frames - 1)
            matrix = cv2.getRotationMatrix2D((width * 0.45, height * 0.3), 0.0, zoom)
            writer.write(cv2.warpAffine(photo, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE))
    finally:
        writer.release()
    return photo_path, clip_path
