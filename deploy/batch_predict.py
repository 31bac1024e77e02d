"""What tools/predict.py does: walk images, classify (whole images or each face), print and save the results."""
import csv
import json
import os
import time
from pathlib import Path

import cv2
from tqdm import tqdm

from basics import atomic_write_text, is_image_file, written_atomically
from deploy.annotate import draw_faces, draw_label
from deploy.images import MAX_PIXELS, BadImage, photo_warning, read_image_file



def collect_images(paths):
    """(image files, errors): directories are walked recursively for image suffixes; a missing path is an error."""
    files, errors = [], []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and is_image_file(p))
            if not found:
                errors.append({"file": str(path), "error": "no images found in this folder"})
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            errors.append({"file": str(path), "error": "no such file or directory"})
    return files, errors


def read_image(path: Path, max_pixels: int = MAX_PIXELS):
    """(BGR uint8 image, None), or (None, why it was refused): the server's decoder, so that the same bytes get
    the same answer from both."""
    try:
        return read_image_file(path, max_pixels), None
    except BadImage as err:
        return None, err.message
    except OSError as err:
        return None, f"cannot be read ({err.strerror or err})"


class UniqueNames:
    """Output file names for annotated copies; two inputs with the same name do not overwrite each other."""

    def __init__(self):
        self.used = set()

    def __call__(self, path: Path, suffix: str = None) -> str:
        stem, suffix = path.stem, suffix or path.suffix
        name, n = f"{stem}{suffix}", 1
        while name in self.used:
            name, n = f"{stem}_{n}{suffix}", n + 1
        self.used.add(name)
        return name


def _write_image(path: Path, image):
    # Temp then rename: an interrupted run leaves no half-written picture.
    ok, data = cv2.imencode(path.suffix if is_image_file(path) else ".png", image)
    if not ok:
        raise OSError(f"cannot encode an image for {path}")
    with written_atomically(path) as tmp:
        data.tofile(str(tmp))


def _row(file, prediction, face=None, box=None, **extra):
    return {"file": str(file), "face": face, "box": list(box) if box else None, **extra, **prediction.to_dict()}


def predict_images(predictor, files, faces=False, annotate_dir=None, progress=True, warn=None, max_pixels=MAX_PIXELS,
                   **face_options):
    """Rows (one per image, or one per face with faces=True) and error rows for unreadable files and for images of
    more than max_pixels.

    face_options go to Predictor.predict_faces (min_face); warn(text) hears
    of images that look like whole photos when faces=False."""
    rows, errors = [], []
    names = UniqueNames()
    if annotate_dir:
        Path(annotate_dir).mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(files), unit="img", disable=None if progress else True, leave=False)
    step = 1 if faces else predictor.batch_size
    done = 0
    try:
        for start in range(0, len(files), step):
            chunk = [(f, *read_image(f, max_pixels)) for f in files[start:start + step]]
            errors += [{"file": str(f), "error": why} for f, im, why in chunk if im is None]
            chunk = [(f, im) for f, im, _ in chunk if im is not None]
            if not faces and warn:
                for f, im in chunk:
                    why = photo_warning(im, "--faces")
                    if why:
                        warn(f"warning: {f}: {why}")
            _classify(predictor, chunk, faces, annotate_dir, names, rows, errors, face_options)
            done = start + len(chunk)
            bar.update(len(chunk))
    except KeyboardInterrupt:
        # Ctrl-C keeps what is done: the caller still prints and writes it.
        errors.append({"file": str(files[done]), "error": f"interrupted: this and {len(files) - done - 1} more "
                                                          f"files were not classified"})
    finally:
        bar.close()
    return rows, errors


def _classify(predictor, chunk, faces, annotate_dir, names, rows, errors, face_options):
    if faces:
        for file, image in chunk:
            found = predictor.predict_faces(image, **face_options)
            if not found:
                errors.append({"file": str(file), "error": found.explanation() or "no face found"})
            rows += [_row(file, f.prediction, face=i, box=f.box) for i, f in enumerate(found)]
            if annotate_dir:
                _write_image(Path(annotate_dir) / names(file), draw_faces(image, found, too_small=found.too_small))
    elif chunk:
        for (file, image), prediction in zip(chunk, predictor.predict([im for _, im in chunk])):
            rows.append(_row(file, prediction))
            if annotate_dir:
                _write_image(Path(annotate_dir) / names(file), draw_label(image, prediction))


