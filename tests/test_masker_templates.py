"""Drawn mask templates: every style and colour renders, choices are seeded, output bytes reproducible."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from masker.templates import (CLOTH_PATTERNS, PALETTES, SIZE, STYLES, MaskStyle, choose_style, parse_styles,
                              template_gray_premultiplied, template_rgba)

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("style", STYLES)
def test_every_colour_of_every_style_draws_an_opaque_mask_with_detail(style):
    for colour in PALETTES[style]:
        for pattern in CLOTH_PATTERNS if style == "cloth" else ("plain",):
            rgba = np.asarray(template_rgba(MaskStyle(style, colour, pattern)))
            assert rgba.shape == (SIZE[1], SIZE[0], 4)
            alpha = rgba[..., 3]
            assert 0.55 < (alpha == 255).mean() < 0.98, "the mask fills most of its box but not its corners"
            assert alpha[SIZE[1] // 2, SIZE[0] // 2] == 255
            inside = rgba[..., :3][alpha == 255]
            assert inside.std() > 2, "pleats, seams, valves or pattern give the mask some texture"


def test_styles_look_different_from_each_other():
    lumas = {s: template_gray_premultiplied(MaskStyle(s, "white"))[..., 0] for s in STYLES}
    for a in STYLES:
        for b in STYLES:
            if a < b:
                assert np.abs(lumas[a] - lumas[b]).mean() > 0.02, (a, b)


def test_choice_is_a_function_of_the_generator_and_covers_all_styles():
    first = [choose_style(np.random.default_rng([0, i])) for i in range(200)]
    again = [choose_style(np.random.default_rng([0, i])) for i in range(200)]
    assert first == again
    assert {s.style for s in first} == set(STYLES)
    assert len({(s.style, s.colour) for s in first}) > 20
    only = {choose_style(np.random.default_rng(i), ("n95",)).style for i in range(20)}
    assert only == {"n95"}


def test_unknown_style_names_list_the_valid_ones():
    assert parse_styles("surgical, N95") == ("surgical", "n95")
    with pytest.raises(ValueError, match="'bandana'.*surgical, n95, kn95, cloth"):
        parse_styles("surgical,bandana")


def test_masked_face_bytes_are_identical_across_processes():
    """Same seed, same face -> the same JPEG bytes, even in a fresh interpreter."""
    script = (
        "import sys, hashlib, numpy as np, cv2; sys.path.insert(0, %r)\n"
        "from masker.dataset import mask_face\n"
        "from masker.synthetic import synthetic_face\n"
        "out = []\n"
        "for i in range(12):\n"
        "    face = synthetic_face('surprise', np.random.default_rng([1, i]))\n"
        "    image, style = mask_face(face, np.random.default_rng([0, i]))\n"
        "    out.append(cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes())\n"
        "print(hashlib.sha256(b''.join(out)).hexdigest())\n" % str(ROOT))
    digests = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
               for _ in range(2)}
    assert len(digests) == 1 and len(digests.pop().strip()) == 64
