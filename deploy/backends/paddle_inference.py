"""Paddle Inference on inference.pdmodel/.pdiparams: MKLDNN on CPU (bfloat16 where the CPU computes it natively),
optional GPU and TensorRT."""
import contextlib
import os
import sys
from pathlib import Path

import numpy as np

from deploy.backends import PRECISIONS, BackendError, ConfigError, cpu_threads_or_all, limit_openmp_spinning
from deploy.preprocess import EXPORT_HINT

# The ops computed in bfloat16 where it is on: the convolutions and pooling, nearly all the work. The heads' matmul and
# softmax stay in float32, so that the scores keep float32's resolution (in bfloat16, with its 8-bit mantissa, a
# score near 0.75 moves in steps of 0.004, and distinct faces got equal scores).
BFLOAT16_OPS = {"conv2d", "fused_conv2d", "pool2d"}


def model_files(model_dir):
    model_dir = Path(model_dir)
    files = model_dir / "inference.pdmodel", model_dir / "inference.pdiparams"
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: {EXPORT_HINT}")
    return files


class PaddleInferenceBackend:
    takes_images = False
    precision = "fp32"   # what the graph computes in

    def __init__(self, model_dir, device="cpu", batch_size=8, cpu_threads=None, mkldnn=True, precision="auto",
                 gpu_id=0, gpu_memory_mb=500, tensorrt=False, trt_precision="fp32"):
        try:
            import paddle
            from paddle import inference
        except ImportError:
            raise BackendError("the paddle backend needs Paddle, which this environment lacks (.venv310 has "
                               "FastDeploy and Paddle Lite instead): use --backend fastdeploy or --backend onnx "
                               "here, or run from .venv") from None
        if device == "gpu" and not paddle.is_compiled_with_cuda():
            raise BackendError("--device gpu, but this Paddle is a CPU build (paddlepaddle): install "
                               "paddlepaddle-gpu==2.6.2 for a GPU, or use --device cpu")

        if precision not in PRECISIONS:
            raise ConfigError(f"precision {precision!r}: choose {', '.join(PRECISIONS)}")
        if precision == "bf16" and (device == "gpu" or not mkldnn):
            raise ConfigError("precision bf16 is MKLDNN's, on a CPU: drop mkldnn=False, or on a GPU use "
                              "tensorrt=True with trt_precision fp16")
        pdmodel, pdiparams = model_files(model_dir)
        config = inference.Config(str(pdmodel), str(pdiparams))
        if device == "gpu":
            config.enable_use_gpu(gpu_memory_mb, gpu_id)
            if tensorrt:
                trt_types = {"fp32": inference.PrecisionType.Float32, "fp16": inference.PrecisionType.Half}
                if trt_precision not in trt_types:
                    raise ConfigError(f"trt_precision {trt_precision!r}: choose fp32 or fp16")
                config.enable_tensorrt_engine(workspace_size=1 << 30, max_batch_size=batch_size,
                                              min_subgraph_size=3, precision_mode=trt_types[trt_precision],
                                              use_static=False, use_calib_mode=False)
                self.precision = trt_precision
        else:
            config.disable_gpu()
            limit_openmp_spinning()
            if mkldnn:
                # 219 ms -> 21 ms per Xception65 image on this project's CPU (measured by the lead).
                config.enable_mkldnn()
                # MKLDNN caches kernels per input shape; bound it, since batch sizes vary.
                config.set_mkldnn_cache_capacity(10)
                if bfloat16_on_cpu(precision):
                    with native_stderr_silenced():
                        config.enable_mkldnn_bfloat16()
                    config.set_bfloat16_op(BFLOAT16_OPS)
                    self.precision = "bf16"
            config.set_cpu_math_library_num_threads(cpu_threads_or_all(cpu_threads))
        config.switch_ir_optim(True)
        if not (device == "cpu" and mkldnn):  # Paddle turns memory_optim off under MKLDNN anyway, with a warning
            config.enable_memory_optim()
        config.disable_glog_info()
        # Paddle 2.6's bfloat16 passes print each step to stderr, glog's setting or not; an error is still raised.
        with native_stderr_silenced() if self.precision == "bf16" else contextlib.nullcontext():
            self.predictor = inference.create_predictor(config)
        self.input = self.predictor.get_input_handle(self.predictor.get_input_names()[0])
        self.output = self.predictor.get_output_handle(self.predictor.get_output_names()[0])

    def run(self, batch: np.ndarray) -> np.ndarray:
        self.input.reshape(list(batch.shape))
        self.input.copy_from_cpu(batch)
        self.predictor.run()
        return self.output.copy_to_cpu()


def bfloat16_on_cpu(precision: str) -> bool:
    """Whether MKLDNN runs the convolutions in bfloat16: asked for (bf16), or by default (auto) where the CPU computes
    it natively (AVX512-BF16 or AMX: Zen 4, Sapphire Rapids), as OpenVINO does. On this project's Zen 4 the routed
    predictor then answered 1.3-1.7 times as many faces a second at batch 32, and on the validation faces and photos
    as float32 did but for one face of 1,790 (docs/predictor.md); elsewhere oneDNN would emulate it, slower."""
    if precision != "auto":
        return precision == "bf16"
    from paddle.base import core
    return bool(core.supports_bfloat16_fast_performance())


@contextlib.contextmanager
def native_stderr_silenced():
    """File descriptor 2 to /dev/null for the block: what C++ writes there, which Python's sys.stderr cannot catch."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
