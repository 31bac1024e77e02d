"""Measure the pipeline on this machine and write a markdown table with the machine description.

    python tools/benchmark.py [--fer2013 ../shared/fer2013] [--model-dir inference] [--out docs/benchmarks.md]

Masking images/s (1 and 2 workers, and face-mask 0.3.0 on the same faces; the fastest of 3 runs) and the time per
step, training images/s per config (1 and 2 threads), face finding in real photos (ms per photo and faces per
second, dlib's path beside the face finder), predictor latency (batch 1, p50/p95) and throughput
(batch 32) per backend, server requests/s and latency at several concurrency levels. Other figures are taken
after warm-up over repeated runs; medians are quoted.
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from basics import HelpFormatter  # noqa: E402

TRAIN_CONFIGS = ("configs/masked_fer/FaceCNN_cpu.yaml", "configs/masked_fer/PPLCNet_x1_0.yaml",
                 "configs/masked_fer/ResNet18.yaml")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--fer2013", default=str(ROOT.parent / "shared" / "fer2013"), help="for the masking figures")
    p.add_argument("--mask-limit", type=int, help="at most N Training faces per class to mask per run (all if unset)")
    p.add_argument("--realmask", default=str(ROOT.parent / "shared" / "realmask"), help="for the face-finding figures")
    p.add_argument("--model-dir", default="inference", help="the exported model to serve and time")
    p.add_argument("--out", default="docs/benchmarks.md")
    return p.parse_args(argv)


def machine() -> str:
    from studies.masker_bench import machine_description

    m = machine_description()
    import paddle

    load = ", ".join(f"{x:.2f}" for x in m["load_average"] or [])
    return (f"{m['cpu']}, {m['cores']} cores, {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f}"
            f" GiB; {platform.system()} {platform.release()}; Python {m['python']}, Paddle {paddle.__version__}, "
            f"dlib {m['dlib']}, OpenCV {m['opencv']}; MKL_DEBUG_CPU_TYPE={os.environ.get('MKL_DEBUG_CPU_TYPE')}; "
            f"load average at start {load}")


def masking_rows(fer2013, limit):
    from studies.masker_bench import masking_table, profile_table, run_benchmark, stage_profile

    if not (Path(fer2013) / "train").is_dir():
        return [f"(skipped: no FER2013 image folders at {fer2013})"]
    try:
        rows = run_benchmark(fer2013, (1, 2), limit=limit, progress=False, peer=True, repeats=3)
        note = []
    except RuntimeError as error:                  # the peer could not be fetched from PyPI, or failed
        rows = run_benchmark(fer2013, (1, 2), limit=limit, progress=False, repeats=3)
        note = [f"\n(the peer was not run: {error})"]
    return [*masking_table(rows), *note, "", *profile_table(stage_profile(fer2013, limit=limit))]


def training_rows():
    rows = ["| config | input | batch | threads | images/s |", "|---|---:|---:|---:|---:|"]
    for config in TRAIN_CONFIGS:
        for threads in ("1", "2"):
            env = dict(os.environ, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
            done = subprocess.run([sys.executable, "-m", "engine.benchmark", "-c", config], cwd=ROOT, env=env,
                                  capture_output=True, text=True, check=True)
            r = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append(f"| {config} | {r['input']} | {r['batch']} | {threads} | {r['images_per_second']} |")
    return rows


def predictor_rows(model_dir):
    from deploy.bench import benchmark_backends
    from deploy.onnx_export import export_onnx

    rows = ["| backend | p50 ms (batch 1) | p95 ms (batch 1) | images/s (batch 32) |", "|---|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(shutil.copytree(model_dir, Path(tmp) / "model"))
        if not (copy / "inference.onnx").exists():
            export_onnx(copy)
        backends = ("paddle", "onnx") + (("fastdeploy",) if (ROOT / ".venv310/bin/python").exists() else ())
        for backend, r in zip(backends, benchmark_backends(copy, backends)):
            rows.append(f"| {backend} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['throughput_ips']:.0f} |")
    return rows


def face_finding_rows(realmask, model_dir):
    from deploy.predictor import Predictor
    from studies.realmask import finding_speed

    if not (Path(realmask) / "boxes.csv").is_file():
        return [f"(skipped: no realmask photos at {realmask})"]
    return finding_speed(realmask, Predictor(model_dir))


def server_rows(model_dir):
    from deploy.loadtest import markdown_table, run_loadtest
    from deploy.server.launch import running_server

    with running_server(model_dir) as url:
        return markdown_table(run_loadtest(url, concurrencies=(1, 4, 16), requests=300, seconds=20)).splitlines()


def main(argv=None) -> int:
    args = parse_args(argv)
    if not (Path(args.model_dir) / "inference.pdmodel").exists():
        print(f"benchmark: no exported model in {args.model_dir}: name one with --model-dir", file=sys.stderr)
        return 2
    started = time.time()
    lines = [f"# Benchmarks\n\nMeasured by `python tools/benchmark.py` on {time.strftime('%Y-%m-%d')}.\n",
             f"Machine: {machine()}.\n"]
    sections = (("Masking (FER2013 Training faces of the four classes), beside face-mask 0.3.0",
                 lambda: masking_rows(args.fer2013, args.mask_limit)),
                ("Training step (forward, backward, update; random input of the config's size)", training_rows),
                (f"Predictor on `{args.model_dir}` (whole predict() path, preprocessing included)",
                 lambda: predictor_rows(args.model_dir)),
                ("Finding faces in real photos (realmask/photos): dlib's path beside the face finder",
                 lambda: face_finding_rows(args.realmask, args.model_dir)),
                (f"HTTP server on `{args.model_dir}` (paddle backend, loopback, 48x48 JPEG uploads)",
                 lambda: server_rows(args.model_dir)))
    for title, measure in sections:
        print(f"measuring: {title}", flush=True)
        lines += [f"## {title}\n", *measure(), ""]
    lines.append(f"Total time {time.time() - started:.0f} s.")
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
