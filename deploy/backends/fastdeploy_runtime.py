"""FastDeploy's PaddleClasModel, used as its documentation says; it reads the same inference.yml.

Only .venv310 has FastDeploy (its wheels stop at Python 3.10), with numpy<2: under numpy 2 it returns NaN silently.
"""
import sys
from pathlib import Path

import numpy as np

from deploy.backends import BackendError, ConfigError, cpu_threads_or_all, limit_openmp_spinning
from deploy.backends.paddle_inference import model_files
from deploy.preprocess import read_inference_config

RUNTIMES = ("paddle", "ort", "openvino")


class FastDeployBackend:
    takes_images = True
    precision = "fp32"   # what the graph computes in

    def __init__(self, model_dir, device="cpu", batch_size=8, cpu_threads=None, runtime="paddle", gpu_id=0):
        try:
            import fastdeploy as fd
        except ImportError as err:
            raise BackendError(
                f"the fastdeploy backend needs FastDeploy, which exists only for Python <= 3.10 "
                f"(this is {sys.version.split()[0]}): run with .venv310/bin/python, built by `make setup`") from err
        if int(np.__version__.split(".")[0]) >= 2:
            raise BackendError(f"FastDeploy 1.0.7 returns NaN under numpy {np.__version__}: install numpy<2")
        if runtime not in RUNTIMES:
            raise ConfigError(f"unknown FastDeploy runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")

        pdmodel, pdiparams = model_files(model_dir)
        option = fd.RuntimeOption()
        if device == "gpu":
            option.use_gpu(gpu_id)
        else:
            option.use_cpu()
            limit_openmp_spinning()
        # Every core unless told, as the other backends: FastDeploy's own default (-1) ran the fused graph's batch
        # of one in 1.05-1.17 ms, against 0.81-0.84 on two threads set (docs/benchmarks.md).
        option.set_cpu_thread_num(cpu_threads_or_all(cpu_threads))
        {"paddle": option.use_paddle_infer_backend, "ort": option.use_ort_backend,
         "openvino": option.use_openvino_backend}[runtime]()
        if runtime == "paddle":
            # With its default MKLDNN settings, FastDeploy 1.0.7's Paddle Inference answers wrongly (off by up to
            # 0.3) for every batch size other than the first it ran; a shape cache makes it right (tested).
            option.paddle_infer_option.mkldnn_cache_size = 10
        self.option = option
        self.model = fd.vision.classification.PaddleClasModel(
            str(pdmodel), str(pdiparams), str(Path(model_dir) / "inference.yml"), runtime_option=option)
        if not self.model.initialized:
            raise BackendError(f"FastDeploy could not load the model in {model_dir} (its log above says why)")
        self.num_classes = len(read_inference_config(model_dir)["PostProcess"]["label_list"])

    def run(self, images) -> np.ndarray:
        # ClassifyResult holds the top-k (label_ids, scores); asking for every class gives the whole vector back.
        self.model.postprocessor.topk = self.num_classes
        results = self.model.batch_predict(list(images))
        probs = np.zeros((len(results), self.num_classes), dtype=np.float32)
        for row, result in zip(probs, results):
            row[list(result.label_ids)] = result.scores
        return probs
