"""Masking and prediction on Ray Data (--engine ray): the same bytes and answers as the single-machine paths, on
the embedded local cluster and on a cluster of two Ray nodes; a killed worker, a stopped job and bad files lose
nothing and write nothing twice."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
from skimage import data

from deploy.photos import predict_images
from deploy.predictor import Predictor
from deploy.video import predict_video
from masker.photo import mask_photo
from masker.synthetic import write_synthetic_fer2013

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
RAY = str(Path(PYTHON).with_name("ray"))


def run(args, **kwargs):
    return subprocess.run([PYTHON, *args], cwd=ROOT, capture_output=True, text=True, timeout=600, **kwargs)


def tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_masking_on_ray_writes_the_pool_paths_bytes(tmp_path):
    faces = tmp_path / "fer"
    write_synthetic_fer2013(faces, 12, seed=3)
    common = ["tools/make_dataset.py", "--fer2013", str(faces), "--workers", "2", "--seed", "5"]
    pool, ray = run([*common, "--out", str(tmp_path / "pool")]), run([*common, "--out", str(tmp_path / "ray"),
                                                                      "--engine", "ray"])
    assert pool.returncode == 0 and ray.returncode == 0, ray.stderr[-3000:]
    written, on_ray = tree(tmp_path / "pool"), tree(tmp_path / "ray")
    assert sorted(written) == sorted(on_ray) and len([k for k in written if k.endswith(".jpg")]) >= 60
    for name in written:
        if name != "manifest.json":
            assert written[name] == on_ray[name], name
    manifests = [json.loads(t["manifest.json"]) for t in (written, on_ray)]
    for manifest in manifests:
        del manifest["timing"], manifest["args"]["out"]
    assert manifests[0] == manifests[1]


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Two real photos with a face (one masked), a photo with none, a file that is no image, and a short video."""
    root = tmp_path_factory.mktemp("photos")
    astronaut = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(root / "astronaut.jpg"), astronaut)
    cv2.imwrite(str(root / "masked.jpg"), mask_photo(astronaut, "surgical", "blue"))
    cv2.imwrite(str(root / "coffee.jpg"), cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR))
    (root / "broken.jpg").write_bytes(b"not an image")
    writer = cv2.VideoWriter(str(root / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (512, 512))
    for shift in range(0, 24, 3):
        writer.write(np.roll(astronaut, shift, axis=1))
    writer.release()
    return root


def shard_records(out: Path) -> list:
    return [r for p in sorted((out / "shards").glob("*.parquet")) for r in pq.read_table(p).to_pylist()]


def test_prediction_on_ray_equals_the_single_process_path(photos, tmp_path):
    listing = tmp_path / "paths.csv"
    listing.write_text("path\n" + "".join(f"{photos / n}\n" for n in ("astronaut.jpg", "masked.jpg", "coffee.jpg",
                                                                       "broken.jpg", "clip.avi")))
    out = tmp_path / "job"
    result = run(["tools/predict.py", "--engine", "ray", "--faces", "--out", str(out), "--workers", "2",
                  "--shard-size", "2", "--csv", str(tmp_path / "all.csv"), str(listing)])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "5 inputs in 3 shards (0 done before)" in result.stdout
    records = shard_records(out)
    predictor = Predictor(ROOT / "inference")
    files = [photos / n for n in ("astronaut.jpg", "masked.jpg", "coffee.jpg", "broken.jpg")]
    rows, errors = predict_images(predictor, files, faces=True, progress=False)
    video_rows, _ = predict_video(predictor, str(photos / "clip.avi"), progress=False, report=lambda line: None)
    expected = [*rows, *video_rows]
    answered = [r for r in records if r["error"] is None]
    assert len(answered) == len(expected) and len(rows) >= 2 and len(video_rows) >= 6
    for got, want in zip(answered, expected):
        assert (got["file"], got["face"], got["frame"], got["track"], got["label"], got["masked"]) == \
            (want["file"], want["face"], want.get("frame"), want.get("track"), want["label"], want.get("masked"))
        assert [got[k] for k in ("left", "top", "right", "bottom")] == want["box"]
        np.testing.assert_allclose(got["scores"], want["scores"], atol=1e-5)
        np.testing.assert_allclose(got["mask_score"], want["mask_score"], atol=1e-5)
    assert [r["frame"] for r in answered if r["frame"] is not None] == sorted(r["frame"] for r in video_rows)
    # One error row a bad input, with its reason, as the single-process path gives.
    failed = {Path(r["file"]).name: r["error"] for r in records if r["error"] is not None}
    assert failed == {Path(e["file"]).name: e["error"] for e in errors} and set(failed) == {"broken.jpg",
                                                                                           "coffee.jpg"}
    csv_lines = (tmp_path / "all.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + len(expected) and csv_lines[0].startswith("file,face,frame")


def many_faces(root: Path, count: int) -> Path:
    """`count` face crops (copies of a few generated ones, each its own file)."""
    faces = root / "faces"
    write_synthetic_fer2013(root / "fer", 2, seed=1)
    sources = sorted((root / "fer").rglob("*.jpg"))
    faces.mkdir()
    for i in range(count):
        (faces / f"face_{i:04d}.jpg").write_bytes(sources[i % len(sources)].read_bytes())
    return faces


def start_job(faces: Path, out: Path, *extra):
    return subprocess.Popen([PYTHON, "tools/predict.py", "--engine", "ray", "--out", str(out), "--workers", "2",
                             "--shard-size", "4", *extra, str(faces)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_shards(out: Path, at_least: int, job, limit=300):
    deadline = time.time() + limit
    while len(list((out / "shards").glob("*.parquet"))) < at_least:
        assert job.poll() is None, job.communicate()[1][-3000:]
        assert time.time() < deadline, "no shard was written in time"
        time.sleep(0.2)


def assert_each_input_once(out: Path, faces: Path):
    files = [r["file"] for r in shard_records(out)]
    assert sorted(files) == sorted(str(p) for p in faces.iterdir())


def ray_workers():
    found = subprocess.run(["pgrep", "-f", "ShardPredictor"], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in found if int(pid) != os.getpid()]


def test_a_killed_worker_loses_nothing_and_writes_nothing_twice(tmp_path):
    faces = many_faces(tmp_path, 160)
    out = tmp_path / "job"
    job = start_job(faces, out)
    wait_for_shards(out, 2, job)
    victims = ray_workers()
    assert victims, "no Ray worker process found"
    os.kill(victims[0], signal.SIGKILL)
    _, stderr = job.communicate(timeout=600)
    assert job.returncode == 0, stderr[-3000:]
    assert_each_input_once(out, faces)


def test_a_stopped_job_resumes_from_its_shards(tmp_path):
    faces = many_faces(tmp_path, 160)
    out = tmp_path / "job"
    job = start_job(faces, out)
    wait_for_shards(out, 3, job)
    job.send_signal(signal.SIGTERM)
    _, stderr = job.communicate(timeout=120)
    assert job.returncode == 130 and "run the same command to go on" in stderr, stderr[-3000:]
    before = {p.name: p.stat().st_mtime_ns for p in (out / "shards").glob("*.parquet")}
    assert 3 <= len(before) < 40
    again = start_job(faces, out)
    stdout, stderr = again.communicate(timeout=600)
    assert again.returncode == 0, stderr[-3000:]
    assert f"({len(before)} done before)" in stdout
    assert all((out / "shards" / name).stat().st_mtime_ns == mtime for name, mtime in before.items())
    assert_each_input_once(out, faces)
    # Another job's inputs are not resumed into this folder.
    other = run(["tools/predict.py", "--engine", "ray", "--out", str(out), str(faces / "face_0000.jpg")])
    assert other.returncode == 2 and "holds the shards of another job" in other.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_node(args, env) -> tuple:
    """A Ray node in the foreground (--block), so that the test can stop it alone and no other Ray on this
    machine; returns the process and the address it printed for others to join."""
    node = subprocess.Popen([RAY, "start", "--block", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    printed = []
    for line in node.stdout:
        printed.append(line)
        found = re.search(r"ray start --address='([^']+)'", line)
        if found or "Ray runtime started" in line and "--address" in " ".join(args):
            threading.Thread(target=node.stdout.read, daemon=True).start()     # keep its pipe drained
            return node, found and found.group(1)
    raise AssertionError("ray start failed:\n" + "".join(printed[-30:]))


def test_a_cluster_of_two_nodes_runs_the_same_command(photos, tmp_path):
    """Two Ray nodes on this machine, each a raylet of one CPU: a head, and a node that joins it as another
    machine would (Ray 2.60 authenticates with the head's token, ~/.ray/auth_token, here on the same disk)."""
    env = {**os.environ, "RAY_worker_niceness": "0", "RAY_AUTH_MODE": "token"}
    nodes = []
    try:
        head, address = start_node(["--head", f"--port={free_port()}", "--num-cpus=1", "--include-dashboard=false",
                                    "--disable-usage-stats"], env)
        nodes.append(head)
        nodes.append(start_node([f"--address={address}", "--num-cpus=1"], env)[0])
        result = run(["tools/predict.py", "--engine", "ray", "--faces", "--address", address, "--workers", "2",
                      "--shard-size", "1", "--out", str(tmp_path / "job"), str(photos / "astronaut.jpg"),
                      str(photos / "masked.jpg")], env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        alive = subprocess.run([PYTHON, "-c", f"import ray; ray.init(address='{address}'); "
                                "print(len([n for n in ray.nodes() if n['Alive']]))"],
                               capture_output=True, text=True, env=env, timeout=120)
        assert alive.stdout.strip().endswith("2"), alive.stderr[-2000:]
        records = shard_records(tmp_path / "job")
        assert {Path(r["file"]).name for r in records if r["error"] is None} == {"astronaut.jpg", "masked.jpg"}
        # Without an address, a job starts a cluster of its own; it does not join the one running here.
        alone = run(["tools/predict.py", "--engine", "ray", "--faces", "--workers", "1", "--out",
                     str(tmp_path / "alone"), str(photos / "masked.jpg")], env=env)
        assert alone.returncode == 0, alone.stderr[-3000:]
    finally:
        for node in reversed(nodes):
            node.terminate()
            node.wait(timeout=60)
