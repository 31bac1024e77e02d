"""Where a mask sits on a face: a rotated box from the nose bridge to the chin and from cheek to cheek.

Everything is done with one affine map from the template's own frame to image pixels, so the tilt is applied
exactly once, in the same place the mask is drawn (no separate rotate-then-paste step to get out of sync).
"""
import math
from dataclasses import dataclass

import numpy as np

# The six points a mask is placed by, in this order (left and right as seen in the image).
JAW_LEFT, JAW_RIGHT, CHIN, NOSE_BRIDGE, LEFT_EYE, RIGHT_EYE = range(6)
POINT_NAMES = ("jaw_left", "jaw_right", "chin", "nose_bridge", "left_eye", "right_eye")

# Masks reach a little past the jaw line and below the chin, like a worn mask.
SIDE_MARGIN = 0.06                # of the cheek-to-cheek width, each side
CHIN_MARGIN = 0.10                # of the bridge-to-chin height
# Smallest geometry worth masking, in pixels of the image the landmarks belong to (48 px FER2013 faces: jaw
# width is typically 35-45 px, bridge-to-chin 20-28 px).
MIN_WIDTH_FRACTION = 0.15
MIN_HEIGHT_FRACTION = 0.08


class DegenerateFace(ValueError):
    """The landmarks do not describe a face a mask can be placed on; the message is the skip reason."""


@dataclass(frozen=True)
class MaskBox:
    """A rotated rectangle in image pixels.

    centre: (x, y); width along the eye line, height across it; tilt_degrees: angle of the eye line measured
    from the image x axis towards +y (clockwise on screen, as image y points down).
    """
    centre: tuple
    width: float
    height: float
    tilt_degrees: float

    def to_image_matrix(self, template_size) -> np.ndarray:
        """2x3 affine map from template pixel coordinates (tw x th, origin top-left) to image pixels."""
        tw, th = template_size
        a = math.radians(self.tilt_degrees)
        u = np.array([math.cos(a), math.sin(a)])          # along the eye line
        v = np.array([-math.sin(a), math.cos(a)])         # down the face
        sx, sy = self.width / tw, self.height / th
        linear = np.column_stack([u * sx, v * sy])
        offset = np.asarray(self.centre) - linear @ np.array([tw / 2, th / 2])
        return np.column_stack([linear, offset])

    def corners(self) -> np.ndarray:
        """The four corners in image pixels: top-left, top-right, bottom-right, bottom-left."""
        m = self.to_image_matrix((1.0, 1.0))
        unit = np.array([[0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], dtype=float)
        return unit @ m.T


def from_68(points: np.ndarray) -> np.ndarray:
    """The six mask points of dlib's 68 landmarks (0-based): jaw 1 and 15 (the cheeks at the height of the nose),
    chin 8, nose bridge 28 (its upper third, below the eyes), and the centres of the eyes 36-41 and 42-47."""
    points = np.asarray(points, dtype=np.float64)
    return np.concatenate([points[[1, 15, 8, 28]], points[36:42].mean(axis=0, keepdims=True),
                           points[42:48].mean(axis=0, keepdims=True)])


def eye_line_tilt(points: np.ndarray) -> float:
    dx, dy = points[RIGHT_EYE] - points[LEFT_EYE]
    if math.hypot(dx, dy) < 1e-6:
        raise DegenerateFace("eye centres coincide: no head tilt can be measured")
    return math.degrees(math.atan2(dy, dx))


def mask_box(points: np.ndarray, image_size) -> MaskBox:
    """The mask's box for the six mask points (x, y) of a face in an image of image_size = (width, height)."""
    points = np.asarray(points, dtype=np.float64)
    if points.shape != (len(POINT_NAMES), 2) or not np.isfinite(points).all():
        raise DegenerateFace(f"expected {len(POINT_NAMES)} finite mask points ({', '.join(POINT_NAMES)}), "
                             f"got an array of shape {points.shape}")
    tilt = eye_line_tilt(points)
    a = math.radians(tilt)
    u = np.array([math.cos(a), math.sin(a)])
    v = np.array([-math.sin(a), math.cos(a)])

    # Extents measured in the face's own frame, so a tilted head gets the same mask as an upright one.
    left, right = points[JAW_LEFT] @ u, points[JAW_RIGHT] @ u
    top, bottom = points[NOSE_BRIDGE] @ v, points[CHIN] @ v
    width, height = right - left, bottom - top
    side = min(image_size)
    if width < MIN_WIDTH_FRACTION * side:
        raise DegenerateFace(f"cheek-to-cheek width {width:.1f} px is too small for a {side} px face")
    if height < MIN_HEIGHT_FRACTION * side:
        raise DegenerateFace(f"nose bridge to chin height {height:.1f} px: the nose point is on the chin")

    width *= 1 + 2 * SIDE_MARGIN
    bottom += CHIN_MARGIN * height
    height = bottom - top
    centre_u = (left + right) / 2
    centre_v = (top + bottom) / 2
    centre = centre_u * u + centre_v * v
    return MaskBox(centre=(float(centre[0]), float(centre[1])), width=float(width), height=float(height),
                   tilt_degrees=float(tilt))


# How far a fresh mask's fit strays from mask_box's (masker.online): as fractions of the box's height (its top
# edge, how high it sits on the nose; its bottom edge) and width (sideways; its width), and in degrees.
FIT_TOP, FIT_BOTTOM, FIT_SIDEWAYS, FIT_WIDTH, FIT_TILT = 0.12, 0.06, 0.04, (0.94, 1.08), 4.0


def refitted(box: MaskBox, rng: np.random.Generator) -> MaskBox:
    """The box of the same mask worn a little differently: higher or lower on the nose, shifted, wider or
    narrower, turned a few degrees; every draw from rng."""
    top, bottom = rng.uniform(-FIT_TOP, FIT_TOP) * box.height, rng.uniform(-FIT_BOTTOM, FIT_BOTTOM) * box.height
    sideways = rng.uniform(-FIT_SIDEWAYS, FIT_SIDEWAYS) * box.width
    a = math.radians(box.tilt_degrees)
    u, v = np.array([math.cos(a), math.sin(a)]), np.array([-math.sin(a), math.cos(a)])
    centre = np.asarray(box.centre) + sideways * u + (top + bottom) / 2 * v
    return MaskBox(centre=(float(centre[0]), float(centre[1])), width=box.width * rng.uniform(*FIT_WIDTH),
                   height=box.height + bottom - top, tilt_degrees=box.tilt_degrees + rng.uniform(-FIT_TILT, FIT_TILT))
