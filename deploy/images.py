"""Image bytes -> a BGR uint8 image, the one decoder of the CLI and the HTTP server (the same bytes always give
the same pixels, so the same answer), refusing bad input with a clear message and an HTTP status; and as_bgr,
the one way an image in memory becomes BGR."""
import base64
import binascii
import io

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from basics import FACE_SIZE, UserError

# Our own pixel cap (checked on the header, before decoding) replaces PIL's global one, which would otherwise
# raise DecompressionBombError at a limit we do not choose.
Image.MAX_IMAGE_PIXELS = None
MAX_PIXELS = 40_000_000
# A quarter of the 48 px model input: below this no expression is left to see, and face detection's shrinking
# would leave an empty side.
MIN_SIDE = FACE_SIZE // 4


# Without face finding an image is taken for one face crop. One this much larger than the model input, or this far
# from square, is much more likely a whole photo: the CLI warns, and the server's answer says so.
PHOTO_SIDE = 8 * FACE_SIZE
PHOTO_ASPECT = 1.5


def photo_warning(image, find_faces: str) -> str:
    """Why `image` is probably a whole photo rather than a face crop, pointing at `find_faces` (the CLI's --faces,
    the server's faces=1); or ''."""
    h, w = image.shape[:2]
    if max(h, w) > PHOTO_SIDE or max(h, w) > PHOTO_ASPECT * min(h, w):
        return (f"{w}x{h} looks like a whole photo, not a face crop (larger than {PHOTO_SIDE} px or more than "
                f"{PHOTO_ASPECT:g}x longer than wide): classified as one face anyway; use {find_faces} to find the "
                "faces")
    return ""


class BadImage(UserError):
    """An image refused, by the CLI as by the server; `status` is the HTTP status the server answers with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def decode_base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise BadImage(400, f"data.image is not valid base64 ({err}); send the image file's bytes base64-encoded")


def _to_rgb8(image: Image.Image) -> np.ndarray:
    """RGB uint8 of any PIL mode; 16- and 32-bit grey keep their top 8 bits, as OpenCV reads them (PIL's own
    convert("RGB") clips them to 255, which turns a 16-bit face white)."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        gray = (np.asarray(image).astype(np.uint32) >> 8).clip(0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if image.mode == "F":
        gray = np.asarray(image).clip(0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))


def decode_image(data: bytes, max_pixels: int = MAX_PIXELS, max_aspect: float = None) -> np.ndarray:
    """Decode an encoded image (JPEG, PNG, BMP, ...) to an HxWx3 BGR uint8 array, as OpenCV would load it:
    EXIF rotation applied, alpha dropped, 16-bit scaled to 8. A truncated or corrupt file is refused, never
    classified from its readable part.

    The dimensions are read from the header and checked against `max_pixels` (and `max_aspect`, the longest
    side over the shortest) and MIN_SIDE before any pixel is decoded, so a small file that claims 100000x100000
    pixels (a decompression bomb) costs nothing.
    """
    return decode_pixels(open_image(data, max_pixels, max_aspect))


def open_image(data: bytes, max_pixels: int = MAX_PIXELS, max_aspect: float = None) -> Image.Image:
    """decode_image's first half: the image's header read and its size checked, no pixel decoded yet."""
    if not data:
        raise BadImage(400, "the file is empty; send an image file (JPEG, PNG, BMP, ...)")
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise BadImage(415, "not an image (PIL cannot read it); send a JPEG, PNG, BMP, GIF or WebP file")
    except (OSError, ValueError, SyntaxError) as err:
        raise BadImage(400, f"the image header is corrupt ({err}); send a complete image file")
    width, height = image.size
    if min(width, height) < MIN_SIDE:
        raise BadImage(422, f"the image is {width}x{height} pixels; both sides must be at least {MIN_SIDE} px "
                            f"(faces are classified at {FACE_SIZE}x{FACE_SIZE})")
    if width * height > max_pixels:
        raise BadImage(413, f"the image is {width}x{height} = {width * height} pixels, over the limit of "
                            f"{max_pixels}; downscale it (faces are classified at {FACE_SIZE}x{FACE_SIZE}), or "
                            "raise the limit with --max-pixels")
    if max_aspect is not None and max(width, height) > max_aspect * min(width, height):
        # Resizing the short side to the model's input would blow a 2x20000 strip up to tens of megapixels.
        raise BadImage(422, f"the image is {width}x{height}, more than {max_aspect:g} times longer than wide; "
                            "/predict classifies one face crop (about square): send a crop, or a photo to "
                            "/predict?faces=1")
    return image


def decode_pixels(image: Image.Image) -> np.ndarray:
    """decode_image's second half: the pixels of open_image's image, as BGR uint8."""
    try:
        image.load()
        # Phone photos store their rotation in EXIF. In place: otherwise an unrotated photo is copied, and every
        # copy of a 12 MP photo costs about 9 ms (as did a convert to RGB of an RGB image; the channels are
        # swapped by OpenCV, 12 ms, where numpy's reversed copy took 90).
        ImageOps.exif_transpose(image, in_place=True)
        rgb = _to_rgb8(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise BadImage(400, f"the image could not be decoded, it is truncated or corrupt ({err}); "
                            "send the complete file")
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def read_image_file(path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """decode_image of a file's bytes; raises BadImage (unreadable or refused) or OSError (cannot be opened)."""
    with open(path, "rb") as handle:
        return decode_image(handle.read(), max_pixels)


def as_bgr(image: np.ndarray) -> np.ndarray:
    """A 3-channel BGR uint8 view of a gray (HxW or HxWx1), BGR or BGRA uint8 image."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        kind = image.dtype if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"expected a uint8 numpy image (as cv2.imread returns), got {kind}")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    raise ValueError(f"expected a gray, BGR or BGRA image, got an array of shape {image.shape}")
