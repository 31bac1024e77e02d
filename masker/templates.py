"""Mask templates drawn by the project with Pillow, and the seeded per-image choice between them.

Templates are drawn at 4x their nominal size; the 4x supersampling is removed only after the template has been
warped onto the face (masker.compose), so edges, pleats and seams come out anti-aliased at 48 px.
"""
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

SUPERSAMPLE = 4
NOMINAL_SIZE = (64, 40)                    # width x height of the template frame (cheek to cheek x bridge to chin)
SIZE = (NOMINAL_SIZE[0] * SUPERSAMPLE, NOMINAL_SIZE[1] * SUPERSAMPLE)

GRAYS = {"white": (236, 236, 236), "light-gray": (190, 190, 190), "gray": (128, 128, 128),
         "dark-gray": (72, 72, 72), "black": (28, 28, 30)}
# Colours each style is commonly sold in; every style also comes in shades of gray.
PALETTES = {
    "surgical": {"blue": (140, 190, 226), "green": (150, 206, 176), "pink": (240, 176, 190), **GRAYS},
    "n95": {"cream": (238, 232, 214), **GRAYS},
    "kn95": {"cream": (238, 232, 214), "blue": (120, 160, 210), **GRAYS},
    "cloth": {"navy": (36, 52, 96), "red": (170, 40, 48), "olive": (110, 112, 60), "denim": (80, 110, 150),
              "beige": (200, 180, 150), **GRAYS},
}
CLOTH_PATTERNS = ("plain", "stripes", "dots", "check")
STYLES = tuple(PALETTES)


@dataclass(frozen=True)
class MaskStyle:
    style: str
    colour: str
    pattern: str = "plain"

    def as_dict(self) -> dict:
        return {"style": self.style, "colour": self.colour, "pattern": self.pattern}


def parse_styles(text: str) -> tuple:
    styles = tuple(s.strip().lower() for s in text.split(",") if s.strip())
    unknown = [s for s in styles if s not in PALETTES]
    if unknown or not styles:
        raise ValueError(f"unknown mask style(s) {unknown or text!r}; valid styles: {', '.join(STYLES)}")
    return styles


def choose_style(rng: np.random.Generator, styles=STYLES) -> MaskStyle:
    """Draws a style, colour and (cloth) pattern; the same generator state always gives the same mask."""
    style = styles[rng.integers(len(styles))]
    colours = sorted(PALETTES[style])
    colour = colours[rng.integers(len(colours))]
    pattern = CLOTH_PATTERNS[rng.integers(len(CLOTH_PATTERNS))] if style == "cloth" else "plain"
    return MaskStyle(style, colour, pattern)


def _shade(rgb, factor):
    return tuple(int(max(0, min(255, round(c * factor)))) for c in rgb)


def _outline(w, h, top_rise, bottom_drop, side_inset):
    """A face-mask outline: the top edge rises over the nose, the bottom curves under the chin."""
    pts = []
    n = 24
    for i in range(n + 1):                                        # top edge, left to right
        x = i / n
        pts.append((x * w, h * top_rise * (1 - (1 - (2 * x - 1) ** 2) ** 0.7)))
    for i in range(n + 1):                                        # bottom edge, right to left
        x = 1 - i / n
        inset = side_inset * abs(2 * x - 1) ** 3
        xx = inset + x * (1 - 2 * inset)
        pts.append((xx * w, h * (1 - bottom_drop * (2 * x - 1) ** 2)))
    return pts


