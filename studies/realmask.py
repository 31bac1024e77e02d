"""How well faces are found in real photos: ../shared/realmask's boxes against a finder's, and where BlazeFace's
keypoints fall in FER2013 crops (the framing deploy/faces.py copies).

The photos' split into a tuning part and a held-out part, and the matching of found boxes to annotated ones, are
deploy/face_status_data.py's, which builds the face-status model's data from the tuning part.
"""
import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from deploy.face_status_data import MASKED, MATCH_IOU, match, read_boxes, read_photo, split_of

# Annotated faces at least this large (px, the shorter side) are the ones a finder is asked to find.
MIN_SIDE = 32


def is_findable(box) -> bool:
    """An annotated face that recall counts: a side of MIN_SIDE px or more."""
    return min(box[2] - box[0], box[3] - box[1]) >= MIN_SIDE


@dataclass
class FindingScore:
    found: dict = field(default_factory=lambda: defaultdict(int))   # label -> annotated faces >= MIN_SIDE found
    total: dict = field(default_factory=lambda: defaultdict(int))   # label -> annotated faces >= MIN_SIDE
    detections: int = 0
    correct: int = 0            # detections that match an annotated face of any size
    seconds: float = 0.0
    photos: int = 0
    photos_with_masked: int = 0
    photos_with_masked_found: int = 0

    def recall(self, labels) -> float:
        total = sum(self.total[label] for label in labels)
        return sum(self.found[label] for label in labels) / total if total else float("nan")

    def summary(self) -> dict:
        return {"photos": self.photos, "masked_recall": round(self.recall(["with_mask"]), 3),
                "masked_faces": self.total["with_mask"],
                "unmasked_recall": round(self.recall(["without_mask"]), 3),
                "unmasked_faces": self.total["without_mask"],
                "precision": round(self.correct / self.detections, 3) if self.detections else float("nan"),
                "detections": self.detections, "ms_per_photo": round(1000 * self.seconds / max(self.photos, 1), 1),
                "photos_with_a_masked_face_found": (f"{self.photos_with_masked_found}/{self.photos_with_masked}")}


def tally(score: FindingScore, found, annotated) -> dict:
    """Adds one photo's found boxes, against its annotated (label, box) pairs, to score; returns the matches."""
    matches = match(found, [box for _, box in annotated])
    score.photos += 1
    score.detections += len(found)
    score.correct += len(matches)
    for i, (label, box) in enumerate(annotated):
        if is_findable(box):
            score.total[label] += 1
            score.found[label] += i in matches
    masked = [i for i, (label, _) in enumerate(annotated) if label == "with_mask"]
    if masked:
        score.photos_with_masked += 1
        score.photos_with_masked_found += any(i in matches for i in masked)
    return matches


def score_finder(find, realmask: Path, images, boxes: dict, on_photo=None) -> FindingScore:
    """find(bgr image) -> [(l, t, r, b)] run over `images` (paths relative to realmask), timed per photo.
    on_photo(image, bgr, found boxes, annotated, matches) sees each photo (for collecting crops)."""
    score = FindingScore()
    for image in images:
        bgr = read_photo(realmask, image)
        start = time.perf_counter()
        found = find(bgr)
        score.seconds += time.perf_counter() - start
        annotated = boxes.get(image, [])
        matches = tally(score, found, annotated)
        if on_photo:
            on_photo(image, bgr, found, annotated, matches)
    return score


def fer2013_framing(finder, faces, seed: int = 0) -> dict:
    """Where BlazeFace's keypoints and box fall in FER2013 crops: each gray 48 px crop pasted, upscaled, into a
    photo-like canvas as the round trip pastes it (studies/round_trip.py), and found there. Medians over the crops
    found once: each keypoint in fractions of the crop's side, and the crop's centre and side in widths of the
    finder's box, from that box's centre (deploy/faces.py's FER2013_POINTS and FER2013_BOX)."""
    import random

    from studies.round_trip import CANVASES, FACE_SIDES, backgrounds, centred_in, paste

    rng, pool = random.Random(seed), backgrounds()
    points, boxes = [], []
    for face in faces:
        canvas, (left, top, right, bottom) = paste(face, rng.choice(pool), rng.choice(CANVASES),
                                                   rng.choice(FACE_SIDES), rng)
        side = right - left
        hits = centred_in(finder(canvas), (left, top, right, bottom))
        if len(hits) != 1:
            continue
        box = np.array(hits[0].box, float)
        width = box[2] - box[0]
        points.append((hits[0].keypoints - (left, top)) / side)
        boxes.append(((left + right - box[0] - box[2]) / 2 / width, (top + bottom - box[1] - box[3]) / 2 / width,
                      side / width))
    if not points:
        raise ValueError("the finder found none of the faces")
    return {"faces": len(faces), "found": len(points),
            "points": np.round(np.median(points, axis=0), 3).tolist(),
            "box": np.round(np.median(boxes, axis=0), 3).tolist()}


