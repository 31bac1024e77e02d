"""Export to the legacy Paddle inference format plus a PaddleClas/FastDeploy `inference.yml`."""
import logging
import shutil
import tempfile
from pathlib import Path

import paddle
import yaml

from basics import unwritable

from .config import ConfigError
from .data import head_slices, label_list
from .ensembles import EnsembleModel
from .model import as_deployed, build_model, deployed_arch_name
from .weights import load_weights
from .transforms import DEPLOY_SCALE, NormalizeImage, check_deployable

log = logging.getLogger("engine")


def deploy_transforms(config):
    """Infer.transforms as inference.yml PreProcess ops: DecodeImage dropped, everything else checked."""
    ops = []
    for item in config.get("Infer", {}).get("transforms", []):
        (name, params), = item.items()
        params = dict(params or {})
        if name == "DecodeImage":
            continue
        check_deployable(name, params, "Infer.transforms")
        if name == "NormalizeImage":
            normalize = NormalizeImage(**params)
            params = {"scale": DEPLOY_SCALE, "mean": normalize.mean_values, "std": normalize.std_values,
                      "order": params.get("order", "")}
        ops.append({name: params or None})
    if not ops or list(ops[-1]) != ["ToCHWImage"]:
        raise ConfigError("Infer.transforms must end with ToCHWImage (the exported model takes NCHW input)")
    return ops


def inference_yml(config):
    """PaddleClas's inference.yml. A model of several heads (Global.heads) lists every head's labels, in the
    graph's order, and `Heads` (this project's) names each head's labels."""
    heads = head_slices(config) if config["Global"].get("heads") else {}
    labels = [label for *_, names in heads.values() for label in names] or label_list(config)
    post = config["Infer"].get("PostProcess", {})
    yml = {
        "Global": {"model_name": deployed_arch_name(config)},
        "PreProcess": {"transform_ops": deploy_transforms(config)},
        # PaddleClas's shape (ppcls/utils/config.py, dump_infer_config): the post-process name is the key.
        "PostProcess": {post.get("name", "Topk"): {"topk": int(post.get("topk", len(labels))), "label_list": labels}},
    }
    if heads:
        yml["Heads"] = {name: names for name, (*_, names) in heads.items()}
    return yml


def export(config):
    """Write inference.pdmodel/.pdiparams (softmax, and Global.flip_average's mirror averaging, in the graph;
    input "x" [N,3,H,W]) and inference.yml
    into Global.save_inference_dir; returns that directory."""
    out = Path(config["Global"].get("save_inference_dir", "./inference"))
    yml = inference_yml(config)  # validate before the slow part
    problem = unwritable(out, folder=True)
    if problem:
        raise ConfigError(f"Global.save_inference_dir: {problem}")
    model = build_model(config)
    weights = config["Global"].get("pretrained_model")
    if weights:
        load_weights(model, weights)
    elif not isinstance(model, EnsembleModel):
        log.warning("Global.pretrained_model is not set: exporting randomly initialised weights")
    model = as_deployed(model, config, every_head=True)
    model.eval()
    channels, height, width = config["Global"].get("image_shape", [3, 224, 224])
    spec = [paddle.static.InputSpec([None, channels, height, width], "float32", name="x")]
    out.mkdir(parents=True, exist_ok=True)
    # Build in a temp dir beside the target, then move: an interrupted export never leaves a half model.
    with tempfile.TemporaryDirectory(dir=out, prefix=".export-") as tmp:
        static = paddle.jit.to_static(model, input_spec=spec, full_graph=True)
        paddle.jit.save(static, str(Path(tmp) / "inference"))
        with open(Path(tmp) / "inference.yml", "w", encoding="utf-8") as handle:
            yaml.safe_dump(yml, handle, sort_keys=False, default_flow_style=None)
        for name in ("inference.pdmodel", "inference.pdiparams", "inference.yml"):
            shutil.move(str(Path(tmp) / name), str(out / name))
    log.info("exported %s to %s", config["Arch"]["name"], out)
    return out
