"""The Android side: packaging the exported model into the app, Paddle Lite's ARM conversion, and static checks
that the app's Java source and resources agree with what the packager writes (the app itself cannot be built
here: no Android SDK or FastDeploy AAR can be downloaded)."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import numpy as np

from deploy.android import face_detector
from deploy.android import package_model as packager

ROOT = Path(__file__).resolve().parents[1]
ANDROID = ROOT / "deploy" / "android"
APP = ANDROID / "app"
JAVA = APP / "src" / "main" / "java" / "com" / "maskedfer" / "expression"


def java_constant(source: str, name: str) -> str:
    match = re.search(rf"static final \w+(?:\[\])? {name} = (.+?);", source, re.S)
    assert match, f"{name} is not declared"
    return match.group(1)


@pytest.fixture(scope="module")
def packaged(py310, inference_dir, tmp_path_factory):
    """The real command, in a copy of the app (the tree's own assets stay untouched)."""
    work = tmp_path_factory.mktemp("android")
    app = work / "app"
    shutil.copytree(APP, app, ignore=shutil.ignore_patterns("assets", "*.aar"))
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "package_android.py"), "--model-dir", str(inference_dir),
                             "--app", str(app), "--nb-dir", str(work / "nb")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return app / "src" / "main" / "assets", work / "nb", result.stdout


def test_assets_have_the_names_and_formats_the_sdk_expects(packaged, inference_dir):
    assets, _, _ = packaged
    model = assets / "models" / "fer_expression"
    assert sorted(p.name for p in model.iterdir()) == ["inference.pdiparams", "inference.pdmodel",
                                                      "inference_cls.yaml"]
    for name in ("inference.pdmodel", "inference.pdiparams"):
        assert (model / name).read_bytes() == (inference_dir / name).read_bytes()
    config = yaml.safe_load((model / "inference_cls.yaml").read_text())
    assert config == yaml.safe_load((inference_dir / "inference.yml").read_text())
    ops = [next(iter(op)) for op in config["PreProcess"]["transform_ops"]]
    assert set(ops) <= {"ResizeImage", "CropImage", "NormalizeImage", "ToCHWImage"}
    labels = (assets / "labels" / "fer_expression_labels.txt").read_text(encoding="utf-8").splitlines()
    assert labels == config["PostProcess"]["Topk"]["label_list"] == ["angry", "fear", "happy", "surprise"]
    assert (assets / "labels" / "fer_expression_heads.txt").read_text().splitlines() == ["expression 0 4"]


def test_a_fused_model_goes_to_the_app_with_its_heads_and_every_score(tmp_path):
    """The shipped fused graph's assets: its heads for Heads.java, and a config that asks FastDeploy for all eleven
    scores (inference.yml's Topk keeps 4, which would leave the app without the other heads)."""
    from deploy.preprocess import read_inference_config

    fused = ROOT / "inference" / "fused"
    config = read_inference_config(fused)
    labels = [str(label) for label in config["PostProcess"]["label_list"]]
    packager.copy_assets(fused, tmp_path, config, labels)
    assert (tmp_path / packager.HEADS_ASSET).read_text().splitlines() == ["face_status 0 3", "masked 3 7",
                                                                          "unmasked 7 11"]
    written = yaml.safe_load((tmp_path / packager.MODEL_ASSET_DIR / "inference_cls.yaml").read_text())
    assert written["PostProcess"] == {"Topk": {"topk": 11, "label_list": labels}}
    assert written["PreProcess"] == yaml.safe_load((fused / "inference.yml").read_text())["PreProcess"]
    assert (tmp_path / packager.MODEL_ASSET_DIR / "inference.pdmodel").read_bytes() == \
        (fused / "inference.pdmodel").read_bytes()


