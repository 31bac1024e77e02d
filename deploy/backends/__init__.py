"""Inference engines behind one call: run(batch) -> probabilities [N, num_classes].

Each backend is imported only when asked for: paddle, onnxruntime and fastdeploy live in different environments.
Tensor backends (paddle, onnx) take the float32 NCHW batch that deploy.preprocess makes; FastDeploy preprocesses
the BGR images itself from the same inference.yml, so it takes the images (`takes_images = True`).
"""
import os

from basics import UserError
from engine.errors import ConfigError
from engine.registry import Registry


class BackendError(UserError, RuntimeError):
    """A backend this environment cannot run as asked (a package or a GPU build is missing): the message says what
    to install, or what to use instead."""


def cpu_threads_or_all(cpu_threads=None) -> int:
    """The CPU threads a backend (and the predictor's face finder) runs on: cpu_threads, else every core."""
    return cpu_threads or os.cpu_count() or 1


# What the paddle backend computes in on a CPU (its option `precision`): bf16 where the CPU computes it natively
# (auto), or always fp32 or bf16 (paddle_inference.bfloat16_on_cpu).
PRECISIONS = ("auto", "fp32", "bf16")
PRECISION_HELP = ("the paddle backend's on CPU: bf16 where the CPU computes it natively (auto, the default), or fp32 "
                  "or bf16 always")


def precision_option(precision=None) -> dict:
    """The backend options for a precision a user asked for (--precision), none for None: only the paddle backend
    takes one."""
    return {"precision": precision} if precision else {}


# Intel OpenMP (libiomp5, which Paddle Inference and FastDeploy's Paddle runtime bring) keeps its threads spinning
# this many ms after each parallel region; its default is 200. A photo's classification then left the second core
# spinning while the face finder's passes of the next photo ran, and the finder took 17-23 ms a photo instead of
# 13: on 200 realmask photos, the whole path took 22.0-23.0 ms a photo at 5 against 25.9-29.4 at the default (22.4-
# 24.9 at 1, 24.4-29.2 at 20; docs/history.md, 2026-12-07 evening).
OPENMP_BLOCKTIME_MS = 5


def limit_openmp_spinning() -> None:
    """KMP_BLOCKTIME for the CPU backends, unless the user set it: read when the OpenMP runtime starts, at the
    first inference, so a backend sets it before it runs."""
    os.environ.setdefault("KMP_BLOCKTIME", str(OPENMP_BLOCKTIME_MS))


# Each imported only when chosen: paddle, onnxruntime and fastdeploy live in different environments.
BACKENDS = Registry("backend", lazy={
    "paddle": "deploy.backends.paddle_inference:PaddleInferenceBackend",
    "onnx": "deploy.backends.onnx_runtime:OnnxRuntimeBackend",
    "fastdeploy": "deploy.backends.fastdeploy_runtime:FastDeployBackend",
}, hidden={"model_dir", "device", "batch_size"})


def create_backend(name: str, model_dir, device: str = "cpu", batch_size: int = 8, **options):
    if name not in BACKENDS:
        raise BACKENDS.unknown(name)
    if device not in ("cpu", "gpu"):
        raise ConfigError(f"unknown device {device!r}; choose cpu or gpu")
    takes = BACKENDS.param_types(name)
    unknown = sorted(set(options) - set(takes))
    if unknown:
        raise ConfigError(f"the {name} backend has no option {', '.join(unknown)}; it takes {', '.join(sorted(takes))}")
    for option, value in options.items():
        takes[option].check(value, f"{name} backend option {option}")
    return BACKENDS[name](model_dir, device=device, batch_size=batch_size, **options)
