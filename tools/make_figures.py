"""The README's pictures that come from code rather than from a run: masks on a real, tilted face, and the
generated demo faces. (Training curves: tools/plot_curves.py; confusion matrices: tools/eval.py.)

    python tools/make_figures.py --out docs/
"""
import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from basics import HelpFormatter  # noqa: E402
from masker.dataset import mask_face  # noqa: E402
from masker.faces import crop_face, detect_faces  # noqa: E402

TILTS = (-20, -10, 0, 10, 20)


def masked_tilts(photo_bgr, seed=0, scale=3):
    """One row per mask draw: the face turned by each of TILTS degrees, cropped like FER2013, then masked."""
    box = detect_faces(photo_bgr)[0]
    centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    rows = []
    for draw in range(3):
        tiles = []
        for angle in TILTS:
            turned = cv2.warpAffine(photo_bgr, cv2.getRotationMatrix2D(centre, angle, 1.0), photo_bgr.shape[1::-1],
                                    borderMode=cv2.BORDER_REFLECT)
            face = crop_face(turned, box, size=48)
            masked, _ = mask_face(face, np.random.default_rng([seed, draw, angle + 90]))
            tiles.append(cv2.resize(masked, (48 * scale, 48 * scale), interpolation=cv2.INTER_NEAREST))
        rows.append(np.hstack(tiles))
    return np.vstack(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--out", default="docs")
    args = p.parse_args(argv)
    import skimage.data

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    photo = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(out / "masks_on_tilted_face.png"), masked_tilts(photo))
    print(out / "masks_on_tilted_face.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
