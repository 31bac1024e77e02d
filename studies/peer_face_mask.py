"""The masker's peer: `face-mask` 0.3.0 from PyPI, the masker the seed project used.

Its wheel is fetched once with `pip download --no-deps` into a cache (PEER_CACHE, default
~/.cache/masked-fer-peers) and unpacked there; it runs on this venv's face_recognition and dlib. None of its
code or mask pictures enter the project. It writes `<name>-with-mask<ext>` beside each input, so it masks a
temporary copy of the faces, in a child process whose clock runs over the masking loop alone (as ours does).
A picture it raises an error on (its command line would stop there) counts as not kept.

    from studies.peer_face_mask import run_peer; run_peer(paths)   # or tools/benchmark.py masking --peer
"""
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEER = "face-mask==0.3.0"


def cache_dir() -> Path:
    return Path(os.environ.get("PEER_CACHE", Path.home() / ".cache" / "masked-fer-peers"))


def peer_dir() -> Path:
    """The unpacked wheel (a folder holding the `face_mask` package), fetched on first use."""
    name, version = PEER.split("==")
    unpacked = cache_dir() / f"{name}-{version}"
    if (unpacked / "face_mask" / "__main__.py").is_file():
        return unpacked
    wheels = cache_dir() / "wheels"
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(wheels),
                           PEER], capture_output=True, text=True)
    found = sorted(wheels.glob(f"{name.replace('-', '_')}-{version}-*.whl"))
    if done.returncode != 0 or not found:
        raise RuntimeError(f"could not fetch {PEER} from PyPI: {done.stderr.strip()[-300:]}")
    partial = Path(tempfile.mkdtemp(dir=cache_dir(), prefix=".unpacking-"))
    with zipfile.ZipFile(found[0]) as wheel:
        wheel.extractall(partial)
    shutil.rmtree(unpacked, ignore_errors=True)
    partial.rename(unpacked)
    return unpacked


def run_peer(images) -> dict:
    """Masks copies of `images` (paths) with the peer in one child process; returns its timing and coverage."""
    source = peer_dir()
    with tempfile.TemporaryDirectory(prefix="peer_face_mask_") as tmp:
        copies = []
        for i, path in enumerate(images):
            copy = Path(tmp) / f"{i:06d}{Path(path).suffix}"
            shutil.copyfile(path, copy)
            copies.append(str(copy))
        listing = Path(tmp) / "images.txt"
        listing.write_text("\n".join(copies))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(source), str(ROOT)]))
        done = subprocess.run([sys.executable, "-m", "studies.peer_face_mask", "--list", str(listing)],
                              capture_output=True, text=True, env=env, cwd=ROOT)
        if done.returncode != 0:
            raise RuntimeError(f"{PEER} failed: {done.stderr.strip()[-500:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])


def _mask_all(paths) -> dict:
    """Runs in the child: the peer's own per-picture call, as its command line makes it."""
    import face_recognition  # noqa: F401  (its models load here, before the clock starts)
    from face_mask.__main__ import DEFAULT_IMAGE_PATH, FaceMasker

    errors = 0
    cpu, start = time.process_time(), time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):          # it prints a line per picture
        for path in paths:
            try:
                FaceMasker(path, DEFAULT_IMAGE_PATH).mask()
            except Exception:       # e.g. PIL's "height and width must be > 0" on a face it measures flat
                errors += 1
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    kept = [i for i, p in enumerate(paths) if Path(p).with_name(f"{Path(p).stem}-with-mask{Path(p).suffix}").is_file()]
    written, n = len(kept), len(paths)
    return {"masker": PEER, "images": n, "written": written, "kept": kept, "errors": errors,
            "coverage": written / n if n else 0.0,
            "seconds": round(seconds, 3), "images_per_second": round(n / seconds, 1) if seconds else None,
            "cpu_ms_per_image": round(1000 * cpu / n, 3) if n else None}


if __name__ == "__main__":           # the child run_peer starts: --list FILE (one copied picture per line)
    print(json.dumps(_mask_all(Path(sys.argv[2]).read_text().split("\n"))))


def seed_maskable_report(predictor, masked_data, fer2013, split: str = "eval") -> dict:
    """The masked model alone and the routed predictor on make data's masked faces of `split` (PublicTest: the
    test set), on all of them and on those the seed's masker can mask too (its originals in FER2013's folders),
    for a like-for-like comparison with the seed's figures on the faces its masker kept."""
    import numpy as np

    from studies.round_trip import eval_faces

    rows = [line.rsplit(" ", 1)[0] for line in (Path(masked_data) / f"{split}_list.txt").read_text().splitlines()
            if line.strip()]
    folder = {"eval": "test", "train": "train"}[split]
    originals = [Path(fer2013) / folder / Path(row).parent.name / Path(row).name for row in rows]
    kept = set(run_peer(originals)["kept"])
    faces, labels = eval_faces(masked_data, split=split)
    report = {"faces": len(faces), "seed_maskable": len(kept)}
    answers = {"masked model alone": [predictor.masked_model.labels[int(np.argmax(p))]
                                      for p in predictor.masked_model.predict_probs(faces)]}
    if predictor.routes:
        answers["routed"] = [p.label for p in predictor.predict(faces)]
    for name, predicted in answers.items():
        right = np.array([p == label for p, label in zip(predicted, labels)])
        report[name] = {"all": float(right.mean()), "seed_maskable": float(right[sorted(kept)].mean())}
    return report