def test_paddle_lite_supports_every_op_on_arm_and_writes_the_nb(packaged):
    _, nb_dir, stdout = packaged
    nb = nb_dir / "fer_expression.nb"
    assert nb.is_file() and nb.stat().st_size > 100_000  # the tiny model's weights alone are ~1 MB
    assert "supports all" in stdout
    for op in ("conv2d", "softmax", "feed", "fetch"):
        assert op in stdout
    assert not [p for p in nb_dir.iterdir() if p.name != nb.name], "no temporary files are left behind"


def test_the_face_finders_models_go_to_the_app_as_arm_nb_files(packaged):
    assets, _, stdout = packaged
    folder = assets / face_detector.DETECTOR_ASSET_DIR
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{name}.nb" for name in face_detector.DETECTOR_MODELS)
    for name in face_detector.DETECTOR_MODELS:
        assert (folder / f"{name}.nb").stat().st_size > 100_000   # the weights: 229 KB and 1.1 MB as .tflite
        assert f"asset   {folder / name}.nb" in stdout


UNSUPPORTED = """OPs in the input model include:
                                        OP_name  kARM  kHost
                                         conv2d     Y       
                                          fetch            Y
                                   grid_sampler             
Error: This model is not supported, because 1 ops are not supported on 'arm'. These unsupported ops are: 'grid_sampler'.
"""


def test_op_table_parsing():
    ops = packager.parse_model_ops(UNSUPPORTED)
    assert ops.supported == {"conv2d": ["kARM"], "fetch": ["kHost"], "grid_sampler": []}
    assert ops.unsupported == ["grid_sampler"]
    assert "not supported" in ops.verdict
    with pytest.raises(packager.PackagingError, match="no op table"):
        packager.parse_model_ops("Segmentation fault")


def test_unsupported_ops_fail_clearly(tmp_path, inference_dir):
    fake_opt = tmp_path / "paddle_lite_opt"
    fake_opt.write_text(f"#!/bin/sh\ncat <<'END'\n{UNSUPPORTED}END\n")
    fake_opt.chmod(0o755)
    app = tmp_path / "app"
    (app / "src" / "main").mkdir(parents=True)
    (app / "src" / "main" / "AndroidManifest.xml").write_text("<manifest/>")
    with pytest.raises(packager.PackagingError, match="grid_sampler"):
        packager.package_model(inference_dir, app, tmp_path / "nb", paddle_lite_opt=str(fake_opt))
    assert not (app / "src" / "main" / "assets").exists(), "nothing is copied when the model cannot run on ARM"


def test_missing_model_is_a_clear_error(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "package_android.py"), "--model-dir", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "inference.pdmodel not found" in result.stderr and "export" in result.stderr


def test_java_reads_the_asset_names_the_packager_writes():
    source = (JAVA / "ExpressionClassifier.java").read_text()
    assert java_constant(source, "MODEL_ASSET_DIR") == f'"{packager.MODEL_ASSET_DIR}"'
    assert java_constant(source, "LABELS_ASSET") == f'"{packager.LABELS_ASSET}"'
    assert java_constant(source, "HEADS_ASSET") == f'"{packager.HEADS_ASSET}"'
    java_files = {java_constant(source, name).strip('"') for name in ("MODEL_FILE", "PARAMS_FILE", "CONFIG_FILE")}
    assert java_files == set(packager.MODEL_FILES.values())
    # The SDK calls the demo uses.
    assert "import com.baidu.paddle.fastdeploy.vision.classification.PaddleClasModel;" in source
    assert "model.init(" in source and "model.predict(" in source and "mLabelIds" in source