def dlib_boxes(bgr, min_face: int = 24):
    """The prediction path's finder before BlazeFace: dlib's HOG detector, upsampled once, margin 0.3."""
    from masker.faces import detect_faces

    return [b for b in detect_faces(bgr, upsample=1, min_score=0.3) if min(b[2] - b[0], b[3] - b[1]) >= min_face]


def finders(min_face: int = 24) -> dict:
    """{name: find(bgr) -> boxes}: the finders the README's table compares, in one run."""
    from deploy.faces import FULL_RANGE_SCORE, SHORT_RANGE_SCORE, FaceFinder, View, weighted_nms

    def one_model(kind, score):
        def find(bgr):
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            boxes, scores, keypoints = View.square(kind, 0, 0, max(rgb.shape[:2])).detect(rgb, score)
            merged = [tuple(int(round(v)) for v in box) for box, _, _ in weighted_nms(boxes, scores, keypoints)]
            return [b for b in merged if min(b[2] - b[0], b[3] - b[1]) >= min_face]
        return find

    finder = FaceFinder(min_face=min_face)
    return {"dlib HOG (the previous prediction path)": lambda bgr: dlib_boxes(bgr, min_face),
            "BlazeFace short-range alone": one_model("short", SHORT_RANGE_SCORE),
            "BlazeFace full-range alone": one_model("full", FULL_RANGE_SCORE),
            "the face finder (deploy/faces.py)": lambda bgr: [f.box for f in finder(bgr)]}


def mask_status_score(predictor, realmask: Path, images, boxes: dict) -> dict:
    """The predictor's faces in `images` matched to the annotated ones: how often its mask status is right, per
    class (with_mask, without_mask, mask_weared_incorrect) and balanced over the first two; also how many found
    faces it keeps."""
    right, total = defaultdict(int), defaultdict(int)
    kept = 0
    for image in images:
        bgr = cv2.imread(str(Path(realmask) / image), cv2.IMREAD_COLOR)
        annotated = boxes.get(image, [])
        found = predictor.predict_faces(bgr)
        kept += len(found)
        for i, j in match([f.box for f in found], [box for _, box in annotated]).items():
            label = annotated[i][0]
            total[label] += 1
            right[label] += found[j].prediction.masked == (label in MASKED)
    recall = {label: round(right[label] / total[label], 3) for label in total}
    balanced = (recall.get("with_mask", float("nan")) + recall.get("without_mask", float("nan"))) / 2
    return {"faces": dict(total), "right": recall, "balanced_accuracy": round(balanced, 3), "kept": kept}


def routed_accuracy(predictor, masked_data, unmasked_data) -> dict:
    """Accuracy on the PublicTest crops of `make data`'s two folders: the routed predictor, and each expression
    model alone; with the share of faces the face-status model calls masked."""
    from studies.round_trip import eval_faces

    out = {}
    for kind, folder in (("masked", masked_data), ("unmasked", unmasked_data)):
        faces, labels = eval_faces(folder)
        routed = predictor.predict(faces)
        row = {"faces": len(faces), "routed": _accuracy([p.label for p in routed], labels),
               "called_masked": round(float(np.mean([p.masked for p in routed])), 4)}
        for name, model in (("masked_model", predictor.masked_model), ("unmasked_model", predictor.unmasked_model)):
            probs = model.predict_probs(faces)
            row[name] = _accuracy([predictor.labels[i] for i in probs.argmax(1)], labels)
        out[kind] = row
    return out


def _accuracy(predicted, labels) -> float:
    return round(float(np.mean([p == t for p, t in zip(predicted, labels)])), 4)


