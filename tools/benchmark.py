"""The one benchmark command: every figure in one report, or one section at a time.

    python tools/benchmark.py [--fer2013 ../shared/fer2013] [--model-dir inference] [--out docs/benchmarks.md]
    python tools/benchmark.py masking [--limit N] [--peer] [--profile]      masker images/s, beside face-mask 0.3.0
    python tools/benchmark.py training -c CONFIG                           training images/s (one JSON line)
    python tools/benchmark.py predictor --model-dir DIR --backend B        latency and throughput (one JSON line)
    python tools/benchmark.py server --model-dir DIR [-- server options]   HTTP requests/s and latency percentiles
    python tools/benchmark.py faces [--realmask ../shared/realmask]        finding faces in real photos, ms/photo
    python tools/benchmark.py engines                                      the pool and one process against Ray
    python tools/benchmark.py video [--model-dir DIR]                      video frames/s: 480p-1080p, 1-6 faces
    python tools/benchmark.py photos [--realmask ../shared/realmask]       a photo's time, stage by stage
    python tools/benchmark.py photos --limit 10 --sizes 640x480 4032x3024  the same photos scaled, one row a size

The report: masking images/s (1 and 2 workers, and face-mask 0.3.0 on the same faces; the fastest of 3 runs) and
the time per step, training images/s per config (1 and 2 threads), face finding in real photos (ms per photo and
faces per second, dlib's path beside the face finder), predictor latency (batch 1, p50/p95) and throughput
(batch 32) per backend, server requests/s and latency at several concurrency levels. Other figures are taken
after warm-up over repeated runs; medians are quoted. Each section's measuring code sits beside what it measures
(studies/masker_bench.py, engine/benchmark.py, deploy/bench.py, deploy/loadtest.py, studies/realmask.py).
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

from basics import HelpFormatter, UserError  # noqa: E402
from deploy.backends import PRECISION_HELP, PRECISIONS, precision_option  # noqa: E402
from masker import DEFAULT_CLASSES  # noqa: E402

TRAIN_CONFIGS = ("configs/masked_fer/FaceCNN_cpu.yaml", "configs/masked_fer/PPLCNet_x1_0.yaml",
                 "configs/masked_fer/ResNet18.yaml")


def parse_args(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    # After "--", the server section's arguments go to the server it starts.
    server_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--fer2013", default=str(ROOT.parent / "shared" / "fer2013"), help="for the masking figures")
    p.add_argument("--mask-limit", type=int, help="at most N Training faces per class to mask per run (all if unset)")
    p.add_argument("--realmask", default=str(ROOT.parent / "shared" / "realmask"), help="for the face-finding figures")
    p.add_argument("--model-dir", default="inference", help="the exported model to serve and time")
    p.add_argument("--out", default="docs/benchmarks.md")
    sections = p.add_subparsers(dest="section", metavar="SECTION", help="measure one section only (default: all)")

    masking = sections.add_parser("masking", help="the masker's images/s", formatter_class=HelpFormatter)
    masking.add_argument("--fer2013", default=str(ROOT.parent / "shared" / "fer2013"), help="FER2013 image folders")
    masking.add_argument("--workers", default="1,2", help="worker counts to time, comma-separated")
    masking.add_argument("--classes", default=",".join(DEFAULT_CLASSES))
    masking.add_argument("--limit", type=int, help="at most N images per class (quick runs)")
    masking.add_argument("--peer", action="store_true", help="also time face-mask 0.3.0 on the same faces")
    masking.add_argument("--profile", action="store_true", help="also time each step of masking a face")
    masking.add_argument("--repeats", type=int, default=3, help="runs of each, alternating; the fastest is shown")

    training = sections.add_parser("training", help="a config's training images/s", formatter_class=HelpFormatter)
    training.add_argument("-c", "--config", required=True)
    training.add_argument("-o", "--override", action="append", default=[], metavar="Key.sub=value")
    training.add_argument("--iterations", type=int, default=12)

    predictor = sections.add_parser("predictor", help="a model's latency and throughput on one backend",
                                    formatter_class=HelpFormatter)
    predictor.add_argument("--model-dir", default="inference", help="exported model folder")
    predictor.add_argument("--backend", default="paddle", help="paddle, onnx or fastdeploy")
    predictor.add_argument("--batch-size", type=int, default=32, help="images per call for the throughput runs")
    predictor.add_argument("--single-runs", type=int, default=100, help="batch-1 calls per repeat (latency)")
    predictor.add_argument("--batch-runs", type=int, default=10, help="batch calls per repeat (throughput)")
    predictor.add_argument("--repeats", type=int, default=3, help="repeats; the median is reported")
    predictor.add_argument("--warmup", type=int, default=5, help="untimed calls first")
    predictor.add_argument("--cpu-threads", type=int, help="backend threads (default: all cores)")
    predictor.add_argument("--precision", choices=PRECISIONS, help=PRECISION_HELP)
    predictor.add_argument("--route", action="store_true",
                           help="the whole predictor: face status, then the masked or unmasked model, on a batch of "
                                "masked and unmasked faces")
    predictor.add_argument("--faces", type=Path, help="the faces to time, as one .npy of uint8 images "
                                                      "(default: generated, or with --route the astronaut's)")

    server = sections.add_parser("server", help="HTTP requests/s and latency on loopback (after --: the server's "
                                                "own options, e.g. -- --workers 2)", formatter_class=HelpFormatter)
    target = server.add_mutually_exclusive_group(required=True)
    target.add_argument("--model-dir", help="start tools/serve.py on a free loopback port with this model")
    target.add_argument("--url", help="a running server on loopback")
    server.add_argument("--backend", default="paddle", help="with --model-dir")
    server.add_argument("--server-python", help="with --model-dir: the interpreter to run the server with "
                                                "(.venv310/bin/python for --backend fastdeploy)")
    server.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    server.add_argument("--requests", type=int, default=200, help="most requests per concurrency level")
    server.add_argument("--seconds", type=float, default=20.0, help="longest time per concurrency level")
    server.add_argument("--image", type=Path, help="the image to send (default: a 48x48 gray JPEG, with --faces a "
                                                   "640x480 photo of a masked face)")
    server.add_argument("--faces", action="store_true", help="send photos to /predict?faces=1 (photos/s)")
    server.add_argument("--json", type=Path, help="also write the results here")

    engines = sections.add_parser("engines", help="masking and prediction: the pool and one process against Ray",
                                  formatter_class=HelpFormatter)
    engines.add_argument("--fer2013", default=str(ROOT.parent / "shared" / "fer2013"), help="FER2013 image folders")
    engines.add_argument("--realmask", default=str(ROOT.parent / "shared" / "realmask"), help="its photos/ are run")
    engines.add_argument("--model-dir", default=str(ROOT / "inference"))
    engines.add_argument("--limit", type=int, default=500, help="faces per split and class to mask")
    engines.add_argument("--memory-inputs", default="10000,100000",
                         help="inputs of the streaming jobs whose peak memory is measured")
    video = sections.add_parser("video", help="video frames/s through the whole path", formatter_class=HelpFormatter)
    video.add_argument("--model-dir", default="inference")
    video.add_argument("--frames", type=int, default=60, help="frames of each clip")
    video.add_argument("--precision", choices=PRECISIONS, help=PRECISION_HELP)
    photos = sections.add_parser("photos", help="where a real photo's time goes", formatter_class=HelpFormatter)
    photos.add_argument("--realmask", default=str(ROOT.parent / "shared" / "realmask"))
    photos.add_argument("--model-dir", default="inference")
    photos.add_argument("--limit", type=int, help="the first N photos only")
    photos.add_argument("--precision", choices=PRECISIONS, help=PRECISION_HELP)
    photos.add_argument("--sizes", nargs="+", type=photo_size, default=(), metavar="WxH",
                        help="instead: the photos scaled to each size (e.g. 640x480 4032x3024), one row a size")
    faces = sections.add_parser("faces", help="finding faces in real photos", formatter_class=HelpFormatter)
    faces.add_argument("--realmask", default=str(ROOT.parent / "shared" / "realmask"))
    faces.add_argument("--model-dir", default="inference")
    args = p.parse_args(argv)
    args.server_args = server_args
    return args


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
            done = subprocess.run([sys.executable, str(ROOT / "tools" / "benchmark.py"), "training", "-c", config],
                                  cwd=ROOT, env=env, capture_output=True, text=True, check=True)
            r = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append(f"| {config} | {r['input']} | {r['batch']} | {threads} | {r['images_per_second']} |")
    return rows


def predictor_rows(model_dir):
    from deploy.bench import benchmark_backends
    from deploy.onnx_export import export_onnx
    from deploy.predictor import FACE_STATUS_MODEL, UNMASKED_MODEL

    rows = ["| backend | path | p50 ms (batch 1) | p95 ms (batch 1) | images/s (batch 32) |", "|---|---|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(shutil.copytree(model_dir, Path(tmp) / "model"))
        for folder in (copy, copy / UNMASKED_MODEL, copy / FACE_STATUS_MODEL):
            if (folder / "inference.pdmodel").exists() and not (folder / "inference.onnx").exists():
                export_onnx(folder)
        backends = ("paddle", "onnx") + (("fastdeploy",) if (ROOT / ".venv310/bin/python").exists() else ())
        paths = [("the masked model alone", False)]
        if (copy / UNMASKED_MODEL).is_dir() and (copy / FACE_STATUS_MODEL).is_dir():
            paths.append(("routed: face status, then the masked or unmasked model (half of each)", True))
        for name, route in paths:
            for backend, r in zip(backends, benchmark_backends(copy, backends, route=route)):
                rows.append(f"| {backend} | {name} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['throughput_ips']:.0f} |")
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

    lines = []
    for workers in (1, 2):
        with running_server(model_dir, extra_args=["--workers", workers]) as url:
            crops = run_loadtest(url, concurrencies=(1, 4, 16), requests=300, seconds=20)
            photos = run_loadtest(url, concurrencies=(1, 4), requests=100, seconds=20, faces=True)
        lines += [f"Face crops (48x48 JPEG), {workers} server process{'es' if workers > 1 else ''}:", "",
                  *markdown_table(crops).splitlines(), "",
                  f"Photos (640x480 JPEG of a masked face, `?faces=1`), {workers} server "
                  f"process{'es' if workers > 1 else ''}:", "", *markdown_table(photos).splitlines(), ""]
    return lines


def masking_section(args) -> int:
    from masker.readers import parse_classes
    from studies.masker_bench import machine_description, masking_table, profile_table, run_benchmark, stage_profile

    workers = [int(w) for w in args.workers.split(",")]
    classes = parse_classes(args.classes)
    machine = machine_description()
    rows = run_benchmark(args.fer2013, workers, classes, args.limit, peer=args.peer, repeats=args.repeats)
    profile = stage_profile(args.fer2013, classes, args.limit) if args.profile else None
    print(f"machine: {machine['cpu']}, {machine['cores']} cores, load average at start "
          f"{', '.join(f'{x:.2f}' for x in machine['load_average'] or [])}; python {machine['python']}, "
          f"dlib {machine['dlib']}, opencv {machine['opencv']}")
    print("\n".join(masking_table(rows)))
    if profile:
        print("\n" + "\n".join(profile_table(profile)))
    skipped = [s for r in rows for s in r["skipped"]]
    if skipped:
        print(f"skipped ({len(skipped)}), first ones: " + json.dumps(skipped[:5]))
    return 0


def training_section(args) -> int:
    from engine.benchmark import training_throughput
    from engine.config import load_config

    print(json.dumps(training_throughput(load_config(args.config, args.override), iterations=args.iterations)))
    return 0


def predictor_section(args) -> int:
    import numpy as np

    from deploy.bench import benchmark

    print(json.dumps(benchmark(args.model_dir, args.backend, batch_size=args.batch_size, single_runs=args.single_runs,
                               batch_runs=args.batch_runs, repeats=args.repeats, warmup=args.warmup,
                               cpu_threads=args.cpu_threads, route=args.route,
                               images=list(np.load(args.faces)) if args.faces else None,
                               **precision_option(args.precision))))
    return 0


def server_section(args) -> int:
    from deploy.loadtest import markdown_table, run_loadtest

    image = args.image.read_bytes() if args.image else None

    def run(url):
        return run_loadtest(url, image, args.concurrency, args.requests, args.seconds, faces=args.faces)

    if args.url:
        results = run(args.url)
    else:
        from deploy.server.launch import running_server
        with running_server(args.model_dir, backend=args.backend, python=args.server_python,
                            extra_args=args.server_args) as url:
            results = run(url)
    print(markdown_table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def engines_rows(args, limit=500, memory_inputs="10000,100000"):
    from studies.engines_bench import engines_tables

    if not (Path(args.fer2013) / "train").is_dir() or not (Path(args.realmask) / "photos").is_dir():
        return [f"(skipped: no FER2013 image folders at {args.fer2013} or photos at {args.realmask})"]
    return engines_tables(args.fer2013, Path(args.realmask) / "photos", args.model_dir,
                          getattr(args, "limit", None) or limit,
                          [int(n) for n in getattr(args, "memory_inputs", memory_inputs).split(",")])


def engines_section(args) -> int:
    print("\n".join(engines_rows(args)))
    return 0


def video_rows(model_dir, frames: int = 60, precision=None):
    from studies.video_bench import video_fps, video_table

    return video_table(video_fps(model_dir, frames=frames, precision=precision))


def video_section(args) -> int:
    print("\n".join(video_rows(args.model_dir, args.frames, args.precision)))
    return 0


def photo_rows(realmask, model_dir, limit=None, sizes=(), precision=None):
    from deploy.predictor import Predictor
    from studies.photo_profile import photo_profile, profile_table, sizes_table

    photos = sorted((Path(realmask) / "photos").glob("*.jpg"))[:limit]
    if not photos:
        return [f"(skipped: no photos at {realmask}/photos)"]
    predictor = Predictor(model_dir, **precision_option(precision))
    if sizes:
        return [f"{len(photos)} photos, each scaled to each size; ms per photo, the fastest of 2 passes:", "",
                *sizes_table({size: photo_profile(predictor, photos, size=size) for size in sizes})]
    return profile_table(photo_profile(predictor, photos))


def photos_section(args) -> int:
    print("\n".join(photo_rows(args.realmask, args.model_dir, args.limit, args.sizes, args.precision)))
    return 0


PHOTO_SIZES = ((640, 480), (1280, 960), (1920, 1080), (4032, 3024))


def photo_size(text: str) -> tuple:
    width, _, height = text.partition("x")
    if not (width.isdigit() and height.isdigit() and int(width) >= 48 and int(height) >= 48):
        raise argparse.ArgumentTypeError(f"{text!r}: give a size as WIDTHxHEIGHT px, each 48 or more, e.g. 4032x3024")
    return int(width), int(height)


def faces_section(args) -> int:
    print("\n".join(face_finding_rows(args.realmask, args.model_dir)))
    return 0


def report(args) -> int:
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
                ("A real photo's time, stage by stage (realmask/photos, Paddle Inference, 2 threads)",
                 lambda: photo_rows(args.realmask, args.model_dir)),
                ("Photos up to a phone's 12 MP (realmask/photos scaled up)",
                 lambda: photo_rows(args.realmask, args.model_dir, 10, PHOTO_SIZES)),
                (f"HTTP server on `{args.model_dir}` (paddle backend, loopback)",
                 lambda: server_rows(args.model_dir)),
                ("Video (`tools/predict.py --video`: a full search every 5 frames, faces followed between), "
                 "frames/s", lambda: video_rows(args.model_dir)),
                ("Engines: masking (pool, Ray) and prediction (one process, Ray) on the same inputs",
                 lambda: engines_rows(args)))
    for title, measure in sections:
        print(f"measuring: {title}", flush=True)
        lines += [f"## {title}\n", *measure(), ""]
    lines.append(f"Total time {time.time() - started:.0f} s.")
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"-> {args.out}")
    return 0


SECTIONS = {None: report, "masking": masking_section, "training": training_section,
            "predictor": predictor_section, "server": server_section, "faces": faces_section, "video": video_section,
            "photos": photos_section,
            "engines": engines_section}


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return SECTIONS[args.section](args)
    except (UserError, FileNotFoundError, ValueError) as error:
        print(f"benchmark: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
