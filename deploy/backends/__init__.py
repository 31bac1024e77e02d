"""Inference engines behind one call: run(batch) -> probabilities [N, num_classes].

Each backend is imported only when asked for: paddle, onnxruntime and fastdeploy live in different environments.
Tensor backends (paddle, onnx) take the float32 NCHW batch that deploy.preprocess makes; FastDeploy preprocesses
the BGR images itself from the same inference.yml, so it takes the images (`takes_images = True`).
"""
import importlib

BACKENDS = {
    "paddle": ("deploy.backends.paddle_inference", "PaddleInferenceBackend"),
    "onnx": ("deploy.backends.onnx_runtime", "OnnxRuntimeBackend"),
    "fastdeploy": ("deploy.backends.fastdeploy_runtime", "FastDeployBackend"),
}


def create_backend(name: str, model_dir, device: str = "cpu", batch_size: int = 8, **options):
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if device not in ("cpu", "gpu"):
        raise ValueError(f"unknown device {device!r}; choose cpu or gpu")
    module, cls = BACKENDS[name]
    return getattr(importlib.import_module(module), cls)(model_dir, device=device, batch_size=batch_size, **options)
