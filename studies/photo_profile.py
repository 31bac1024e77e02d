"""Where a photo's time goes on the whole prediction path (decode, each pass of the face finder, cropping, each
model's preprocessing and graph), over real photos: `python tools/benchmark.py photos`, docs/benchmarks.md."""
import time
from collections import defaultdict
from pathlib import Path

import numpy as np


def photo_profile(predictor, photos, repeats: int = 2, size: tuple = None) -> dict:
    """{stage: ms per photo} (the fastest of `repeats` passes over all photos, stage by stage), with "whole path"
    the Predictor.predict_faces of the decoded photo as users run it, and the photos' count and median size.
    size: (width, height) to scale every photo to first (JPEG at quality 90), for photos as large as a phone's."""
    from deploy.images import decode_image

    data = [Path(p).read_bytes() for p in photos]
    if size is not None:
        data = [scaled_jpeg(d, size) for d in data]
    images = [decode_image(d) for d in data]
    predictor.predict_faces(images[0])                     # the models loaded and warm
    best = defaultdict(lambda: float("inf"))
    for _ in range(repeats):
        stages = defaultdict(float)
        predictor.time_stages(lambda stage, seconds: stages.__setitem__(stage, stages[stage] + seconds))
        started = time.perf_counter()
        for d in data:
            decode_image(d)
        stages["decode"] = time.perf_counter() - started
        for image in images:
            found = {}
            started = time.perf_counter()
            faces, _ = predictor.finder.find(image, timings=found)
            stages["finder, wall"] += time.perf_counter() - started
            for name, seconds in found.items():
                stages[f"finder: {name}"] += seconds
            started = time.perf_counter()
            predictor.predict_faces(image, faces=faces)
            stages["classify (crops, face status, expression)"] += time.perf_counter() - started
        predictor.time_stages(None)
        stages["of which preprocessing"] = stages.pop("preprocess", 0.0)
        stages["of which graphs"] = stages.pop("graph", 0.0)
        started = time.perf_counter()
        for image in images:
            predictor.predict_faces(image)
        stages["whole path (finder, face status, expression)"] = time.perf_counter() - started
        for stage, seconds in stages.items():
            best[stage] = min(best[stage], 1000 * seconds / len(images))
    sizes = np.array([image.shape[:2] for image in images])
    return {"photos": len(images), "finder_threads": predictor.finder.threads,
            "median_size": [int(np.median(sizes[:, 1])), int(np.median(sizes[:, 0]))],
            "ms_per_photo": {stage: round(ms, 2) for stage, ms in best.items()}}


def profile_table(profile) -> list:
    w, h = profile["median_size"]
    lines = [f"{profile['photos']} photos, median {w}x{h}; ms per photo, the fastest of the passes; the finder ran "
             f"{profile['finder_threads']} of its views at once (each pass's own time is given, so where views "
             "overlap these add up to more than its wall time):", "",
             "| stage | ms per photo |", "|---|---:|"]
    lines += [f"| {stage} | {ms} |" for stage, ms in profile["ms_per_photo"].items()]
    return lines


def scaled_jpeg(data: bytes, size: tuple) -> bytes:
    """A photo's file scaled to size (width, height), as a JPEG of quality 90."""
    import cv2

    from deploy.images import decode_image

    image = decode_image(data)
    grows = size[0] > image.shape[1]
    scaled = cv2.resize(image, tuple(size), interpolation=cv2.INTER_CUBIC if grows else cv2.INTER_AREA)
    return cv2.imencode(".jpg", scaled, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


SIZE_STAGES = ("decode", "finder, wall", "classify (crops, face status, expression)",
               "whole path (finder, face status, expression)")


def sizes_table(profiles) -> list:
    """{(width, height): photo_profile} as one table, a row a size."""
    lines = ["| photo size | " + " | ".join(SIZE_STAGES) + " |", "|---|" + "---:|" * len(SIZE_STAGES)]
    for (width, height), profile in profiles.items():
        ms = profile["ms_per_photo"]
        lines.append(f"| {width} x {height} | " + " | ".join(str(ms.get(stage, "")) for stage in SIZE_STAGES) + " |")
    return lines
