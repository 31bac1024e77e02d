"""Videos and webcams: faces found and classified frame by frame, followed by deploy/tracking.py's tracker,
written as an annotated video and a timeline (deploy/timeline.py).

The face finder's full search (every pass over the whole frame) runs every DETECT_EVERY frames; in
between, each face is followed in a window around its last box with one short-range pass (FaceFinder.follow), and
the search runs at once when a face is lost. A face that enters is found at the next full search. The faces of a
frame are classified in one batch. realtime: drop frames rather than fall behind the video's clock or the camera.
"""
import os
import queue
import threading
import time
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from deploy.annotate import draw_faces
from deploy.faces import distinct
from deploy.report import prediction_row
from deploy.tracking import IouTracker


# Frames between two full searches for faces (a face that enters is found within this many).
DETECT_EVERY = 5


def faces_in_frame(predictor, frame, earlier=None, search=True, **face_options) -> tuple:
    """(the frame's FoundFaces, whether the finder searched the whole frame): `earlier` (the last frame's
    FoundFaces) followed, unless search is asked for or a face was lost. A followed face keeps its mask status
    (the face-status model runs at each search): a mask does not come or go between two frames."""
    if not search and earlier is not None:
        followed = predictor.finder.follow(frame, [face.face for face in earlier])
        if None not in followed:
            kept = distinct(followed)
            status = np.array([[0.0, earlier[i].prediction.mask_score] for i in kept]).reshape(-1, 2) \
                if predictor.routes else None
            return predictor.predict_faces(frame, faces=[followed[i] for i in kept], status=status,
                                           **face_options), False
    return predictor.predict_faces(frame, **face_options), True


class LatestFrame:
    """A camera read on its own thread, so that a slow consumer gets the newest frame and the ones it had no time
    for are dropped (counted in `dropped`), not queued."""

    def __init__(self, capture):
        self.capture, self.frame, self.index, self.taken, self.dropped = capture, None, -1, -1, 0
        self.done, self.changed = False, threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while not self.done:
            ok, frame = self.capture.read()
            with self.changed:
                if not ok:
                    self.done = True
                else:
                    self.frame, self.index = frame, self.index + 1
                self.changed.notify_all()

    def read(self) -> tuple:
        """(ok, the newest frame not yet taken, its index), waiting for one."""
        with self.changed:
            self.changed.wait_for(lambda: self.index > self.taken or self.done)
            if self.index <= self.taken:
                return False, None, self.index
            self.dropped += self.index - self.taken - 1
            self.taken = self.index
            return True, self.frame, self.index

    def stop(self):
        self.done = True
        self.thread.join(timeout=2)


class PrefetchedFrames:
    """A video file's frames in order, decoded on their own thread a few frames ahead, so that decoding the next
    frame overlaps the work on this one (on a second core)."""

    AHEAD = 4

    def __init__(self, capture):
        self.capture, self.dropped, self.done = capture, 0, False
        self.queue = queue.Queue(maxsize=self.AHEAD)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        index = 0
        while not self.done:
            ok, frame = self.capture.read()
            self.queue.put((ok, frame, index))
            if not ok:
                return
            index += 1

    def read(self) -> tuple:
        """(ok, frame, its index in the file)."""
        return self.queue.get()

    def stop(self):
        self.done = True
        while self.thread.is_alive():          # unblock a reader waiting for room in the queue
            try:
                self.queue.get(timeout=0.1)
            except queue.Empty:
                pass
        self.thread.join()


class PacedFrames:
    """A video file read on its own clock (fps_in): the frames whose time has passed by the time one is asked for
    are skipped (counted in `dropped`), as a camera would have moved on."""

    def __init__(self, capture, fps_in):
        self.capture, self.fps_in, self.next, self.dropped, self.started = capture, fps_in, 0, 0, None

    def read(self) -> tuple:
        """(ok, frame, its index in the file)."""
        self.started = self.started or time.perf_counter()
        due = int((time.perf_counter() - self.started) * self.fps_in)
        while self.next < due and self.capture.grab():
            self.next, self.dropped = self.next + 1, self.dropped + 1
        ok, frame = self.capture.read()
        self.next += 1
        return ok, frame, self.next - 1

    def stop(self):
        pass