def _draw_surgical(draw, w, h, rgb):
    shape = _outline(w, h, top_rise=0.12, bottom_drop=0.22, side_inset=0.04)
    draw.polygon(shape, fill=rgb + (255,))
    line = max(2, h // 40)
    for k in (0.32, 0.52, 0.72):                                  # pleats: a shadow under a lit fold
        y = int(h * k)
        draw.line([(w * 0.03, y), (w * 0.97, y)], fill=_shade(rgb, 0.72) + (255,), width=line)
        draw.line([(w * 0.03, y + line), (w * 0.97, y + line)], fill=_shade(rgb, 1.12) + (255,), width=line)
    draw.line([(w * 0.35, h * 0.06), (w * 0.65, h * 0.06)], fill=_shade(rgb, 0.85) + (255,), width=line * 2)


def _draw_n95(draw, w, h, rgb):
    draw.ellipse([w * 0.02, -h * 0.10, w * 0.98, h * 1.0], fill=rgb + (255,))
    draw.ellipse([w * 0.10, h * 0.05, w * 0.90, h * 0.92], outline=_shade(rgb, 0.8) + (255,), width=max(2, h // 45))
    r = h * 0.11                                                  # exhalation valve
    cx, cy = w * 0.62, h * 0.58
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=_shade(rgb, 0.7) + (255,))


def _draw_kn95(draw, w, h, rgb):
    shape = [(0, h * 0.20), (w * 0.5, 0), (w, h * 0.20), (w * 0.93, h * 0.72), (w * 0.5, h), (w * 0.07, h * 0.72)]
    draw.polygon(shape, fill=rgb + (255,))
    draw.line([(w * 0.5, 0), (w * 0.5, h)], fill=_shade(rgb, 0.75) + (255,), width=max(2, h // 40))
    draw.polygon(shape + [shape[0]], outline=_shade(rgb, 0.82) + (255,), width=max(2, h // 50))


def _draw_cloth(draw, w, h, rgb, pattern):
    shape = _outline(w, h, top_rise=0.22, bottom_drop=0.28, side_inset=0.08)
    draw.polygon(shape, fill=rgb + (255,))
    accent = _shade(rgb, 1.6 if sum(rgb) < 300 else 0.6) + (255,)
    if pattern == "stripes":
        for x in range(0, w, w // 10):
            draw.line([(x, 0), (x, h)], fill=accent, width=max(2, w // 40))
    elif pattern == "dots":
        r = w // 40
        for y in range(r * 3, h, w // 10):
            for x in range(r * 3, w, w // 10):
                draw.ellipse([x - r, y - r, x + r, y + r], fill=accent)
    elif pattern == "check":
        for k in range(0, max(w, h), w // 8):
            draw.line([(k, 0), (k, h)], fill=accent, width=max(2, w // 60))
            draw.line([(0, k), (w, k)], fill=accent, width=max(2, w // 60))
    # The pattern is clipped to the outline by the alpha of the outline alone (see _render).
    draw.line([(w * 0.5, h * 0.02), (w * 0.5, h * 0.98)], fill=_shade(rgb, 0.7) + (255,), width=max(2, h // 50))


@lru_cache(maxsize=None)
def template_rgba(style: MaskStyle) -> Image.Image:
    """The template at SUPERSAMPLE x NOMINAL_SIZE, RGBA, transparent outside the mask."""
    w, h = SIZE
    rgb = PALETTES[style.style][style.colour]
    image = Image.new("RGBA", SIZE, (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if style.style == "surgical":
        _draw_surgical(draw, w, h, rgb)
    elif style.style == "n95":
        _draw_n95(draw, w, h, rgb)
    elif style.style == "kn95":
        _draw_kn95(draw, w, h, rgb)
    else:
        _draw_cloth(draw, w, h, rgb, style.pattern)
        outline = Image.new("L", SIZE, 0)
        ImageDraw.Draw(outline).polygon(_outline(w, h, 0.22, 0.28, 0.08), fill=255)
        image.putalpha(outline)
    # A soft vertical light fall-off so the mask reads as a curved surface, not a flat sticker.
    light = np.linspace(1.08, 0.88, h, dtype=np.float32)[:, None, None]
    pixels = np.asarray(image, dtype=np.float32)
    pixels[..., :3] = np.clip(pixels[..., :3] * light, 0, 255)
    return Image.fromarray(pixels.round().astype(np.uint8), "RGBA")


@lru_cache(maxsize=None)
def template_gray_premultiplied(style: MaskStyle) -> np.ndarray:
    """(H, W, 2) float32: luma x alpha and alpha, both in 0..1, ready for warping onto a gray face."""
    rgba = template_rgba(style)
    luma = np.asarray(rgba.convert("RGB").convert("L"), dtype=np.float32) / 255.0
    alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255.0
    return np.ascontiguousarray(np.stack([luma * alpha, alpha], axis=-1))