def test_java_finds_and_crops_faces_with_the_desktop_finders_settings():
    from deploy import faces

    source = (JAVA / "ExpressionAnalyzer.java").read_text()
    assert int(java_constant(source, "CROP_SIZE")) == faces.FACE_SIZE
    blazeface = (JAVA / "BlazeFace.java").read_text()
    for name in ("SHORT_RANGE_SCORE", "FULL_RANGE_SCORE", "SHORT_RANGE_MIN_SHARE", "NMS_IOU", "CLOSE_UP_PAD",
                 "MIN_FACE", "BOX_SCALE",
                 "BOX_SHIFT", "FER2013_POINTS", "FER2013_BOX", "TILT_KEPT_DEGREES", "RIGHT_EYE", "LEFT_EYE"):
        numbers = [float(v) for v in re.findall(r"-?[\d.]+", java_constant(blazeface, name))]
        assert numbers == pytest.approx(list(np.ravel(getattr(faces, name)))), name
    for name, (size, strides, per_layer) in faces.MODELS.items():
        declared = re.search(rf'\("{name}", (\d+), new int\[\]\{{([\d, ]+)\}}, (\d+),', blazeface)
        assert declared, name
        assert (int(declared[1]), tuple(int(v) for v in declared[2].split(",")), int(declared[3])) == \
            (size, strides, per_layer)
    finder = (JAVA / "FaceFinder.java").read_text()
    assert java_constant(finder, "DETECTOR_ASSET_DIR") == f'"{face_detector.DETECTOR_ASSET_DIR}"'
    gray = re.findall(r"0\.\d+f", java_constant(source, "GRAY"))[:3]
    assert [float(v[:-1]) for v in gray] == [0.299, 0.587, 0.114], "OpenCV's BGR2GRAY weights"


def test_resources_the_activity_uses_exist():
    layout = (APP / "src" / "main" / "res" / "layout" / "activity_main.xml").read_text()
    strings = (APP / "src" / "main" / "res" / "values" / "strings.xml").read_text()
    manifest = (APP / "src" / "main" / "AndroidManifest.xml").read_text()
    ids = set(re.findall(r'@\+id/(\w+)', layout))
    names = set(re.findall(r'<string name="(\w+)"', strings))
    code = "".join(p.read_text() for p in JAVA.glob("*.java"))
    assert set(re.findall(r"R\.id\.(\w+)", code)) <= ids
    assert set(re.findall(r"R\.string\.(\w+)", code)) <= names
    assert set(re.findall(r"@string/(\w+)", layout + manifest)) <= names
    assert 'android:name=".MainActivity"' in manifest and "android.permission.CAMERA" in manifest
    assert "com.maskedfer.expression.OverlayView" in layout
    for java in JAVA.glob("*.java"):
        assert java.read_text().startswith("package com.maskedfer.expression;"), java.name


def test_java_sources_parse(tmp_path):
    javac = shutil.which("javac")
    if javac is None:
        pytest.skip("no javac on this machine")
    # Parse only: the Android and FastDeploy classes are not available here to type-check against.
    result = subprocess.run([javac, "-XDshould-stop.ifNoError=PARSE", "-d", str(tmp_path),
                             *map(str, JAVA.glob("*.java"))], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def trained_like_model(tmp_path_factory):
    """A FaceCNN exported as the shipped config exports it (mirror averaging in the graph), with random weights
    that tell faces apart (the tiny fixture's answer is 0.25 everywhere, which any runtime would match)."""
    import paddle

    from engine.config import load_config
    from engine.export import export
    from engine.model import build_model

    root = tmp_path_factory.mktemp("lite")
    (root / "labels.txt").write_text("0 angry\n1 fear\n2 happy\n3 surprise\n")
    config = load_config(ROOT / "configs" / "masked_fer" / "FaceCNN_cpu.yaml", [
        f"Global.save_inference_dir={root / 'model'}", f"Infer.PostProcess.class_id_map_file={root / 'labels.txt'}",
        f"Global.pretrained_model={root / 'weights'}"])
    paddle.seed(21)
    paddle.save(build_model(config).state_dict(), str(root / "weights.pdparams"))
    return export(config)


def real_faces(fer2013_dir=None):
    import cv2
    faces = packager.photo_faces()
    if fer2013_dir is not None:
        from predictor_models import fer2013_faces
        faces += [cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) for path in fer2013_faces(fer2013_dir, 12)]
    return faces


