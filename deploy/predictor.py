"""One predictor for the CLI, the HTTP server and the benchmarks: images in, labelled probabilities out."""
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from basics import head_columns
from deploy.backends import cpu_threads_or_all, create_backend
from deploy.faces import MIN_FACE, Face, FaceFinder, crop, status_crop
from deploy.images import as_bgr
from deploy.preprocess import Preprocess, read_inference_config
from engine.config import ConfigError


# Sub-folders of a model folder whose models make a Predictor answer each face with the model that fits it:
# the face-status model (masked / unmasked / no_face) and the expression model for unmasked faces. The folder's own
# model is the one for masked faces (and the one FastDeploy's PaddleClasModel and the phone load).
UNMASKED_MODEL, FACE_STATUS_MODEL = "unmasked", "face_status"
# A sub-folder (or the folder itself) whose one graph answers all three with heads of one backbone (inference.yml's
# Heads, configs/fused/): where present, it routes in one forward pass a face instead of the three models.
FUSED_MODEL = "fused"
ROUTING_HEADS = ("face_status", "masked", "unmasked")
# A found face whose face-status model says no_face with at least this probability is dropped; chosen on the
# face-status model's validation photos, the one value of 0.6-0.9 that kept both masked recall and precision at
# 0.90 or more there (0.904 at 0.907; docs/predictor.md).
NO_FACE_THRESHOLD = 0.9
# A face is called masked from this mask score on (Prediction.mask_score). The face-status model learns from more
# masked faces than unmasked ones; on its validation photos 0.6 gave a balanced mask-status accuracy of 0.970,
# against 0.944 at 0.5 (117 masked and 23 unmasked faces; docs/predictor.md).
MASKED_FROM = 0.6
# A face found in a photo whose fused graph (one pass on its expression crop) gives P(no_face) under this is taken
# as a face with that pass's mask status; the others are checked by the face-status graph (four passes). On the
# 79 validation photos the graph then ran on 112 of 168 found faces, and masked and unmasked recall, precision and
# mask status were the graph's alone at 0.01-0.2 (0.904, 0.933, 0.923, 0.973); at 0.3 mask status fell to 0.950,
# and with the fused pass's answers alone precision to 0.899 and mask status to 0.933 (docs/predictor.md).
FUSED_SURE_FACE = 0.1


def _gray(crops) -> list:
    """BGR face crops as the gray images the models take."""
    return [cv2.cvtColor(c, cv2.COLOR_BGR2GRAY) for c in crops]


@dataclass
class Prediction:
    label: str
    score: float
    topk: list = field(default_factory=list)  # [(label, score)], best first
    probs: list = field(default_factory=list, repr=False)  # every class's probability, in label order
    masked: bool = None      # the face-status model's call; None where the model folder has no such model
    mask_score: float = None  # its probability that the face wears a mask, P(masked) / (P(masked) + P(unmasked))

    @property
    def expression_model(self):
        """Which expression model answered: 'masked' or 'unmasked' (None where there was no choice to make)."""
        return None if self.masked is None else ("masked" if self.masked else "unmasked")

    def to_dict(self) -> dict:
        status = {} if self.masked is None else {"masked": self.masked, "mask_score": self.mask_score,
                                                 "expression_model": self.expression_model}
        return {"label": self.label, "score": self.score, "topk": [[l, s] for l, s in self.topk], **status}


@dataclass
class FacePrediction:
    box: tuple  # (left, top, right, bottom) in the photo's pixels
    prediction: Prediction
    face: Face = field(default=None, repr=False)  # the finder's Face (keypoints too), which a video follows

    def to_dict(self) -> dict:
        return {"box": list(self.box), **self.prediction.to_dict()}


