"""Video frames per second through the whole path (face finder, face status, expression; deploy/video.py), at
480p, 720p and 1080p with 1, 3 and 6 faces, on one core and on two (`python tools/benchmark.py video`)."""
import tempfile
import time
from pathlib import Path

RESOLUTIONS = {"480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080)}


def clip(path: Path, width: int, height: int, faces: int, frames: int = 60, fps: int = 25) -> Path:
    """A clip of `faces` copies of scikit-image's astronaut (every other one wearing our mask), up to three in a row,
    as large as the frame leaves room for (the face is a fifth of its tile), drifting a pixel a frame."""
    import cv2
    import numpy as np
    from skimage import data

    from masker.photo import mask_photo

    astronaut = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    per_row, rows = min(faces, 3), -(-faces // 3)
    side = min((height - 40) // rows - 20, (width - 40) // per_row - 20)
    tiles = [cv2.resize(mask_photo(astronaut) if i % 2 else astronaut, (side, side)) for i in range(faces)]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    for frame in range(frames):
        canvas = np.full((height, width, 3), 90, np.uint8)
        for i, tile in enumerate(tiles):
            left = 10 + (i % per_row) * (side + 20) + frame % 10
            top = 20 + (i // per_row) * (side + 20)
            canvas[top:top + side, left:left + side] = tile
        writer.write(canvas)
    writer.release()
    return path


def video_fps(model_dir, resolutions=tuple(RESOLUTIONS), faces=(1, 3, 6), cores=(1, 2), frames: int = 60,
              repeats: int = 2, precision: str = None) -> list:
    """Rows of (resolution, faces, cores, frames/s, faces found per frame): each clip `repeats` times, the
    fastest kept, after one warm-up run on the first; cores is the backends' and the face finder's thread count
    (frames are decoded on a thread of their own in every case); precision: the paddle backend's (its default: None)."""
    from deploy.backends import precision_option
    from deploy.faces import FaceFinder
    from deploy.predictor import Predictor
    from deploy.video import predict_video

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clips = {(r, n): clip(Path(tmp) / f"{r}_{n}.avi", *RESOLUTIONS[r], n, frames) for r in resolutions
                 for n in faces}
        for threads in cores:
            predictor = Predictor(model_dir, cpu_threads=threads, finder=FaceFinder(threads=threads),
                                  **precision_option(precision))
            predict_video(predictor, str(next(iter(clips.values()))), max_frames=10, report=lambda line: None,
                          progress=False)
            for (resolution, count), path in clips.items():
                wall = float("inf")
                for _ in range(repeats):
                    started = time.perf_counter()
                    video_rows, summary = predict_video(predictor, str(path), report=lambda line: None,
                                                        progress=False)
                    wall = min(wall, time.perf_counter() - started)
                rows.append({"resolution": resolution, "faces": count, "cores": threads,
                             "fps": round(summary["frames"] / wall, 1),
                             "found_per_frame": round(len(video_rows) / max(summary["frames"], 1), 2),
                             "searches": summary["searches"], "frames": summary["frames"]})
    return rows


def video_table(rows) -> list:
    lines = ["| resolution | faces | cores | frames/s | faces found a frame | full searches |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['resolution']} | {r['faces']} | {r['cores']} | {r['fps']} | {r['found_per_frame']} | "
              f"{r['searches']} of {r['frames']} |" for r in rows]
    return lines