def test_paddle_lite_runtime_matches_paddle_inference(py310, trained_like_model, request):
    import numpy as np

    from deploy.predictor import Predictor

    try:
        fer2013_dir = request.getfixturevalue("fer2013_dir")
    except pytest.skip.Exception:
        fer2013_dir = None
    faces = real_faces(fer2013_dir)
    probs = Predictor(trained_like_model).predict_probs(faces)
    assert probs.max(axis=1).min() > 0.26 and np.ptp(probs[:, 0]) > 1e-3     # answers that differ by face
    difference = packager.check_lite_runtime(trained_like_model, faces)
    assert difference <= packager.CHECK_TOLERANCE



def test_paddle_lite_runs_a_fused_models_every_head(py310, tmp_path):
    """A fused model (face status and both expressions, heads of one graph) in Paddle Lite's runtime: the check
    compares the graph's whole answer (it compared the masked head alone with Lite's eleven columns)."""
    from test_predictor_fused import export_fused, faces

    folder = export_fused(tmp_path / "fused")
    assert packager.check_lite_runtime(folder, faces(8)) <= packager.CHECK_TOLERANCE

def test_package_model_check_runs_the_lite_runtime(py310, trained_like_model, tmp_path):
    app = tmp_path / "app"
    shutil.copytree(APP, app, ignore=shutil.ignore_patterns("assets", "*.aar"))
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "package_android.py"), "--model-dir",
                             str(trained_like_model), "--app", str(app), "--nb-dir", str(tmp_path / "nb"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Paddle Lite's runtime (x86 build) matches Paddle Inference on 4 real faces" in result.stdout
    for name in face_detector.DETECTOR_MODELS:
        assert f"check   {name}: Paddle Lite's runtime (x86 build) matches the .tflite on 3 photos" in result.stdout


def realmask_photos(count):
    from conftest import SHARED
    folder = SHARED / "realmask" / "photos"
    return sorted(folder.glob("*.jpg"))[:count] if folder.is_dir() else []


def java_harness(tmp_path_factory, app_class: str) -> list:
    """The command that runs tests/java/<app_class>Check.java on the app's <app_class>.java, compiled by the JDK."""
    javac, java = shutil.which("javac"), shutil.which("java")
    if javac is None or java is None:
        pytest.skip("no JDK on this machine")
    out = tmp_path_factory.mktemp(f"{app_class}_java")
    result = subprocess.run([javac, "-d", str(out), str(JAVA / f"{app_class}.java"),
                             str(ROOT / "tests" / "java" / f"{app_class}Check.java")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return [java, "-cp", str(out), f"com.maskedfer.expression.{app_class}Check"]


@pytest.fixture(scope="module")
def blazeface_java(tmp_path_factory):
    return java_harness(tmp_path_factory, "BlazeFace")


def test_the_apps_decoding_finds_what_the_desktop_finder_finds(blazeface_java, tmp_path):
    """BlazeFace.java, run by a JDK on the models' outputs for each of its passes, against deploy/faces.py's
    FaceFinder on the same pictures with the same passes (the phone's full-range pass is on the model's own 192 px
    input): the same faces, boxes, scores, keypoints and crops."""
    import cv2
    import numpy as np
    from skimage import data

    from deploy.faces import Face, FaceFinder, blazeface, fer2013_transform
    from masker.photo import mask_photo

    astronaut = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    photos = [astronaut, mask_photo(astronaut, "surgical", "blue"), cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR),
              np.ascontiguousarray(cv2.resize(astronaut, (900, 500))[:, ::-1])]
    photos += [cv2.imread(str(path)) for path in realmask_photos(12)]
    finder = FaceFinder(full_range_face=None)
    compared = 0
    for index, photo in enumerate(photos):
        rgb = cv2.cvtColor(photo, cv2.COLOR_BGR2RGB)
        lines = [f"{rgb.shape[1]} {rgb.shape[0]}"]
        for view in finder.views(*rgb.shape[:2]):
            raw, logits = blazeface(view.model_name).outputs(view.input(rgb))
            lines += [" ".join(f"{v:.9g}" for v in raw.ravel()), " ".join(f"{v:.9g}" for v in logits)]
        (tmp_path / "in.txt").write_text("\n".join(lines) + "\n")
        result = subprocess.run(blazeface_java + [str(tmp_path / "in.txt")], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        java = [np.array(row.split(), float) for row in result.stdout.splitlines()]
        python = finder(photo)
        assert len(java) == len(python), f"photo {index}: Java found {len(java)} faces, Python {len(python)}"
        for got, face in zip(java, python):
            np.testing.assert_allclose(got[:4], face.box, atol=1.0, err_msg=f"photo {index} box")
            assert got[4] == pytest.approx(face.score, abs=1e-5)
            np.testing.assert_allclose(got[5:17], face.keypoints.ravel(), atol=0.02)
            as_java_found = Face(tuple(got[:4]), face.score, got[5:17].reshape(6, 2))
            np.testing.assert_allclose(got[17:23], fer2013_transform(as_java_found).ravel(), rtol=1e-4, atol=1e-3)
            compared += 1
    assert compared >= 4, "too few faces to compare"


@pytest.fixture(scope="module")
def heads_java(tmp_path_factory):
    return java_harness(tmp_path_factory, "Heads")


def test_the_app_reads_the_fused_graph_as_the_desktop_predictor_does(heads_java, tmp_path):
    """Heads.java on the shipped fused graph's scores for real face crops, given as FastDeploy gives them (class id
    and score, best first): the same expression, score, mask status and P(no face) as deploy/predictor.py's
    Predictor on that folder (the phone has no face-status graph: the fused graph's own head answers)."""
    import cv2

    from deploy.predictor import MASKED_FROM, NO_FACE_THRESHOLD, Predictor
    from masker.photo import mask_photo

    java_source = (JAVA / "Heads.java").read_text()
    assert float(java_constant(java_source, "MASKED_FROM").rstrip("f")) == MASKED_FROM
    assert float(java_constant(java_source, "NO_FACE_THRESHOLD").rstrip("f")) == NO_FACE_THRESHOLD
    fused = ROOT / "inference" / "fused"
    predictor = Predictor(fused)
    faces = packager.photo_faces()
    faces += [cv2.cvtColor(cv2.resize(mask_photo(cv2.cvtColor(face, cv2.COLOR_GRAY2BGR)), (48, 48)),
                           cv2.COLOR_BGR2GRAY) for face in faces]
    probs = predictor.fused.predict_probs(faces)
    labels = predictor.fused.labels
    lines = [" ".join(labels), "3", "face_status 0 3", "masked 3 7", "unmasked 7 11"]
    lines += [" ".join(f"{i}:{row[i]:.9g}" for i in np.argsort(-row)) for row in probs]
    (tmp_path / "in.txt").write_text("\n".join(lines) + "\n")
    result = subprocess.run(heads_java + [str(tmp_path / "in.txt")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    answers = [row.split() for row in result.stdout.splitlines()]
    expected = predictor.predict(faces)
    status = predictor.face_status(faces)
    assert len(answers) == len(expected) == 8 and {a.masked for a in expected} == {True, False}
    for (label, score, masked, mask_score, no_face), want, (want_no_face, _) in zip(answers, expected, status):
        assert label == want.label and float(score) == pytest.approx(want.score, abs=1e-6)
        assert masked == str(want.masked).lower() and float(mask_score) == pytest.approx(want.mask_score, abs=1e-6)
        assert float(no_face) == pytest.approx(want_no_face, abs=1e-6)
