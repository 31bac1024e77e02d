"""The README's pictures that come from code rather than from a training run: masks on a real, tilted face; the
model in --model-dir on that photo, plain and with our masker's surgical mask (boxes, mask status, labels,
scores); a crowd of that face at many sizes, masked and not, as --annotate draws it (captions placed apart, faces
too small to classify in thin grey boxes); and, with --fer2013, the expression timeline of a
generated video of two real faces that swap expressions. Training curves: tools/plot_curves.py.

    .venv/bin/python tools/make_figures.py --out docs/ [--fer2013 ../shared/fer2013 --model-dir inference]
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


def crowd(photo_bgr, masked_bgr, width=960, sizes=(160, 112, 64, 56)):
    """A crowded picture: the face, head and shoulders, tiled close together in rows of shrinking tiles, every
    other one masked; in the last rows the faces fall under the classifier's minimum."""
    head = lambda image: image[20:300, 120:400]  # noqa: E731  (the astronaut's head and shoulders)
    canvas = np.full((sum(sizes), width, 3), 200, np.uint8)
    y = 0
    for row, size in enumerate(sizes):
        for column in range(width // size):
            tile = head(masked_bgr if (row + column) % 2 else photo_bgr)
            canvas[y:y + size, column * size:(column + 1) * size] = cv2.resize(tile, (size, size),
                                                                               interpolation=cv2.INTER_AREA)
        y += size
    return canvas


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
    p.add_argument("--out", default="docs", help="folder for the pictures")
    p.add_argument("--fer2013", help="FER2013's image folders: also draw the swap video's timeline")
    p.add_argument("--model-dir", default="inference", help="the model the timeline is made with")
    args = p.parse_args(argv)
    import skimage.data

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    photo = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(out / "masks_on_tilted_face.png"), masked_tilts(photo))
    print(out / "masks_on_tilted_face.png")
    from deploy.annotate import draw_faces
    from deploy.predictor import Predictor

    from masker.photo import mask_photo

    predictor = Predictor(args.model_dir)
    drawn, said = [], []
    for name, picture in (("plain", photo), ("our surgical mask", mask_photo(photo, "surgical", "blue"))):
        faces = predictor.predict_faces(picture)
        drawn.append(draw_faces(picture, faces))
        said += [f"{name}: " + "; ".join(f"masked {f.prediction.masked} ({f.prediction.mask_score:.3f}), "
                                         f"{f.prediction.label} {f.prediction.score:.3f}" if predictor.routes
                                         else f"{f.prediction.label} {f.prediction.score:.3f}" for f in faces)]
    cv2.imwrite(str(out / "annotated_photo.jpg"), np.hstack(drawn))
    print(out / "annotated_photo.jpg", " | ".join(said))
    people = crowd(photo, mask_photo(photo, "surgical", "blue"))
    found = predictor.predict_faces(people)
    cv2.imwrite(str(out / "crowd_annotated.jpg"), draw_faces(people, found, too_small=found.too_small))
    print(out / "crowd_annotated.jpg", f"{len(found)} faces classified, {len(found.too_small)} too small")
    if args.fer2013:
        import tempfile

        from deploy.video import predict_video
        from studies.swap_video import make_swap_video, pick_distinct_faces

        picked = pick_distinct_faces(predictor, args.fer2013)
        if not picked:
            print("error: no two faces the model tells apart with confidence", file=sys.stderr)
            return 1
        with tempfile.TemporaryDirectory() as tmp:
            video = make_swap_video(Path(tmp) / "swap_video.avi", picked[0][1], picked[1][1])
            _, summary = predict_video(predictor, str(video), smooth=3, timeline_dir=out, report=lambda line: None)
        (out / "swap_video_timeline.csv").unlink()
        print(summary["timeline_png"], f"({picked[0][0]} and {picked[1][0]} swap at frame 15)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