def face_finding_report(realmask, predictor, masked_data=None, unmasked_data=None, round_trip_every: int = 2,
                        progress=print) -> dict:
    """Everything docs/face_finding.md shows, measured in one run (tools/eval_faces.py)."""
    from deploy.faces import FULL_RANGE_SCORE, SHORT_RANGE_SCORE
    from deploy.predictor import MASKED_FROM, NO_FACE_THRESHOLD
    from studies.round_trip import eval_faces, round_trip

    realmask = Path(realmask)
    boxes = read_boxes(realmask)
    photos = sorted(i for i in boxes if i.startswith("photos/"))
    held_out = [i for i in photos if split_of(i) == "held_out"]
    webcam = sorted(i for i in boxes if i.startswith("webcam/"))
    report = {"started": time.strftime("%Y-%m-%d %H:%M"), "load_average": round(os.getloadavg()[0], 2),
              "cores": os.cpu_count(),
              "photos": {"all": len(photos), "held_out": len(held_out), "webcam": len(webcam)},
              "thresholds": {"short_range": SHORT_RANGE_SCORE, "full_range": FULL_RANGE_SCORE,
                             "no_face": NO_FACE_THRESHOLD, "masked_from": MASKED_FROM}, "finders": {}}
    kept = lambda bgr: [f.box for f in predictor.predict_faces(bgr)]  # noqa: E731
    for name, find in {**finders(), "the predictor (finder, then the face-status check)": kept}.items():
        progress(f"finding faces: {name}")
        report["finders"][name] = {part: score_finder(find, realmask, images, boxes).summary()
                                   for part, images in (("held_out", held_out), ("all", photos), ("webcam", webcam))}
    progress("mask status")
    report["mask_status"] = {part: mask_status_score(predictor, realmask, images, boxes)
                             for part, images in (("held_out", held_out), ("webcam", webcam))}
    if masked_data and unmasked_data:
        progress("expressions on PublicTest crops, routed")
        report["routed_accuracy"] = routed_accuracy(predictor, masked_data, unmasked_data)
        report["round_trip"] = {}
        for kind, folder in (("masked", masked_data), ("unmasked", unmasked_data)):
            progress(f"round trip: {kind} faces")
            faces, labels = eval_faces(folder, every=round_trip_every)
            report["round_trip"][kind] = round_trip(predictor, faces, labels)
    return report


