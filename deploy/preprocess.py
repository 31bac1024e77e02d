"""The preprocessing that inference.yml's PreProcess.transform_ops describes, and nothing else.

The ops are the engine's (engine/transforms.py), the same code that evaluated the model in training, limited to
what FastDeploy's PaddleClasModel runs from the same file: BGR uint8 in, converted to RGB first (as FastDeploy
does), then the ops in the file's order.
"""
from pathlib import Path

import cv2
import numpy as np
import yaml

from deploy.images import as_bgr
from engine.config import ConfigError
from engine.registry import TRANSFORMS
from engine.transforms import NormalizeImage, ToCHWImage, check_deployable

EXPORT_HINT = ("export a trained model with `.venv/bin/python tools/export_model.py -c "
               "configs/masked_fer/FaceCNN_distill.yaml -o Global.pretrained_model=output/distill/DistillationModel/"
               "best_model -o Global.save_inference_dir=inference/` (or `make default-model`)")


class Preprocess:
    """The op list of inference.yml applied to BGR/gray uint8 images, giving float32 CHW arrays."""

    def __init__(self, transform_ops, source: str = "inference.yml"):
        if not transform_ops:
            raise ConfigError(f"{source}: PreProcess.transform_ops is empty")
        self.ops = []
        for entry in transform_ops:
            if not isinstance(entry, dict) or len(entry) != 1:
                raise ConfigError(f"{source}: each transform op is a one-key mapping, got {entry!r}")
            (name, params), = entry.items()
            check_deployable(name, params, source)
            if name == "NormalizeImage":
                # FastDeploy normalises the HWC image whatever `order` says; the engine's default is chw.
                params = {**(params or {}), "order": (params or {}).get("order") or ""}
            self.ops.append(TRANSFORMS.build(name, params, f"{source}: "))
        if not isinstance(self.ops[-1], ToCHWImage) or not any(isinstance(op, NormalizeImage) for op in self.ops):
            raise ConfigError(f"{source}: transform_ops must normalise and end with ToCHWImage")

    def __call__(self, image: np.ndarray) -> np.ndarray:
        x = cv2.cvtColor(as_bgr(image), cv2.COLOR_BGR2RGB)
        for op in self.ops:
            x = op(x)
        return np.ascontiguousarray(x, dtype=np.float32)

    def batch(self, images) -> np.ndarray:
        arrays = [self(image) for image in images]
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise ConfigError(f"preprocessed images differ in shape {sorted(shapes)}: inference.yml needs a CropImage")
        return np.stack(arrays)


def read_inference_config(model_dir) -> dict:
    """inference.yml of an exported model folder, checked for what the predictor needs; PostProcess comes back as
    {name: Topk, topk, label_list} whichever of the two shapes the file has."""
    path = Path(model_dir) / "inference.yml"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {EXPORT_HINT}")
    with open(path) as f:
        config = yaml.safe_load(f) or {}
    post = config.get("PostProcess") or {}
    if "name" not in post and len(post) == 1 and isinstance(next(iter(post.values())), dict):
        # PaddleClas's shape, {Topk: {topk, label_list}}; models exported before it wrote {name: Topk, ...}.
        (name, params), = post.items()
        post = config["PostProcess"] = {"name": name, **params}
    if not post.get("label_list"):
        raise ConfigError(f"{path}: PostProcess.label_list is missing (the class names, in output order)")
    if not (config.get("PreProcess") or {}).get("transform_ops"):
        raise ConfigError(f"{path}: PreProcess.transform_ops is missing")
    return config
