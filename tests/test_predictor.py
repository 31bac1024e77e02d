"""deploy.preprocess and deploy.predictor on the paddle backend, with real exported models and real faces."""
import json
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from deploy.predictor import FacePrediction, Prediction, Predictor
from deploy.preprocess import ConfigError, Preprocess
from predictor_models import export_discriminating_model, fer2013_faces

ROOT = Path(__file__).resolve().parents[1]
OPS = [{"ResizeImage": {"resize_short": 48}}, {"CropImage": {"size": 48}},
       {"NormalizeImage": {"scale": "1.0/255.0", "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.5], "order": ""}},
       {"ToCHWImage": None}]


@pytest.fixture(scope="module")
def model_dir(inference_dir, tmp_path_factory):
    return export_discriminating_model(inference_dir, tmp_path_factory.mktemp("discriminating"))


def test_preprocess_follows_the_yml_ops_in_order():
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 256, (60, 96, 3), dtype=np.uint8)
    out = Preprocess(OPS)(bgr)
    # By hand: RGB, shorter side 60 -> 48 (96 -> 77), centre 48x48 crop, normalise, CHW.
    rgb = cv2.resize(bgr[:, :, ::-1], (77, 48), interpolation=cv2.INTER_LINEAR)[:, 14:62]
    expected = ((rgb / 255.0 - [0.5, 0.4, 0.3]) / [0.2, 0.25, 0.5]).transpose(2, 0, 1)
    assert out.shape == (3, 48, 48) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_gray_input_becomes_three_equal_channels():
    gray = np.arange(48 * 48, dtype=np.uint8).reshape(48, 48)
    preprocess = Preprocess(OPS)
    np.testing.assert_array_equal(preprocess(gray), preprocess(np.dstack([gray] * 3)))
    np.testing.assert_array_equal(preprocess(gray), preprocess(gray[:, :, None]))


@pytest.mark.parametrize("ops, message", [
    ([{"RandFlipImage": {"flip_code": 1}}, {"ToCHWImage": None}], "RandFlipImage"),
    ([{"DecodeImage": {"to_rgb": True}}] + OPS, "DecodeImage"),
    ([{"NormalizeImage": {"scale": 1.0, "mean": [0, 0, 0], "std": [1, 1, 1]}}, {"ToCHWImage": None}], "1/255"),
    ([{"NormalizeImage": {"scale": "one/255"}}, {"ToCHWImage": None}], "one/255"),
    ([{"ResizeImage": {"resize_short": 48, "size": 48}}] + OPS[1:], "exactly one"),
    (OPS[:3], "ToCHWImage"),
    ([], "empty"),
])
def test_preprocess_refuses_what_it_cannot_run_the_same_way(ops, message):
    with pytest.raises(ConfigError, match=message):
        Preprocess(ops)


def test_predictor_on_the_exported_fixture(inference_dir):
    predictor = Predictor(inference_dir, batch_size=3)
    assert predictor.labels == ["angry", "fear", "happy", "surprise"]
    images = [np.full((48, 48), v, np.uint8) for v in (0, 60, 120, 180, 240)]
    predictions = predictor.predict(images)
    assert len(predictions) == 5 and all(isinstance(p, Prediction) for p in predictions)
    for p in predictions:
        assert [label for label, _ in p.topk][0] == p.label and p.score == p.topk[0][1]
        assert sorted(p.topk, key=lambda item: -item[1]) == p.topk
        assert abs(sum(score for _, score in p.topk) - 1) < 1e-4  # topk 4 of 4 classes: softmax sums to 1
        json.dumps(p.to_dict())
    assert predictor.predict([]) == []


def test_batches_give_the_same_answers_as_single_images(model_dir, fer2013_dir):
    images = [cv2.imread(str(p)) for p in fer2013_faces(fer2013_dir, 7)]
    batched = Predictor(model_dir, batch_size=3).predict_probs(images)
    single = np.concatenate([Predictor(model_dir, batch_size=1).predict_probs([im]) for im in images])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    # The discriminating model really discriminates: otherwise agreement would prove nothing.
    assert batched.std(axis=0).max() > 0.05


def test_topk_option_and_labels(model_dir):
    predictor = Predictor(model_dir, topk=2)
    prediction = predictor.predict([np.zeros((48, 48, 3), np.uint8)])[0]
    assert len(prediction.topk) == 2 and prediction.label in predictor.labels


def test_bad_images_are_refused_with_a_reason(inference_dir):
    predictor = Predictor(inference_dir)
    with pytest.raises(ValueError, match="uint8"):
        predictor.predict([np.zeros((48, 48, 3), np.float32)])
    with pytest.raises(ValueError, match="shape"):
        predictor.predict([np.zeros((48, 48, 5), np.uint8)])


def test_missing_or_broken_model_folders(tmp_path, inference_dir):
    with pytest.raises(FileNotFoundError, match="export_model"):
        Predictor(tmp_path)
    (tmp_path / "inference.yml").write_text((Path(inference_dir) / "inference.yml").read_text())
    with pytest.raises(FileNotFoundError, match="inference.pdmodel"):
        Predictor(tmp_path)
    config = yaml.safe_load((Path(inference_dir) / "inference.yml").read_text())
    del config["PostProcess"]["Topk"]["label_list"]
    (tmp_path / "inference.yml").write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match="label_list"):
        Predictor(tmp_path)
    with pytest.raises(ValueError, match="unknown backend"):
        Predictor(inference_dir, backend="tensorflow")


