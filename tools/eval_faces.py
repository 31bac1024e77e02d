"""Face finding, mask status and routing, measured: docs/face_finding.md and .json.

    .venv/bin/python tools/eval_faces.py --realmask ../shared/realmask [--masked-data dataset/masked
        --unmasked-data dataset/unmasked] --out docs/face_finding

On ../shared/realmask's photos (the held-out part, studies/realmask.py's split, and all of them) and webcam
photos: masked and unmasked faces found, precision and time per photo for dlib's HOG detector (the previous
prediction path), each BlazeFace model alone, the face finder, and the predictor (the finder, then the
face-status model's no-face check), all in one run; the mask status of the faces found; and, with the two data
folders of `make data`, the routed predictor's accuracy and the finder's round trip on PublicTest faces.

--seed-maskable instead: the masked model on make data's PublicTest faces, all of them and those the seed's masker
(face-mask 0.3.0) can mask too (needs --masked-data and --fer2013); writes OUT_seed_maskable.json.

--real-masks instead: the validation faces of `make data` with the lower half of a real masked face from the tuning
photos, beside the same faces under the drawn masks (studies/real_masks.py); writes OUT_real_masks.json.
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from basics import HelpFormatter, atomic_write_text  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--realmask", help="the realmask folder (boxes.csv, photos/, webcam/); needed but for --framing")
    p.add_argument("--model-dir", default="inference", help="the model folder (with face_status/ and unmasked/)")
    p.add_argument("--masked-data", help="make data's masked folder: routed accuracy and the round trip")
    p.add_argument("--unmasked-data", help="make data's unmasked folder (the same faces)")
    p.add_argument("--out", default="docs/face_finding", help="writes OUT.json and OUT.md")
    p.add_argument("--fer2013", help="FER2013's image folders, for --seed-maskable")
    p.add_argument("--seed-maskable", action="store_true",
                   help="instead: accuracy on PublicTest's masked faces, all and those face-mask 0.3.0 can mask")
    p.add_argument("--real-masks", action="store_true",
                   help="instead: the masked model and the routed predictor on validation faces with real lower "
                        "halves, against drawn masks (needs --masked-data and --unmasked-data)")
    p.add_argument("--thresholds", action="store_true",
                   help="instead: recall and precision for a grid of detection and no-face thresholds on the "
                        "face-status model's validation photos (how the shipped thresholds were chosen)")
    p.add_argument("--framing", action="store_true",
                   help="instead: where the finder's keypoints and box fall in every 5th Training face of "
                        "--unmasked-data (how deploy/faces.py's FER2013_POINTS and FER2013_BOX were measured)")
    args = p.parse_args(argv)
    if args.framing:
        if not args.unmasked_data:
            p.error("--framing needs --unmasked-data (make data's unmasked folder)")
        from deploy.faces import FaceFinder
        from studies.realmask import fer2013_framing
        from studies.round_trip import eval_faces

        faces, _ = eval_faces(args.unmasked_data, every=5, split="train")
        print(json.dumps(fer2013_framing(FaceFinder(), faces)))
        return 0
    if args.seed_maskable:
        if not args.masked_data or not args.fer2013:
            p.error("--seed-maskable needs --masked-data (make data's folder) and --fer2013")
        from deploy.predictor import Predictor
        from studies.peer_face_mask import seed_maskable_report

        report = seed_maskable_report(Predictor(args.model_dir), args.masked_data, args.fer2013)
        atomic_write_text(f"{args.out}_seed_maskable.json", json.dumps(report, indent=1))
        print(json.dumps(report, indent=1))
        return 0
    if not args.realmask:
        p.error("give --realmask (../shared/realmask)")
    if not (Path(args.realmask) / "boxes.csv").is_file():
        p.exit(2, f"error: {args.realmask}/boxes.csv not found: point --realmask at ../shared/realmask\n")
    if bool(args.masked_data) != bool(args.unmasked_data):
        p.error("give both --masked-data and --unmasked-data, or neither")
    from deploy.predictor import Predictor
    from studies.realmask import face_finding_report, report_markdown

    predictor = Predictor(args.model_dir)
    if not predictor.routes:
        p.exit(2, f"error: {args.model_dir} has no face_status/ and unmasked/ models to route with\n")
    if args.real_masks:
        if not args.masked_data:
            p.error("--real-masks needs --masked-data and --unmasked-data (make data's folders)")
        from studies.real_masks import real_masks_report

        report = real_masks_report(predictor, args.realmask, args.masked_data, args.unmasked_data)
        atomic_write_text(f"{args.out}_real_masks.json", json.dumps(report, indent=1))
        print(json.dumps(report, indent=1))
        return 0
    if args.thresholds:
        from deploy.face_status_data import is_validation, read_boxes, split_of
        from studies.realmask import threshold_grid

        boxes = read_boxes(args.realmask)
        images = sorted(i for i in boxes if i.startswith("photos/") and split_of(i) == "tune" and is_validation(i))
        rows = threshold_grid(predictor, args.realmask, images, boxes)
        atomic_write_text(f"{args.out}_thresholds.json", json.dumps({"photos": len(images), "rows": rows}, indent=1))
        print(f"{len(images)} validation photos")
        for row in rows:
            print(row)
        return 0
    report = face_finding_report(args.realmask, predictor, args.masked_data, args.unmasked_data,
                                 progress=lambda line: print(line, file=sys.stderr))
    atomic_write_text(f"{args.out}.json", json.dumps(report, indent=1))
    atomic_write_text(f"{args.out}.md", report_markdown(report))
    print(report_markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
