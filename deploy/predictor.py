"""One predictor for the CLI, the HTTP server and the benchmarks: images in, labelled probabilities out."""
import threading
from dataclasses import dataclass, field

import cv2
import numpy as np

from basics import FACE_SIZE
from deploy.backends import create_backend
from deploy.preprocess import Preprocess, as_bgr, read_inference_config


# Face detection defaults. On scikit-image's astronaut (a JPEG, upsample 1) dlib scores her face 1.02 and the
# mission patch on her suit -0.01, just under dlib's own threshold of 0: 0.3 leaves a margin against such
# patterns and keeps real faces (tests/test_real_photo.py records the effect on several photos).
MIN_SCORE = 0.3
# Half the model input: a smaller face would be upscaled more than twice, to a blur.
MIN_FACE = FACE_SIZE // 2


@dataclass
class Prediction:
    label: str
    score: float
    topk: list = field(default_factory=list)  # [(label, score)], best first
    probs: list = field(default_factory=list, repr=False)  # every class's probability, in label order

    def to_dict(self) -> dict:
        return {"label": self.label, "score": self.score, "topk": [[l, s] for l, s in self.topk]}


@dataclass
class FacePrediction:
    box: tuple  # (left, top, right, bottom) in the photo's pixels
    prediction: Prediction

    def to_dict(self) -> dict:
        return {"box": list(self.box), **self.prediction.to_dict()}


class Predictor:
    """An exported model folder (inference.pdmodel, .pdiparams, .yml, optional .onnx) on one backend.

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
        self.labels = [str(label) for label in config["PostProcess"]["label_list"]]
        self.topk = min(topk or config["PostProcess"].get("topk") or len(self.labels), len(self.labels))
        self.preprocess = Preprocess(config["PreProcess"]["transform_ops"], source=f"{model_dir}/inference.yml")
        self.batch_size = batch_size
        self.backend_name = backend
        self.backend = create_backend(backend, model_dir, device=device, batch_size=batch_size, **backend_options)
        self._lock = threading.Lock()

    def predict_probs(self, images) -> np.ndarray:
        """Probabilities [len(images), len(labels)] for gray or BGR uint8 images, in batches of batch_size."""
        images = [as_bgr(image) for image in images]
        chunks = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start:start + self.batch_size]
            inputs = chunk if self.backend.takes_images else self.preprocess.batch(chunk)
            with self._lock:
                chunks.append(np.asarray(self.backend.run(inputs), dtype=np.float32))
        probs = np.concatenate(chunks) if chunks else np.zeros((0, len(self.labels)), np.float32)
        if probs.shape[1:] != (len(self.labels),):
            raise RuntimeError(f"the model outputs shape {probs.shape[1:]} but inference.yml lists "
                               f"{len(self.labels)} labels")
        return probs

    def predict(self, images) -> list:
        return [self.prediction_of(row) for row in self.predict_probs(images)]

    def predict_faces(self, image, upsample: int = 1, detect_max_side: int = 1280, min_score: float = MIN_SCORE,
                      min_face: int = MIN_FACE) -> list:
        """Every face dlib finds in an ordinary photo, cropped like the training data and classified.

        Detection runs on a copy shrunk to detect_max_side (dlib's time grows with the pixel count, and with
        upsample=1 it still finds faces down to about 40 px there); crops come from the full-size photo. Faces
        scoring below min_score, or with a box side under min_face px in the photo, are left out.
        """
        from masker.faces import crop_face, detect_faces  # dlib: only .venv has it

        image = as_bgr(image)
        height, width = image.shape[:2]
        factor = min(1.0, detect_max_side / max(height, width))
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        small = image if factor == 1.0 else cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        boxes = [tuple(int(round(v / factor)) for v in box)
                 for box in detect_faces(small, upsample=upsample, min_score=min_score)]
        boxes = [box for box in boxes if min(box[2] - box[0], box[3] - box[1]) >= min_face]
        crops = [crop_face(image, box, size=FACE_SIZE) for box in boxes]
        return [FacePrediction(box, prediction) for box, prediction in zip(boxes, self.predict(crops))]

    def prediction_of(self, probs) -> Prediction:
        """The Prediction (label, score, top-k) of one row of class probabilities."""
        probs = np.asarray(probs)
        order = np.argsort(-probs, kind="stable")[:self.topk]
        topk = [(self.labels[i], float(probs[i])) for i in order]
        return Prediction(label=topk[0][0], score=topk[0][1], topk=topk, probs=[float(p) for p in probs])
