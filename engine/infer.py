"""Inference on images or folders with the Infer transforms and Topk post-processing."""
from pathlib import Path

import numpy as np
import paddle

from basics import is_image_file

from .config import ConfigError
from .data import label_list
from .model import as_deployed, model_with_weights
from .transforms import apply_transforms, build_transforms


def list_images(path):
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if is_image_file(p))
        if not files:
            raise ConfigError(f"Infer.infer_imgs: no images in {path}")
        return files
    if not path.is_file():
        raise ConfigError(f"Infer.infer_imgs: {path} does not exist")
    return [path]


@paddle.no_grad()
def infer(config):
    """[{"file", "class_ids", "scores", "label_names"}] for each image of Infer.infer_imgs, top-k first; an image
    that cannot be read gets {"file", "error"} instead."""
    infer_cfg = config.get("Infer") or {}
    if not infer_cfg.get("infer_imgs"):
        raise ConfigError("set Infer.infer_imgs to an image or a folder")
    names = label_list(config)
    topk = int(infer_cfg.get("PostProcess", {}).get("topk", 1))
    ops = build_transforms(infer_cfg.get("transforms", []))
    model = as_deployed(model_with_weights(config, "inference"), config)
    model.eval()
    files = list_images(infer_cfg["infer_imgs"])
    batch_size = int(infer_cfg.get("batch_size", 16))
    results = []
    for start in range(0, len(files), batch_size):
        batch, images = [], []
        for file in files[start:start + batch_size]:
            try:
                images.append(apply_transforms(ops, file.read_bytes()))
                batch.append(file)
            except (OSError, ValueError) as error:
                # One bad file must not cost the others their answers (as tools/predict.py does).
                results.append({"file": str(file), "error": f"cannot be read as an image ({error})"})
        if not images:
            continue
        probs = model(paddle.to_tensor(np.stack(images).astype("float32"))).numpy()
        for file, prob in zip(batch, probs):
            order = np.argsort(-prob)[:topk]
            results.append({"file": str(file), "class_ids": order.tolist(),
                            "scores": [round(float(prob[i]), 6) for i in order],
                            "label_names": [names[i] for i in order]})
    return results
