"""tools/predict.py end to end: folders of real FER2013 faces, photos with several faces, a video, bad input."""
import csv
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from predictor_models import fer2013_faces

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("predict_tool", ROOT / "tools" / "predict.py")
predict_tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(predict_tool)


def run_cli(*args):
    """In-process (one paddle import for the whole file); SystemExit from argparse becomes the return code."""
    try:
        return predict_tool.main([str(a) for a in args])
    except SystemExit as exit_:
        return exit_.code


@pytest.fixture(scope="module")
def photo(fer2013_dir, tmp_path_factory):
    """Six FER2013 faces, enlarged, pasted on a 900x480 canvas and saved as a JPEG photo."""
    from masker.faces import detect_faces

    faces = [cv2.resize(cv2.imread(str(p)), (160, 160), interpolation=cv2.INTER_CUBIC)
             for p in fer2013_faces(fer2013_dir, 30)]
    faces = [f for f in faces if len(detect_faces(f)) == 1][:6]
    canvas = np.full((480, 900, 3), 190, np.uint8)
    for i, face in enumerate(faces):
        y, x = 30 + (i // 3) * 230, 40 + (i % 3) * 290
        canvas[y:y + 160, x:x + 160] = face
    path = tmp_path_factory.mktemp("photo") / "group.jpg"
    cv2.imwrite(str(path), canvas)
    return path


def test_folder_of_real_faces_to_table_csv_json_and_annotations(inference_dir, fer2013_dir, tmp_path, capsys):
    folder = tmp_path / "faces"
    (folder / "nested").mkdir(parents=True)
    faces = fer2013_faces(fer2013_dir, 10)
    for i, face in enumerate(faces):  # links, not copies: the dataset stays where it is
        (folder / ("nested" if i % 2 else "") / f"{i}_{face.name}").symlink_to(face)
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    (folder / "notes.txt").write_text("ignored: not an image suffix")
    out = tmp_path / "out"
    code = run_cli("--model-dir", inference_dir, folder, "--csv", out / "p.csv", "--json", out / "p.json",
                   "--annotate", out / "annotated", "--topk", 2, "--batch-size", 4)
    assert code == 0
    table = capsys.readouterr().out
    assert "broken.jpg" in table and "not an image (PIL cannot read it)" in table
    with open(out / "p.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 10 and {r["label"] for r in rows} <= {"angry", "fear", "happy", "surprise"}
    assert set(rows[0]) >= {"file", "label", "score", "top1_label", "top2_score"} and "top3_label" not in rows[0]
    report = json.loads((out / "p.json").read_text())
    assert len(report["predictions"]) == 10 and report["labels"] == ["angry", "fear", "happy", "surprise"]
    assert [e["file"] for e in report["errors"]] == [str(folder / "broken.jpg")]
    annotated = sorted((out / "annotated").iterdir())
    assert len(annotated) == 10 and cv2.imread(str(annotated[0])).shape[0] >= 256


def test_faces_on_a_photo_with_boxes_and_annotation(inference_dir, photo, tmp_path, capsys):
    code = run_cli("--model-dir", inference_dir, photo, "--faces", "--csv", tmp_path / "f.csv",
                   "--annotate", tmp_path / "ann")
    assert code == 0
    with open(tmp_path / "f.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and sorted(int(r["face"]) for r in rows) == list(range(6))
    for r in rows:
        assert 0 <= int(r["left"]) < int(r["right"]) <= 900 and 0 <= int(r["top"]) < int(r["bottom"]) <= 480
    drawn = cv2.imread(str(tmp_path / "ann" / "group.jpg"))
    original = cv2.imread(str(photo))
    assert drawn.shape == original.shape and np.abs(drawn.astype(int) - original).mean() > 1
    assert "group.jpg #5" in capsys.readouterr().out


def test_video_frame_by_frame(inference_dir, photo, tmp_path, capsys):
    video = tmp_path / "clip.avi"
    frame = cv2.imread(str(photo))
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (frame.shape[1], frame.shape[0]))
    for shift in range(5):
        writer.write(np.roll(frame, shift * 4, axis=1))
    writer.release()
    code = run_cli("--model-dir", inference_dir, "--video", video, "--max-frames", 3, "--annotate", tmp_path / "ann",
                   "--json", tmp_path / "v.json")
    assert code == 0
    report = json.loads((tmp_path / "v.json").read_text())
    assert report["video"]["frames"] == 3 and report["video"]["fps"] > 0
    assert sorted({p["frame"] for p in report["predictions"]}) == [0, 1, 2]
    # Each face found in the first frame is followed through the next two. On this MJPG frame the finder finds the
    # six upscaled grey faces (five while its scaled pass was at most 480 px a side, 2026-12-07 afternoon).
    assert len(report["predictions"]) == 18
    capture = cv2.VideoCapture(str(tmp_path / "ann" / "clip_annotated.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    assert "FPS" in capsys.readouterr().err


def test_bad_inputs_fail_clearly(inference_dir, tmp_path, capsys):
    assert run_cli("--model-dir", tmp_path / "nowhere", "x.jpg") == 2
    assert "export_model.py" in capsys.readouterr().err
    assert run_cli("--model-dir", inference_dir, tmp_path / "missing.jpg") == 1
    assert "no such file" in capsys.readouterr().out
    assert run_cli("--model-dir", inference_dir) == 2  # nothing to classify
    assert run_cli("--model-dir", inference_dir, "--video", tmp_path / "none.mp4") == 2
    assert "cannot open video" in capsys.readouterr().err
    assert run_cli("--model-dir", inference_dir, "a.jpg", "--backend", "tensorflow") == 2
    assert run_cli("--model-dir", inference_dir, "a.jpg", "--backend", "fastdeploy") == 2
    assert ".venv310" in capsys.readouterr().err
    assert run_cli("--model-dir", inference_dir, "a.jpg", "--backend", "onnx") == 2
    assert "export_onnx.py" in capsys.readouterr().err


def test_the_script_runs_as_a_command(inference_dir, fer2013_dir):
    face = fer2013_faces(fer2013_dir, 1)[0]
    result = subprocess.run([sys.executable, "tools/predict.py", "--model-dir", str(inference_dir), str(face)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert face.name in result.stdout


def test_an_interrupted_run_keeps_what_was_done(inference_dir, fer2013_dir):
    from deploy.photos import predict_images
    from deploy.predictor import Predictor

    predictor = Predictor(inference_dir, batch_size=2)
    real_predict = predictor.predict
    calls = []

    def predict_then_ctrl_c(images):
        calls.append(len(images))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_predict(images)

    predictor.predict = predict_then_ctrl_c  # stands in for the user pressing Ctrl-C during the third batch
    files = fer2013_faces(fer2013_dir, 7)
    rows, errors = predict_images(predictor, files, progress=False)
    assert len(rows) == 4
    assert errors == [{"file": str(files[4]), "error": "interrupted: this and 2 more files were not classified"}]