class FoundFaces(list):
    """The FacePredictions of a photo, largest first, and too_small: the boxes of the faces found under min_face
    px, which are not classified."""

    def __init__(self, faces=(), too_small=(), min_face: int = MIN_FACE):
        super().__init__(faces)
        self.too_small, self.min_face = list(too_small), min_face

    def explanation(self):
        """Why a photo has no answer, when faces were found too small: a sentence for the user; else None."""
        if self or not self.too_small:
            return None
        count = len(self.too_small)
        return (f"{count} face{'s' if count > 1 else ''} found, {'all ' if count > 1 else ''}under {self.min_face} px: "
                "too small to classify; try a larger photo")


class Classifier:
    """One exported model folder (inference.pdmodel, .pdiparams, .yml, optional .onnx) on one backend.

    backend_options go to the backend: cpu_threads for all; mkldnn, gpu_id, gpu_memory_mb, tensorrt,
    trt_precision for paddle; runtime (paddle, ort, openvino) for fastdeploy.
    Calls are serialised by a lock: the engines' predictors are not safe to share between threads.
    """

    def __init__(self, model_dir="inference", backend="paddle", device="cpu", batch_size=8, topk=None,
                 **backend_options):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        config = read_inference_config(model_dir)
        self.model_dir = model_dir
        self.model_name = str(config.get("Global", {}).get("model_name") or Path(model_dir).name)
        self.labels = [str(label) for label in config["PostProcess"]["label_list"]]
        self.heads = read_heads(config, self.labels, model_dir)
        self.topk = min(topk or config["PostProcess"].get("topk") or len(self.labels), len(self.labels))
        self.preprocess = Preprocess(config["PreProcess"]["transform_ops"], source=f"{model_dir}/inference.yml")
        self.batch_size = batch_size
        self.backend_name = backend
        self.backend = create_backend(backend, model_dir, device=device, batch_size=batch_size, **backend_options)
        self._lock = threading.Lock()
        self.observe_stage = None   # observe_stage("preprocess" or "graph", seconds) hears each batch's times

    def predict_probs(self, images) -> np.ndarray:
        """Probabilities [len(images), len(labels)] for gray or BGR uint8 images, in batches of batch_size."""
        images = [as_bgr(image) for image in images]
        chunks = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start:start + self.batch_size]
            started = time.perf_counter()
            inputs = chunk if self.backend.takes_images else self.preprocess.batch(chunk)
            preprocessed = time.perf_counter()
            with self._lock:
                chunks.append(np.asarray(self.backend.run(inputs), dtype=np.float32))
            if self.observe_stage is not None:
                self.observe_stage("preprocess", preprocessed - started)
                self.observe_stage("graph", time.perf_counter() - preprocessed)
        probs = np.concatenate(chunks) if chunks else np.zeros((0, len(self.labels)), np.float32)
        if probs.shape[1:] != (len(self.labels),):
            raise RuntimeError(f"the model outputs shape {probs.shape[1:]} but inference.yml lists "
                               f"{len(self.labels)} labels")
        return probs


def read_heads(config, labels, model_dir):
    """inference.yml's Heads (engine/export.py: {head: its labels}, in the graph's order) as {head: (first column,
    end)}; {} for a model of one head."""
    heads = head_columns({name: len(names) for name, names in (config.get("Heads") or {}).items()})
    if heads and [str(label) for names in config["Heads"].values() for label in names] != labels:
        raise ConfigError(f"{model_dir}/inference.yml: its Heads' labels, in order, must be PostProcess's label_list")
    return heads


class Head:
    """One head of a Classifier of several heads: its labels and its columns of the graph's answer, used where a
    model of its own would be."""

    def __init__(self, classifier, name, topk=None):
        self.classifier, self.name = classifier, name
        self.start, self.end = classifier.heads[name]
        self.labels = classifier.labels[self.start:self.end]
        self.topk = min(topk or len(self.labels), len(self.labels))
        self.model_name, self.model_dir = f"{classifier.model_name} ({name} head)", classifier.model_dir
        self.preprocess, self.backend = classifier.preprocess, classifier.backend

    @property
    def observe_stage(self):
        return self.classifier.observe_stage

    @observe_stage.setter
    def observe_stage(self, observe):
        self.classifier.observe_stage = observe

    def predict_probs(self, images) -> np.ndarray:
        return self.columns(self.classifier.predict_probs(images))

    def columns(self, probs) -> np.ndarray:
        """This head's answer from the whole graph's answer."""
        return probs[:, self.start:self.end]


