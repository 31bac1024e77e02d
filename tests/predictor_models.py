"""A discriminating model for the backend-agreement tests.

The `inference_dir` fixture's randomly initialised PPLCNet answers 0.25 +- 1e-8 for every class on real faces,
so two backends agreeing on it would prove nothing about preprocessing. This small CNN, He-initialised and
exported the way engine.export does (softmax in the graph, input "x" [N,3,48,48], the fixture's inference.yml),
gives clearly different probabilities for different faces.
"""
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def export_discriminating_model(inference_dir: Path, out: Path) -> Path:
    import paddle

    paddle.seed(7)
    he = paddle.nn.initializer.KaimingNormal()
    model = paddle.nn.Sequential(
        paddle.nn.Conv2D(3, 16, 3, stride=2, padding=1, weight_attr=he), paddle.nn.BatchNorm2D(16),
        paddle.nn.ReLU(),
        paddle.nn.Conv2D(16, 32, 3, stride=2, padding=1, weight_attr=he), paddle.nn.Hardswish(),
        paddle.nn.AdaptiveAvgPool2D(1), paddle.nn.Flatten(),
        paddle.nn.Linear(32, 4, weight_attr=paddle.nn.initializer.Normal(std=2.0)), paddle.nn.Softmax(axis=-1))
    model.eval()
    spec = [paddle.static.InputSpec([None, 3, 48, 48], "float32", name="x")]
    out.mkdir(parents=True, exist_ok=True)
    paddle.jit.save(paddle.jit.to_static(model, input_spec=spec, full_graph=True), str(out / "inference"))
    shutil.copy(Path(inference_dir) / "inference.yml", out / "inference.yml")
    return out


def fer2013_faces(fer2013_dir: Path, count: int, split: str = "test") -> list:
    """`count` FER2013 image paths spread over the classes, in a fixed order."""
    per_class = [sorted(d.iterdir()) for d in sorted((Path(fer2013_dir) / split).iterdir()) if d.is_dir()]
    picked = []
    for i in range(count):
        files = per_class[i % len(per_class)]
        picked.append(files[(i // len(per_class)) % len(files)])
    return picked


def fastdeploy_probs(py310, model_dir, images, tmp_path, **options):
    """FastDeploy's probabilities for gray uint8 `images`, from .venv310 in a subprocess (paddle is never imported
    there); options go to the Predictor (runtime=...)."""
    import subprocess

    import cv2
    import numpy as np

    files = []
    for i, image in enumerate(images):
        files.append(str(tmp_path / f"fastdeploy_input{i}.png"))
        cv2.imwrite(files[-1], image)
    script = ("import sys, json, numpy as np, cv2; from deploy.predictor import Predictor; "
              "p = Predictor(sys.argv[1], backend='fastdeploy', **json.loads(sys.argv[3])); "
              "np.save(sys.argv[2], p.predict_probs([cv2.imread(f, cv2.IMREAD_UNCHANGED) for f in sys.argv[4:]]))")
    result = subprocess.run([str(py310), "-c", script, str(model_dir), str(tmp_path / "fastdeploy.npy"),
                             json.dumps(options), *files], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={"PATH": "/usr/bin:/bin", "MKL_DEBUG_CPU_TYPE": "5"})
    assert result.returncode == 0, result.stderr[-3000:]
    return np.load(tmp_path / "fastdeploy.npy")