def predict_video(predictor, source, annotate_dir=None, max_frames=None, show=False, report=print,
                  smooth=1, timeline_dir=None, progress=True, detect_every=DETECT_EVERY, realtime=False,
                  **face_options):
    """Faces classified frame by frame in a video file or a camera (int index), each followed by an IoU tracker
    so that it keeps one id (deploy/tracking.py); rows carry frame, time, track and every class's score, averaged
    over the track's last `smooth` frames. timeline_dir: write <name>_timeline.csv and .png there. detect_every:
    frames between the finder's full searches (1: every frame). realtime: skip the frames there was no time for
    (the summary counts them); max_frames then counts the frames read, skipped ones too."""
    if detect_every < 1:
        raise ValueError(f"detect_every must be at least 1 frame, got {detect_every}")
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        raise FileNotFoundError(f"cannot open video source {source!r}: check the file path or camera index")
    fps_in = capture.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    if max_frames is not None and total:
        total = min(total, max_frames)
    name = f"camera{source}" if isinstance(source, int) else Path(source).stem
    tracker = IouTracker(smooth=smooth)
    frames = (LatestFrame(capture) if isinstance(source, int) else PacedFrames(capture, fps_in)) if realtime else \
        PrefetchedFrames(capture)
    bar = tqdm(total=total, unit="frame", desc=name, disable=None if progress else True, leave=False)
    writer, partial, final = None, None, None
    rows, frame_index, processed, fps, started = [], 0, 0, 0.0, time.perf_counter()
    found, since_search, searches = None, 0, 0
    try:
        while True:
            ok, frame, frame_index = frames.read()
            if not ok or (max_frames is not None and frame_index >= max_frames):
                break
            tick = time.perf_counter()
            found, searched = faces_in_frame(predictor, frame, found, since_search + 1 >= detect_every,
                                             **face_options)
            since_search = 0 if searched else since_search + 1
            searches += searched
            # Exponential average: steady on screen, yet follows changes within a second or so.
            instant = 1.0 / max(time.perf_counter() - tick, 1e-6)
            fps = instant if frame_index == 0 else 0.9 * fps + 0.1 * instant
            t = frame_index / fps_in
            tracked = tracker.update([f.box for f in found], [f.prediction.probs for f in found])
            for i, (f, (track, scores)) in enumerate(zip(found, tracked)):
                f.prediction = predictor.prediction_of(scores, f.prediction.mask_score)
                rows.append(prediction_row(f"{source}", f.prediction, face=i, box=f.box, frame=frame_index, time=round(t, 3),
                                 track=track, scores=[round(float(s), 6) for s in scores]))
            bar.update(frame_index + 1 - bar.n)
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
            processed += 1
    except KeyboardInterrupt:  # the usual way to stop a camera: keep what was seen
        report(f"interrupted after {processed} frames")
    finally:
        frames.stop()
        bar.close()
        capture.release()
        if writer is not None:
            writer.release()
            os.replace(partial, final)
        if show:
            cv2.destroyAllWindows()
    if processed == 0 and not isinstance(source, int):
        # OpenCV "opens" some files that are no video (an image-sequence reader) and then yields nothing.
        raise FileNotFoundError(f"cannot open video {source!r}: no frame could be read (not a video file?)")
    elapsed = time.perf_counter() - started
    summary = {"frames": processed, "dropped": frames.dropped, "searches": searches, "faces": len(rows),
               "fps": processed / elapsed if elapsed else 0.0,
               "tracks": len({r["track"] for r in rows}), "annotated": str(final) if final else None}
    if timeline_dir and rows:
        from deploy.timeline import plot_timeline, write_timeline_csv
        summary["timeline_csv"] = str(Path(timeline_dir) / f"{name}_timeline.csv")
        summary["timeline_png"] = str(Path(timeline_dir) / f"{name}_timeline.png")
        write_timeline_csv(summary["timeline_csv"], rows, predictor.labels)
        plot_timeline(summary["timeline_png"], rows, predictor.labels, title=f"{name}: expressions over time")
    dropped = f" ({frames.dropped} skipped to keep up)" if realtime else ""
    report(f"{processed} frames{dropped}, {len(rows)} faces in {summary['tracks']} tracks, {summary['fps']:.1f} FPS")
    return rows, summary
