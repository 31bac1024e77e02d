"""Turn untrusted upload bytes into a BGR image, refusing bad input with a status code and a clear message."""
import base64
import binascii
import io

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Our own pixel cap (checked on the header, before decoding) replaces PIL's global one, which would otherwise
# raise DecompressionBombError at a limit we do not choose.
Image.MAX_IMAGE_PIXELS = None


class BadImage(Exception):
    """An upload the service refuses; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def decode_base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise BadImage(400, f"data.image is not valid base64 ({err}); send the image file's bytes base64-encoded")


def decode_image(data: bytes, max_pixels: int, max_aspect: float = None) -> np.ndarray:
    """Decode an encoded image (JPEG, PNG, BMP, ...) to an HxWx3 BGR uint8 array, as OpenCV would load it.

    The dimensions are read from the header and checked against `max_pixels` (and `max_aspect`, the longest
    side over the shortest) before any pixel is decoded, so a small file that claims 100000x100000 pixels
    (a decompression bomb) costs nothing.
    """
    if not data:
        raise BadImage(400, "the upload is empty; send an image file (JPEG, PNG, BMP, ...)")
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise BadImage(415, "the upload is not an image PIL can read; send a JPEG, PNG, BMP, GIF or WebP file")
    except (OSError, ValueError, SyntaxError) as err:
        raise BadImage(400, f"the image header is corrupt ({err}); send a complete image file")
    width, height = image.size
    if width < 1 or height < 1:
        raise BadImage(400, f"the image claims an empty size {width}x{height}")
    if width * height > max_pixels:
        raise BadImage(413, f"the image is {width}x{height} = {width * height} pixels, over the limit of "
                            f"{max_pixels}; downscale it (faces are classified at 48x48)")
    if max_aspect is not None and max(width, height) > max_aspect * min(width, height):
        # Resizing the short side to the model's input would blow a 2x20000 strip up to tens of megapixels.
        raise BadImage(422, f"the image is {width}x{height}, more than {max_aspect:g} times longer than wide; "
                            "/predict classifies one face crop (about square): send a crop, or a photo to "
                            "/predict?faces=1")
    try:
        image.load()
        image = ImageOps.exif_transpose(image)  # phone photos store their rotation in EXIF
        rgb = np.asarray(image.convert("RGB"))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise BadImage(400, f"the image could not be decoded, it is truncated or corrupt ({err}); "
                            "send the complete file")
    return np.ascontiguousarray(rgb[:, :, ::-1])
