"""Videos and webcams: faces found and classified frame by frame, followed by deploy/tracking.py's tracker,
written as an annotated video and a timeline (deploy/timeline.py)."""
import os
import time
from pathlib import Path

import cv2
from tqdm import tqdm

from deploy.annotate import draw_faces
from deploy.report import prediction_row
from deploy.tracking import IouTracker


def predict_video(predictor, source, annotate_dir=None, max_frames=None, show=False, report=print,
                  smooth=1, timeline_dir=None, progress=True, **face_options):
    """Faces classified frame by frame in a video file or a camera (int index), each followed by an IoU tracker
    so that it keeps one id (deploy/tracking.py); rows carry frame, time, track and every class's score, averaged
    over the track's last `smooth` frames. timeline_dir: write <name>_timeline.csv and .png there."""
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
                rows.append(prediction_row(f"{source}", f.prediction, face=i, box=f.box, frame=frame_index, time=round(t, 3),
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