class Predictor:
    """Faces in, expressions out: the model folder's expression model for masked faces and, where the folder has
    them (UNMASKED_MODEL, FACE_STATUS_MODEL), the face-status model that tells a masked face from an unmasked one
    and the expression model for unmasked faces, so that each face is answered by the model that fits it. Where
    the folder has a FUSED_MODEL (or is one), its heads do all three in one graph instead, and a FACE_STATUS_MODEL
    beside it still checks the faces found in a photo (photo_status_model). route=False uses the
    folder's own model alone (a fused folder's masked head). finder: the FaceFinder of predict_faces (by default
    one with its default settings and as many threads as the backends, made when first needed). Other arguments
    as Classifier's; both expression models must list the same labels.
    """

    def __init__(self, model_dir="inference", backend="paddle", device="cpu", batch_size=8, topk=None,
                 route=True, finder: FaceFinder = None, **backend_options):
        options = dict(backend=backend, device=device, batch_size=batch_size, **backend_options)
        sub = lambda name: Path(model_dir) / name  # noqa: E731
        # A fused sub-folder routes alone: the folder's own model is then not loaded.
        if route and (sub(FUSED_MODEL) / "inference.yml").is_file():
            fused = Classifier(sub(FUSED_MODEL), **options)
        else:
            own = Classifier(model_dir, topk=topk, **options)
            fused = own if own.heads else None
        self.masked_model, self.unmasked_model, self.status_model = own if fused is None else None, None, None
        self.fused = fused if route else None
        if fused is not None:
            missing = set(ROUTING_HEADS) - set(fused.heads)
            if missing:
                raise ConfigError(f"{fused.model_dir}: a fused model needs the heads {sorted(ROUTING_HEADS)}; "
                                  f"it lacks {sorted(missing)}")
            self.masked_model = Head(fused, "masked", topk)
        if self.fused is not None:
            self.unmasked_model = Head(fused, "unmasked", topk)
            self.status_model = Head(fused, "face_status")
        elif route and (sub(UNMASKED_MODEL) / "inference.yml").is_file() and \
                (sub(FACE_STATUS_MODEL) / "inference.yml").is_file():
            self.unmasked_model = Classifier(sub(UNMASKED_MODEL), topk=topk, **options)
            self.status_model = Classifier(sub(FACE_STATUS_MODEL), **options)
        # The faces the finder finds in a photo: a face-status model beside a fused sub-folder drops the non-faces
        # among them and gives their mask status, as it did before the fused graph (the finder's thresholds were
        # chosen on its answers; the fused graph's head let more non-faces through on the validation photos,
        # docs/predictor.md). Crops, which are faces already, take the fused graph's status from its one pass.
        self.photo_status_model = self.status_model
        if self.fused is not None and (sub(FACE_STATUS_MODEL) / "inference.yml").is_file():
            self.photo_status_model = Classifier(sub(FACE_STATUS_MODEL), **options)
        self.model_dir, self.labels, self.topk = model_dir, self.masked_model.labels, self.masked_model.topk
        self.preprocess, self.batch_size, self.backend_name = self.masked_model.preprocess, batch_size, backend
        self.backend = self.masked_model.backend
        if self.routes:
            where = self.fused.model_dir if self.fused is not None else sub(UNMASKED_MODEL)
            if self.unmasked_model.labels != self.labels:
                raise ConfigError(f"{where} lists the labels {self.unmasked_model.labels} for unmasked faces, "
                                  f"{self.labels} for masked ones: export both from the same data set's classes")
            for model in {self.status_model, self.photo_status_model}:
                if set(model.labels) != {"masked", "unmasked", "no_face"}:
                    raise ConfigError(f"{model.model_dir}: expected the face-status labels masked, unmasked, "
                                      f"no_face, got {model.labels}")
        self.finder = finder
        # The default finder runs as many views at once as the backends have threads.
        self.finder_threads = cpu_threads_or_all(backend_options.get("cpu_threads"))
        self.observe_stage = None

    def time_stages(self, observe_stage) -> None:
        """observe_stage(stage, seconds) hears the time of every batch's preprocessing and graph, of every model,
        and of every photo's face finding ("preprocess", "graph", "find"); None stops it."""
        self.observe_stage = observe_stage
        for model in (self.masked_model, self.unmasked_model, self.status_model, self.photo_status_model,
                      self.fused):
            if model is not None:
                model.observe_stage = observe_stage

    @property
    def routes(self) -> bool:
        return self.status_model is not None

    def describe(self) -> str:
        """The models in a sentence, by their names and folders (for people, not their absolute paths)."""
        folder = Path(self.model_dir).name
        if self.fused is not None:
            where = folder if Path(self.fused.model_dir) == Path(self.model_dir) else f"{folder}/{FUSED_MODEL}"
            checker = self.photo_status_model
            photos = ("" if checker is self.status_model else
                      f"; a photo's faces checked by {checker.model_name} ({folder}/{FACE_STATUS_MODEL}/)")
            return (f"{self.fused.model_name} ({where}/): face status, then the masked or the unmasked faces' "
                    f"expression, heads of one graph{photos}")
        if not self.routes:
            return f"{self.masked_model.model_name} ({folder}/)"
        return (f"{self.masked_model.model_name} ({folder}/) for masked faces, {self.unmasked_model.model_name} "
                f"({folder}/{UNMASKED_MODEL}/) for the others, chosen by the face-status model")

    def face_status(self, images) -> np.ndarray:
        """[len(images), 2]: each face's P(no_face) and its mask score (see Prediction.mask_score), from the model
        that checks a photo's faces (photo_status_model)."""
        return self._status_of(self.photo_status_model.predict_probs(images), self.photo_status_model.labels)

    def _status_of(self, probs, labels) -> np.ndarray:
        column = {label: i for i, label in enumerate(labels)}
        masked, unmasked = probs[:, column["masked"]], probs[:, column["unmasked"]]
        return np.stack([probs[:, column["no_face"]], masked / np.maximum(masked + unmasked, 1e-9)], axis=1)

    def predict_probs(self, images, status=None) -> np.ndarray:
        """Expression probabilities [len(images), len(labels)] for gray or BGR uint8 face crops, each from the
        model its mask status picks (status: face_status's answer, where already known)."""
        if not self.routes:
            return self.masked_model.predict_probs(images)
        return self._routed(images, status)[0]

    def _routed(self, images, status=None, probs=None):
        """(expression probabilities, status): each face answered by the model or head its mask status picks. A
        fused graph answers everything in one pass, this pass's status unless the face-status crop's is given
        (probs: its answer on the images, where already known)."""
        if self.fused is not None:
            probs = self.fused.predict_probs(images) if probs is None else probs
            status = self._status_of(self.status_model.columns(probs), self.status_model.labels) if status is None \
                else status
            masked = (status[:, 1] >= MASKED_FROM)[:, None]
            return np.where(masked, self.masked_model.columns(probs), self.unmasked_model.columns(probs)), status
        status = self.face_status(images) if status is None else status
        probs = np.zeros((len(images), len(self.labels)), np.float32)
        masked = status[:, 1] >= MASKED_FROM
        for model, chosen in ((self.masked_model, masked), (self.unmasked_model, ~masked)):
            if chosen.any():
                probs[chosen] = model.predict_probs([image for image, c in zip(images, chosen) if c])
        return probs, status

    def predict(self, images, status=None, fused_probs=None) -> list:
        if not self.routes:
            return [self.prediction_of(row) for row in self.predict_probs(images)]
        probs, status = self._routed(images, status, fused_probs)
        return [self.prediction_of(row, mask_score) for row, (_, mask_score) in zip(probs, status)]

    def predict_faces(self, image, min_face: int = None, faces=None, status=None) -> FoundFaces:
        """Every face in an ordinary photo (the finder's), masked or not, cropped like FER2013's and answered by
        the model that fits it; found faces taken for no face are left out (by the fused graph's pass where it is
        sure, FUSED_SURE_FACE, else by the face-status graph). Faces with
        a box side under min_face px (default: the finder's) are not classified: their boxes are the answer's
        too_small. faces: the photo's faces where already found (FaceFinder.follow's, in a video): the finder
        does not run; status: their face_status answers where known too (a followed face keeps its own)."""
        if self.finder is None:
            self.finder = FaceFinder(min_face=MIN_FACE if min_face is None else min_face, threads=self.finder_threads)
        elif min_face is not None and min_face != self.finder.min_face:
            self.finder = self.finder.with_min_face(min_face)
        min_face = self.finder.min_face
        image = as_bgr(image)
        if faces is None:
            started = time.perf_counter()
            faces, too_small = self.finder.find(image)
            if self.observe_stage is not None:
                self.observe_stage("find", time.perf_counter() - started)
        else:
            faces, too_small = list(faces), []
        if not faces and not too_small:
            return FoundFaces(min_face=min_face)
        crops = _gray(crop(image, face) for face in faces)
        probs = None
        if self.routes and status is None:  # one batch: the small faces pass the no-face check before they are reported
            status, probs = self._found_status(image, faces + too_small, crops)
            keep = status[:, 0] < NO_FACE_THRESHOLD
            too_small = [face for face, k in zip(too_small, keep[len(faces):]) if k]
            keep = keep[:len(faces)]
            faces, crops = [f for f, k in zip(faces, keep) if k], [c for c, k in zip(crops, keep) if k]
            status, probs = status[:len(keep)][keep], None if probs is None else probs[:len(keep)][keep]
        predictions = self.predict(crops, status, fused_probs=probs) if crops else []
        return FoundFaces([FacePrediction(face.box, prediction, face) for face, prediction in zip(faces, predictions)],
                          [face.box for face in too_small], min_face)

    def _found_status(self, image, found, crops):
        """(face_status's answer for each face found in the photo, the fused graph's answer on their expression
        crops or None). crops: the expression crops of the first of them. With a face-status graph beside a fused
        one, the fused pass answers the faces it is sure of (FUSED_SURE_FACE) and the graph the others."""
        if self.fused is None or self.photo_status_model is self.status_model:
            return self.face_status(_gray(status_crop(image, face) for face in found)), None
        probs = self.fused.predict_probs(crops + _gray(crop(image, face) for face in found[len(crops):]))
        status = self._status_of(self.status_model.columns(probs), self.status_model.labels)
        unsure = status[:, 0] >= FUSED_SURE_FACE
        if unsure.any():
            status[unsure] = self.face_status(_gray(status_crop(image, f) for f, u in zip(found, unsure) if u))
        return status, probs

    def prediction_of(self, probs, mask_score=None) -> Prediction:
        """The Prediction (label, score, top-k, mask status) of one row of class probabilities."""
        probs = np.asarray(probs)
        order = np.argsort(-probs, kind="stable")[:self.topk]
        topk = [(self.labels[i], float(probs[i])) for i in order]
        status = {} if mask_score is None else {"masked": bool(mask_score >= MASKED_FROM),
                                                "mask_score": float(mask_score)}
        return Prediction(label=topk[0][0], score=topk[0][1], topk=topk, probs=[float(p) for p in probs], **status)
