"""Paddle Inference on inference.pdmodel/.pdiparams: MKLDNN on CPU, optional GPU and TensorRT."""
from pathlib import Path

import numpy as np

from deploy.backends import BackendError, ConfigError, cpu_threads_or_all, limit_openmp_spinning
from deploy.preprocess import EXPORT_HINT


def model_files(model_dir):
    model_dir = Path(model_dir)
    files = model_dir / "inference.pdmodel", model_dir / "inference.pdiparams"
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: {EXPORT_HINT}")
    return files


class PaddleInferenceBackend:
    takes_images = False

    def __init__(self, model_dir, device="cpu", batch_size=8, cpu_threads=None, mkldnn=True,
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

        pdmodel, pdiparams = model_files(model_dir)
        config = inference.Config(str(pdmodel), str(pdiparams))
        if device == "gpu":
            config.enable_use_gpu(gpu_memory_mb, gpu_id)
            if tensorrt:
                precision = {"fp32": inference.PrecisionType.Float32, "fp16": inference.PrecisionType.Half}
                if trt_precision not in precision:
                    raise ConfigError(f"trt_precision {trt_precision!r}: choose fp32 or fp16")
                config.enable_tensorrt_engine(workspace_size=1 << 30, max_batch_size=batch_size,
                                              min_subgraph_size=3, precision_mode=precision[trt_precision],
                                              use_static=False, use_calib_mode=False)
        else:
            config.disable_gpu()
            limit_openmp_spinning()
            if mkldnn:
                # 219 ms -> 21 ms per Xception65 image on this project's CPU (measured by the lead).
                config.enable_mkldnn()
                # MKLDNN caches kernels per input shape; bound it, since batch sizes vary.
                config.set_mkldnn_cache_capacity(10)
            config.set_cpu_math_library_num_threads(cpu_threads_or_all(cpu_threads))
        config.switch_ir_optim(True)
        if not (device == "cpu" and mkldnn):  # Paddle turns memory_optim off under MKLDNN anyway, with a warning
            config.enable_memory_optim()
        config.disable_glog_info()
        self.predictor = inference.create_predictor(config)
        self.input = self.predictor.get_input_handle(self.predictor.get_input_names()[0])
        self.output = self.predictor.get_output_handle(self.predictor.get_output_names()[0])

    def run(self, batch: np.ndarray) -> np.ndarray:
        self.input.reshape(list(batch.shape))
        self.input.copy_from_cpu(batch)
        self.predictor.run()
        return self.output.copy_to_cpu()
