"""Inference engines behind one call: run(batch) -> probabilities [N, num_classes].

Each backend is imported only when asked for: paddle, onnxruntime and fastdeploy live in different environments.
Tensor backends (paddle, onnx) take the float32 NCHW batch that deploy.preprocess makes; FastDeploy preprocesses
the BGR images itself from the same inference.yml, so it takes the images (`takes_images = True`).
"""
import importlib
import inspect

from basics import UserError
from engine.errors import ConfigError


class BackendError(UserError, RuntimeError):
    """A backend this environment cannot run as asked (a package or a GPU build is missing): the message says what
    to install, or what to use instead."""

BACKENDS = {
    "paddle": ("deploy.backends.paddle_inference", "PaddleInferenceBackend"),
    "onnx": ("deploy.backends.onnx_runtime", "OnnxRuntimeBackend"),
    "fastdeploy": ("deploy.backends.fastdeploy_runtime", "FastDeployBackend"),
}


def create_backend(name: str, model_dir, device: str = "cpu", batch_size: int = 8, **options):
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if device not in ("cpu", "gpu"):
        raise ConfigError(f"unknown device {device!r}; choose cpu or gpu")
    module, cls = BACKENDS[name]
    backend = getattr(importlib.import_module(module), cls)
    takes = [p for p in inspect.signature(backend).parameters if p not in ("model_dir", "device", "batch_size")]
    unknown = sorted(set(options) - set(takes))
    if unknown:
        raise ConfigError(f"the {name} backend has no option {', '.join(unknown)}; it takes {', '.join(takes)}")
    return backend(model_dir, device=device, batch_size=batch_size, **options)
