"""Photos and folders for tools/predict.py: walk images, classify each (a face crop, or every face of a photo) and
write annotated copies; deploy/report.py prints and saves the rows, deploy/video.py does videos."""
from pathlib import Path

import cv2
from tqdm import tqdm

from basics import is_image_file, written_atomically
from deploy.annotate import draw_faces, draw_label
from deploy.images import MAX_PIXELS, BadImage, photo_warning, read_image_file
from deploy.report import prediction_row


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
            rows += [prediction_row(file, f.prediction, face=i, box=f.box) for i, f in enumerate(found)]
            if annotate_dir:
                _write_image(Path(annotate_dir) / names(file), draw_faces(image, found, too_small=found.too_small))
    elif chunk:
        for (file, image), prediction in zip(chunk, predictor.predict([im for _, im in chunk])):
            rows.append(prediction_row(file, prediction))
            if annotate_dir:
                _write_image(Path(annotate_dir) / names(file), draw_label(image, prediction))