def test_faces_in_a_composed_photo(model_dir, fer2013_dir):
    """Eight FER2013 faces enlarged and pasted on a canvas: each is found and classified like the finder's crop."""
    from deploy.faces import FaceFinder, crop

    finder = FaceFinder()
    faces = [cv2.resize(cv2.imread(str(p)), (160, 160), interpolation=cv2.INTER_CUBIC)
             for p in fer2013_faces(fer2013_dir, 40, split="test")]
    faces = [f for f in faces if len(finder(cv2.copyMakeBorder(f, 40, 40, 40, 40, cv2.BORDER_REPLICATE))) == 1][:8]
    canvas = np.full((480, 900, 3), 200, np.uint8)
    tiles = []
    for i, face in enumerate(faces):
        y, x = 20 + (i // 4) * 230, 20 + (i % 4) * 220
        canvas[y:y + 160, x:x + 160] = face
        tiles.append((x, y))
    predictor = Predictor(model_dir)
    found = predictor.predict_faces(canvas)
    # BlazeFace finds 7 of these 8 upscaled grey faces on the flat canvas (measured; 6 with its 192 px pass and tiles);
    # each found one must be right.
    assert len(faces) == 8 and len(found) >= 7 and all(isinstance(f, FacePrediction) for f in found)
    for face, detected in zip(found, finder(canvas)):
        left, top, right, bottom = face.box
        cx, cy = (left + right) / 2, (top + bottom) / 2
        assert sum(x <= cx <= x + 160 and y <= cy <= y + 160 for x, y in tiles) == 1
        assert detected.box == face.box
        expected = predictor.predict([cv2.cvtColor(crop(canvas, detected), cv2.COLOR_BGR2GRAY)])[0]
        assert face.prediction.label == expected.label and abs(face.prediction.score - expected.score) < 1e-6
        assert set(face.to_dict()) == {"box", "label", "score", "topk"}


def test_faces_in_a_real_photo(inference_dir):
    """matplotlib ships a real portrait (Grace Hopper): one face, found where the face is."""
    import matplotlib.cbook

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        photo = cv2.imdecode(np.frombuffer(f.read(), np.uint8), cv2.IMREAD_COLOR)
    found = Predictor(inference_dir).predict_faces(photo)
    assert len(found) == 1
    left, top, right, bottom = found[0].box
    assert 100 < left < right < 420 and 80 < top < bottom < 400
    assert Predictor(inference_dir).predict_faces(np.full((300, 300, 3), 128, np.uint8)) == []


def test_deploy_imports_without_paddle_or_onnxruntime():
    code = ("import sys, deploy.predictor, deploy.photos, deploy.video, deploy.report, deploy.bench; "
            "assert not {'paddle', 'onnxruntime', 'fastdeploy'} & set(sys.modules), sys.modules.keys(); "
            "import os, basics; assert os.environ.get('MKL_DEBUG_CPU_TYPE') == ('5' if basics.is_amd_cpu() else None)")
    env = {"PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=60)


# Runs in a fresh process: the OpenMP runtime's threads' spin time once Paddle Inference has run on the CPU.
BLOCKTIME_SCRIPT = """
import ctypes, sys
from pathlib import Path
import numpy as np
import paddle
from deploy.predictor import Classifier
Classifier(sys.argv[1]).predict_probs([np.zeros((48, 48), np.uint8)])
print(ctypes.CDLL(str(Path(paddle.__file__).parent / "libs" / "libiomp5.so")).kmp_get_blocktime())
"""


@pytest.mark.parametrize("environ, expected", [({}, 5), ({"KMP_BLOCKTIME": "30"}, 30)])
def test_the_cpu_backend_stops_openmp_spinning_soon_unless_told(inference_dir, environ, expected):
    """OpenMP's threads spin 5 ms after each inference, not its default 200, so that they leave the core to the
    face finder's passes (deploy.backends.OPENMP_BLOCKTIME_MS); a KMP_BLOCKTIME the user set is kept."""
    env = {"PATH": "/usr/bin:/bin", **environ}
    result = subprocess.run([sys.executable, "-c", BLOCKTIME_SCRIPT, str(inference_dir)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.split()[-1]) == expected


def test_benchmark_reports_latency_and_throughput(inference_dir):
    from deploy.bench import benchmark_backends

    result, = benchmark_backends(inference_dir, backends=["paddle"], batch_size=4, single_runs=5, batch_runs=2,
                                 repeats=2, warmup=1)
    assert 0 < result["p50_ms"] <= result["p95_ms"] and result["throughput_ips"] > 0
    assert result["backend"] == "paddle" and result["batch_size"] == 4
    stated = subprocess.run([sys.executable, "tools/benchmark.py", "predictor", "--model-dir", str(inference_dir),
                             "--precision", "fp32", "--single-runs", "2", "--batch-runs", "1", "--repeats", "1",
                             "--warmup", "1"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert stated.returncode == 0, stated.stderr[-2000:]
    assert json.loads(stated.stdout.splitlines()[-1])["precision"] == "fp32"


def test_a_large_photo_gives_the_same_face(inference_dir):
    import matplotlib.cbook

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        photo = cv2.imdecode(np.frombuffer(f.read(), np.uint8), cv2.IMREAD_COLOR)
    big = cv2.resize(photo, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)  # 2048x2400
    predictor = Predictor(inference_dir)
    small_box = predictor.predict_faces(photo)[0].box
    big_box = predictor.predict_faces(big)[0].box
    # Boxes come back in the full photo's pixels: about 4x the small photo's.
    l, t, r, b = (4 * v for v in small_box)
    overlap = max(0, min(r, big_box[2]) - max(l, big_box[0])) * max(0, min(b, big_box[3]) - max(t, big_box[1]))
    union = (r - l) * (b - t) + (big_box[2] - big_box[0]) * (big_box[3] - big_box[1]) - overlap
    assert overlap / union > 0.7


def test_inference_yml_of_both_shapes_loads(inference_dir, tmp_path):
    """PaddleClas's {Topk: {topk, label_list}}, which export writes, and {name: Topk, ...}, which it wrote before."""
    import shutil
    config = yaml.safe_load((Path(inference_dir) / "inference.yml").read_text())
    assert list(config["PostProcess"]) == ["Topk"]
    old = tmp_path / "old"
    shutil.copytree(inference_dir, old)
    config["PostProcess"] = {"name": "Topk", **config["PostProcess"]["Topk"]}
    (old / "inference.yml").write_text(yaml.safe_dump(config))
    image = np.full((48, 48), 128, np.uint8)
    np.testing.assert_allclose(Predictor(old).predict_probs([image]), Predictor(inference_dir).predict_probs([image]))
    assert Predictor(old).labels == Predictor(inference_dir).labels == ["angry", "fear", "happy", "surprise"]


def test_the_missing_model_hint_names_the_checkpoint_the_shipped_recipe_writes():
    from deploy.preprocess import EXPORT_HINT
    from engine.config import load_config

    recipe = re.search(r"^DISTILL_CONFIG := (\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    config = load_config(ROOT / recipe, [])
    output = config["Global"]["output_dir"].removeprefix("./")
    assert f"-c {recipe} " in EXPORT_HINT and f"{output}/{config['Arch']['name']}/best_model" in EXPORT_HINT


def test_the_predictor_finds_faces_with_the_finder_it_is_given(inference_dir):
    import matplotlib.cbook

    from deploy.faces import FaceFinder

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        photo = cv2.imdecode(np.frombuffer(f.read(), np.uint8), cv2.IMREAD_COLOR)
    strict = Predictor(inference_dir, finder=FaceFinder(min_face=300)).predict_faces(photo)
    assert strict == [] and len(strict.too_small) == 1 and strict.min_face == 300
    default = Predictor(inference_dir).predict_faces(photo)
    assert len(default) == 1 and default.too_small == [] and default.min_face == 24
    assert Predictor(inference_dir).predict_faces(photo, min_face=300) == []


def test_the_benchmark_times_the_routed_predictor_on_masked_and_unmasked_faces():
    from deploy.bench import benchmark, mixed_faces

    shipped = Predictor(ROOT / "inference")
    assert [p.masked for p in shipped.predict(mixed_faces())] == [False, True]
    result = benchmark(ROOT / "inference", route=True, batch_size=4, single_runs=3, batch_runs=1, repeats=1,
                       warmup=1)
    assert result["routed"] and 0 < result["p50_ms"] and result["throughput_ips"] > 0


SHIPPED = ROOT / "inference"


def supports_bfloat16() -> bool:
    from paddle.base import core
    return bool(core.supports_bfloat16())


@pytest.mark.skipif(not supports_bfloat16(), reason="this CPU has no AVX-512: MKLDNN runs no bfloat16 here")
def test_bfloat16_answers_as_float32_does_within_its_rounding():
    """The paddle backend's precision: bf16 computes the shipped fused graph in bfloat16 (its answers move), within
    the rounding of bfloat16's 8-bit mantissa; auto is bf16 exactly where the CPU computes it natively."""
    from paddle.base import core

    from deploy.android.package_model import photo_faces

    faces = photo_faces()
    answers = {}
    for precision in ("fp32", "bf16", "auto"):
        predictor = Predictor(SHIPPED, precision=precision)
        answers[precision] = predictor.fused.predict_probs(faces)
        native = core.supports_bfloat16_fast_performance()
        assert predictor.fused.backend.precision == {"fp32": "fp32", "bf16": "bf16"}.get(
            precision, "bf16" if native else "fp32")
    moved = np.abs(answers["bf16"] - answers["fp32"]).max()
    assert 1e-5 < moved < 0.05, moved


def test_precision_is_checked_before_the_model_loads():
    with pytest.raises(ConfigError, match="choose auto, fp32, bf16"):
        Predictor(SHIPPED, precision="fp16")
    with pytest.raises(ConfigError, match="drop mkldnn=False"):
        Predictor(SHIPPED, precision="bf16", mkldnn=False)
    with pytest.raises(ConfigError, match="the onnx backend has no option precision"):
        Predictor(SHIPPED, backend="onnx", precision="fp32")


def test_the_command_line_prints_no_bfloat16_passes(tmp_path):
    """Paddle's bfloat16 passes write each step to stderr; a user's command line shows the answers only."""
    face = tmp_path / "face.png"
    cv2.imwrite(str(face), np.full((48, 48), 128, np.uint8))
    result = subprocess.run([sys.executable, "tools/predict.py", "--precision", "bf16", str(face)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "face.png" in result.stdout and "bfloat16" not in result.stderr.lower(), result.stderr[-2000:]