def report_markdown(report: dict) -> str:
    """docs/face_finding.md from face_finding_report's answer."""
    n = report["photos"]
    lines = ["# Face finding, mask status and routing", "",
             "Measured by `tools/eval_faces.py` (see its `--help`). A face counts as found when a box overlaps "
             f"the annotated one by IoU >= {MATCH_IOU}; recall is over annotated faces with a side of "
             f"{MIN_SIDE} px or more; precision is over every box returned, against the annotated faces of any "
             f"size. Held out: {n['held_out']} of the {n['all']} photos of `realmask/photos`, never used to "
             "choose a threshold or train the face-status model; webcam: all "
             f"{n['webcam']} photos of `realmask/webcam`, held out too.", ""]
    t = report["thresholds"]
    lines += [f"The thresholds (detection {t['short_range']} short-range and {t['full_range']} full-range; "
              f"no-face {t['no_face']}, masked from a mask score of {t['masked_from']}) were chosen on the "
              "validation photos of the tuning split, which the face-status model does not train on "
              f"(docs/predictor.md says how). This run started {report['started']}, at a load average of "
              f"{report['load_average']} on {report['cores']} cores. The ms per photo compare "
              "within a table, and only when nothing else ran (a load average well under 1); `make bench` times "
              "the finders side by side (README).", ""]
    for part, title in (("held_out", "held-out photos"), ("all", "all photos"), ("webcam", "webcam photos")):
        lines += [f"## Finders on the {title}", "",
                  "| finder | masked found | unmasked found | precision | ms per photo | photos with a masked face "
                  "found |", "|---|---:|---:|---:|---:|---:|"]
        for name, parts in report["finders"].items():
            s = parts[part]
            lines.append(f"| {name} | {s['masked_recall']:.3f} ({s['masked_faces']}) | {s['unmasked_recall']:.3f} "
                         f"({s['unmasked_faces']}) | {s['precision']:.3f} | {s['ms_per_photo']:.1f} | "
                         f"{s['photos_with_a_masked_face_found']} |")
        lines.append("")
    lines += ["## Mask status of the faces found", "",
              "| photos | with_mask right | without_mask right | balanced accuracy | mask worn wrongly, called masked |",
              "|---|---:|---:|---:|---:|"]
    for part, s in report["mask_status"].items():
        right, faces = s["right"], s["faces"]
        cell = lambda label: (f"{right[label]:.3f} ({faces[label]})" if label in right else "-")  # noqa: E731
        lines.append(f"| {part} | {cell('with_mask')} | {cell('without_mask')} | {s['balanced_accuracy']:.3f} | "
                     f"{cell('mask_weared_incorrect')} |")
    lines.append("")
    if "routed_accuracy" in report:
        lines += ["## Expressions on PublicTest crops (the four classes)", "",
                  "| faces | the routed predictor | masked model alone | unmasked model alone | called masked |",
                  "|---|---:|---:|---:|---:|"]
        for kind, s in report["routed_accuracy"].items():
            lines.append(f"| {kind} ({s['faces']}) | {s['routed']:.3f} | {s['masked_model']:.3f} | "
                         f"{s['unmasked_model']:.3f} | {s['called_masked']:.3f} |")
        lines += ["", "## Round trip: PublicTest faces pasted into photos, found, cropped, classified", "",
                  "| faces | pasted | found | found and called masked | accuracy, original crops | the same, faces found | "
                  "round trip | points lost (standard error) |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for kind, s in report["round_trip"].items():
            called = "-" if s["called_masked_share"] is None else f"{s['called_masked_share']:.3f}"
            lines.append(f"| {kind} | {s['faces']} | {s['found_share']:.3f} | {called} | "
                         f"{s['accuracy_original_crops']:.3f} | {s['accuracy_original_crops_of_found']:.3f} | "
                         f"{s['accuracy_round_trip']:.3f} | "
                         f"{100 * (s['accuracy_original_crops_of_found'] - s['accuracy_round_trip']):.1f} "
                         f"({100 * s['gap_standard_error']:.1f}) |")
        lines.append("")
    return "\n".join(lines)


def findable(faces) -> list:
    return [(label, box) for label, box in faces if is_findable(box)]


def crowd_photo(boxes) -> str:
    """The photo with the most faces large enough to be found: the crowd of the faces-per-second figure (the one
    with the most annotated faces had only faces too small for any finder, and so measured 0 faces/s)."""
    return max((i for i in boxes if i.startswith("photos/")), key=lambda i: (len(findable(boxes[i])), i))


def finding_speed(realmask, predictor=None, every: int = 3, repeats: int = 3) -> list:
    """Rows for `make bench`: ms per photo of dlib's path and the face finder on every `every`-th photo of
    realmask/photos (the same photos, alternating, the fastest of `repeats` runs), and faces found per second on
    the photo with the most annotated faces (with the predictor's whole path too, when given)."""
    realmask = Path(realmask)
    boxes = read_boxes(realmask)
    photos = sorted(i for i in boxes if i.startswith("photos/"))[::every]
    images = [cv2.imread(str(realmask / p), cv2.IMREAD_COLOR) for p in photos]
    crowd = crowd_photo(boxes)
    crowd_image = cv2.imread(str(realmask / crowd), cv2.IMREAD_COLOR)
    runs = {name: find for name, find in finders().items() if "alone" not in name}
    if predictor is not None:
        runs["the predictor's whole path (finder, face status, expression)"] = predictor.predict_faces
    fastest = {name: float("inf") for name in runs}
    crowd_rate = {}
    for _ in range(repeats):
        for name, find in runs.items():
            start = time.perf_counter()
            for image in images:
                find(image)
            fastest[name] = min(fastest[name], (time.perf_counter() - start) / len(images))
            start = time.perf_counter()
            found = len(find(crowd_image))
            crowd_rate[name] = max(crowd_rate.get(name, 0.0), found / (time.perf_counter() - start))
    h, w = crowd_image.shape[:2]
    rows = [f"| finder | ms per photo ({len(images)} photos) | faces per second, {Path(crowd).name} ({w}x{h}, "
            f"{len(findable(boxes[crowd]))} annotated faces of {MIN_SIDE} px or more) |", "|---|---:|---:|"]
    rows += [f"| {name} | {1000 * fastest[name]:.1f} | {crowd_rate[name]:.0f} |" for name in runs]
    return rows


def threshold_grid(predictor, realmask, images, boxes, detection_scores=(0.5, 0.4, 0.35, 0.3, 0.25, 0.2),
                   no_face_thresholds=(0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.01)) -> list:
    """Masked and unmasked recall and precision on `images` for each pair of the finder's detection score (both
    models) and the face-status model's no-face threshold: the data the shipped thresholds were chosen on."""
    from deploy.faces import FaceFinder, status_crop

    realmask = Path(realmask)
    photos = [(image, cv2.imread(str(realmask / image), cv2.IMREAD_COLOR)) for image in images]
    rows = []
    for detection in detection_scores:
        finder = FaceFinder(short_range_score=detection, full_range_score=detection)
        found = []
        for image, bgr in photos:
            faces = finder(bgr)
            crops = [cv2.cvtColor(status_crop(bgr, f), cv2.COLOR_BGR2GRAY) for f in faces]
            no_face = predictor.face_status(crops)[:, 0] if crops else np.zeros(0)
            found.append((image, faces, no_face))
        for threshold in no_face_thresholds:
            score = FindingScore()
            for image, faces, no_face in found:
                tally(score, [f.box for f, p in zip(faces, no_face) if p < threshold], boxes.get(image, []))
            summary = score.summary()
            rows.append({"detection_score": detection, "no_face_threshold": threshold,
                         **{k: summary[k] for k in ("masked_recall", "unmasked_recall", "precision", "detections")}})
    return rows