def predict_video(predictor, source, annotate_dir=None, max_frames=None, show=False, report=print,
                  smooth=1, timeline_dir=None, progress=True, **face_options):
    """Faces classified frame by frame in a video file or a camera (int index), each followed by an IoU tracker
    so that it keeps one id (deploy/tracking.py); rows carry frame, time, track and every class's score, averaged
    over the track's last `smooth` frames. timeline_dir: write <name>_timeline.csv and .png there."""
    from deploy.tracking import IouTracker

    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        raise FileNotFoundError(f"cannot open video source {source!r}: check the file path or camera index")
    fps_in = capture.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    if max_frames is not None and total:
        total = min(total, max_frames)
    name = f"camera{source}" if isinstance(source, int) else Path(source).stem
    tracker = IouTracker(smooth=smooth)
    bar = tqdm(total=total, unit="frame", desc=name, disable=None if progress else True, leave=False)
    writer, partial, final = None, None, None
    rows, frame_index, fps, started = [], 0, 0.0, time.perf_counter()
    try:
        while max_frames is None or frame_index < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            tick = time.perf_counter()
            found = predictor.predict_faces(frame, **face_options)
            # Exponential average: steady on screen, yet follows changes within a second or so.
            instant = 1.0 / max(time.perf_counter() - tick, 1e-6)
            fps = instant if frame_index == 0 else 0.9 * fps + 0.1 * instant
            t = frame_index / fps_in
            tracked = tracker.update([f.box for f in found], [f.prediction.probs for f in found])
            for i, (f, (track, scores)) in enumerate(zip(found, tracked)):
                f.prediction = predictor.prediction_of(scores, f.prediction.mask_score)
                rows.append(_row(f"{source}", f.prediction, face=i, box=f.box, frame=frame_index, time=round(t, 3),
                                 track=track, scores=[round(float(s), 6) for s in scores]))
            bar.update()
            bar.set_postfix(fps=f"{fps:.1f}", faces=len(found))
            if annotate_dir or show:
                drawn = draw_faces(frame, found, fps=fps)
            if annotate_dir:
                if writer is None:
                    Path(annotate_dir).mkdir(parents=True, exist_ok=True)
                    final = Path(annotate_dir) / f"{name}_annotated.mp4"
                    partial = final.with_name(final.stem + ".partial.mp4")
                    writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*"mp4v"), fps_in,
                                             (frame.shape[1], frame.shape[0]))
                writer.write(drawn)
            if show:
                cv2.imshow("expressions (q quits)", drawn)
                if cv2.waitKey(1) & 0xFF == ord("q"):
                    break
            frame_index += 1
    except KeyboardInterrupt:  # the usual way to stop a camera: keep what was seen
        report(f"interrupted after {frame_index} frames")
    finally:
        bar.close()
        capture.release()
        if writer is not None:
            writer.release()
            os.replace(partial, final)
        if show:
            cv2.destroyAllWindows()
    if frame_index == 0 and not isinstance(source, int):
        # OpenCV "opens" some files that are no video (an image-sequence reader) and then yields nothing.
        raise FileNotFoundError(f"cannot open video {source!r}: no frame could be read (not a video file?)")
    elapsed = time.perf_counter() - started
    summary = {"frames": frame_index, "faces": len(rows), "fps": frame_index / elapsed if elapsed else 0.0,
               "tracks": len({r["track"] for r in rows}), "annotated": str(final) if final else None}
    if timeline_dir and rows:
        from deploy.timeline import plot_timeline, write_timeline_csv
        summary["timeline_csv"] = str(Path(timeline_dir) / f"{name}_timeline.csv")
        summary["timeline_png"] = str(Path(timeline_dir) / f"{name}_timeline.png")
        write_timeline_csv(summary["timeline_csv"], rows, predictor.labels)
        plot_timeline(summary["timeline_png"], rows, predictor.labels, title=f"{name}: expressions over time")
    report(f"{frame_index} frames, {len(rows)} faces in {summary['tracks']} tracks, {summary['fps']:.1f} FPS")
    return rows, summary


def format_table(rows, errors=()) -> str:
    """The terminal table: file (face), label, score, then the rest of the top-k."""
    lines = []
    width = max([len(Path(r["file"]).name) + 4 for r in rows] + [len(e["file"]) for e in errors] + [4])
    lines.append(f"{'file':<{width}}  {'label':<10} {'score':>6}  top-k")
    for r in rows:
        name = Path(r["file"]).name + (f" #{r['face']}" if r["face"] is not None else "")
        if "frame" in r:
            name = f"frame {r['frame']} #{r['face']}"
        rest = "  ".join(f"{label} {score:.3f}" for label, score in r["topk"][1:])
        mask = "" if r.get("masked") is None else \
            f"  [{'masked' if r['masked'] else 'unmasked'} {r['mask_score']:.2f}, {r['expression_model']} model]"
        lines.append(f"{name:<{width}}  {r['label']:<10} {r['score']:6.3f}  {rest}{mask}")
    lines += [f"{e['file']:<{width}}  ERROR: {e['error']}" for e in errors]
    return "\n".join(lines)


def write_csv(path, rows, topk: int):
    """One row per prediction: file, face, frame, box, masked, mask_score and expression_model (the model that
    answered: masked or unmasked; empty without a face-status model), label, score, then top{k}_label/top{k}_score."""
    columns = ["file", "face", "frame", "left", "top", "right", "bottom", "masked", "mask_score", "expression_model",
               "label", "score"]
    columns += [f"top{k}_{what}" for k in range(1, topk + 1) for what in ("label", "score")]
    with written_atomically(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        for r in rows:
            out = {"file": r["file"], "face": r["face"], "frame": r.get("frame"), "label": r["label"],
                   "score": f"{r['score']:.6f}"}
            if r.get("masked") is not None:
                out["masked"], out["mask_score"] = int(r["masked"]), f"{r['mask_score']:.6f}"
                out["expression_model"] = r["expression_model"]
            if r["box"]:
                out.update(zip(("left", "top", "right", "bottom"), r["box"]))
            for k, (label, score) in enumerate(r["topk"], 1):
                out[f"top{k}_label"], out[f"top{k}_score"] = label, f"{score:.6f}"
            writer.writerow(out)


def write_json(path, rows, errors=(), **meta):
    atomic_write_text(path, json.dumps({**meta, "predictions": rows, "errors": list(errors)}, indent=1))
