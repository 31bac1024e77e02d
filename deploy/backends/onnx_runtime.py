"""ONNX Runtime on inference.onnx, the file tools/export_onnx.py converts from the Paddle model."""
from pathlib import Path

import numpy as np

from deploy.backends import BackendError, cpu_threads_or_all


class OnnxRuntimeBackend:
    takes_images = False
    precision = "fp32"   # what the graph computes in

    def __init__(self, model_dir, device="cpu", batch_size=8, cpu_threads=None, gpu_id=0):
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise BackendError("the onnx backend needs onnxruntime: use .venv (pip install onnxruntime)") from err

        path = Path(model_dir) / "inference.onnx"
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: convert the model with "
                                    f"`.venv/bin/python tools/export_onnx.py --model-dir {model_dir}`")
        options = ort.SessionOptions()
        options.intra_op_num_threads = cpu_threads_or_all(cpu_threads)
        providers = ["CPUExecutionProvider"]
        if device == "gpu":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise BackendError("--device gpu, but this onnxruntime has no CUDA (install onnxruntime-gpu), "
                                   "or use --device cpu")
            providers.insert(0, ("CUDAExecutionProvider", {"device_id": gpu_id}))
        self.session = ort.InferenceSession(str(path), options, providers=providers)
        self.input_name = self.session.get_inputs()[0].name

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: batch})[0]
