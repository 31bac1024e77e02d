"""Classify expressions in images, folders, photos with several faces, videos or a webcam.

    python tools/predict.py --model-dir inference/ IMAGE_OR_DIR... [--backend paddle|onnx|fastdeploy]
        [--faces] [--annotate out_dir/] [--csv out.csv] [--json out.json] [--batch-size N] [--topk K]
    python tools/predict.py --video clip.mp4 | --camera 0  [--annotate out_dir/] [--max-frames N] [--show]
        [--detect-every N] [--realtime]
    python tools/predict.py --engine ray --out run/ [--workers N] [--address HOST:PORT] IMAGE_DIR_VIDEO_OR_LIST...

Without --faces each image is taken to be a face crop like the training data; with --faces (and always for
video) the face finder (deploy/faces.py, BlazeFace) finds the faces in ordinary photos, masked or not, and each is
cropped the way the training data was. Where the model folder holds the face-status and unmasked models (as the
shipped inference/ does), each face gets a mask status and the expression model that fits it; --single-model
uses the folder's own model alone.

With --engine ray the inputs (photos, folders, videos, and .parquet/.csv/.txt lists of paths) are answered by Ray
Data's workers, on a local Ray cluster started for the run or on the one at --address: one row a face goes to
Parquet shards in --out (run/shards/*.parquet), and running the same command again resumes a stopped job.
"""
import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from basics import HelpFormatter, UserError, unwritable  # noqa: E402
from deploy.backends import BACKENDS, PRECISION_HELP, PRECISIONS, precision_option  # noqa: E402
from deploy.photos import collect_images, predict_images  # noqa: E402
from deploy.faces import MIN_FACE  # noqa: E402
from deploy.images import MAX_PIXELS  # noqa: E402
from deploy.on_ray import SHARD_SIZE  # noqa: E402
from deploy.predictor import Predictor  # noqa: E402
from deploy.preprocess import EXPORT_HINT  # noqa: E402
from deploy.report import format_table, write_csv, write_json  # noqa: E402
from deploy.video import DETECT_EVERY, predict_video  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("inputs", nargs="*", metavar="IMAGE_OR_DIR", help="image files or folders (walked)")
    parser.add_argument("--model-dir", default="inference", help="exported model folder")
    parser.add_argument("--backend", default="paddle", choices=BACKENDS.names(),
                        help="fastdeploy runs only under .venv310 (Python 3.10)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--tensorrt", action="store_true", help="paddle backend on gpu: use TensorRT")
    parser.add_argument("--cpu-threads", type=int,
                        help="CPU threads of the backend and of the face finder (default: all cores)")
    parser.add_argument("--precision", choices=PRECISIONS, help=PRECISION_HELP)
    parser.add_argument("--batch-size", type=int, default=8, help="images per model call")
    parser.add_argument("--topk", type=int, help="labels per prediction (default: inference.yml's PostProcess.topk)")
    parser.add_argument("--faces", action="store_true", help="detect faces in ordinary photos and classify each")
    parser.add_argument("--min-face", type=int, default=MIN_FACE, help="drop faces whose box is smaller (px)")
    parser.add_argument("--single-model", action="store_true",
                        help="answer every face with the model folder's own model: no mask status, no routing")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--video", help="a video file, classified frame by frame (faces)")
    source.add_argument("--camera", type=int, metavar="INDEX", help="a webcam index, e.g. 0")
    parser.add_argument("--max-frames", type=int, help="stop video or camera after this many frames")
    parser.add_argument("--show", action="store_true", help="show video frames in a window (needs a display)")
    parser.add_argument("--smooth", type=int, default=1,
                        help="video: average each face's scores over its last N frames (1: no smoothing)")
    parser.add_argument("--detect-every", type=int, default=DETECT_EVERY,
                        help="video: search the whole frame for faces every N frames and follow the faces found in "
                             "between (1: search every frame)")
    parser.add_argument("--realtime", action="store_true",
                        help="video or camera: skip the frames there is no time for rather than fall behind")
    parser.add_argument("--timeline", metavar="OUT_DIR",
                        help="video: write <name>_timeline.csv (a row per frame and face) and <name>_timeline.png")
    parser.add_argument("--annotate", metavar="OUT_DIR", help="write annotated copies (or an annotated video)")
    parser.add_argument("--max-pixels", type=int, default=MAX_PIXELS,
                        help="images with more pixels are refused, before decoding (a 48 MP phone photo needs more)")
    parser.add_argument("--engine", choices=["local", "ray"], default="local",
                        help="local: this process; ray: Ray Data's workers (videos and path lists too)")
    parser.add_argument("--out", metavar="DIR", help="--engine ray: the job's folder (Parquet shards, job.json)")
    parser.add_argument("--workers", type=int, default=2, help="--engine ray: workers, each with its own models")
    parser.add_argument("--shard-size", type=int, default=SHARD_SIZE,
                        help="--engine ray: photos per shard (a Parquet file, the unit of retry and resume)")
    parser.add_argument("--address", help="--engine ray: a running Ray cluster (default: $RAY_ADDRESS, else a "
                                          "local one); inputs and --out must then be on every node")
    parser.add_argument("--csv", metavar="FILE", help="write predictions as CSV")
    parser.add_argument("--json", metavar="FILE", help="write predictions as JSON")
    args = parser.parse_args(argv)
    video = args.video is not None or args.camera is not None
    if video == bool(args.inputs):
        parser.error("give image files or folders, or one of --video / --camera")
    if args.engine == "ray":
        if video or args.show:
            parser.error("--engine ray takes videos as inputs (files, folders or lists), not --video, --camera or "
                         "--show")
        if not args.out:
            parser.error("--engine ray needs --out DIR, the job's folder (its Parquet shards)")
        if args.workers < 1 or args.shard_size < 1:
            parser.error("--workers and --shard-size must be at least 1")
    if args.batch_size < 1 or (args.topk is not None and args.topk < 1):
        parser.error("--batch-size and --topk must be at least 1")
    if args.max_pixels < 1:
        parser.error("--max-pixels must be at least 1")
    if args.min_face < 0:
        parser.error("--min-face must be 0 or more")
    if args.smooth < 1:
        parser.error("--smooth must be at least 1 frame")
    if args.detect_every < 1:
        parser.error("--detect-every must be at least 1 frame")
    if args.cpu_threads is not None and args.cpu_threads < 1:
        parser.error(f"--cpu-threads must be at least 1 (or left out: every core), got {args.cpu_threads}")
    # Checked before any work: a path that cannot be written would fail only at the end.
    for option, folder in (("annotate", True), ("timeline", True), ("out", True), ("csv", False), ("json", False)):
        problem = getattr(args, option) and unwritable(getattr(args, option), folder=folder)
        if problem:
            parser.error(f"--{option}: {problem}" + (" (give a folder; it is created if missing)" if folder else ""))
    if args.show and not has_display():
        parser.error("--show needs a display, and this session has none (DISPLAY and WAYLAND_DISPLAY are unset): "
                     "drop --show, or use --annotate OUT_DIR to write an annotated video")
    return parser, args


def has_display() -> bool:
    return sys.platform in ("win32", "darwin") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv=None) -> int:
    parser, args = parse_args(argv)
    if not Path(args.model_dir).is_dir():
        parser.exit(2, f"error: no model folder {args.model_dir}/: {EXPORT_HINT}, or pass --model-dir\n")
    options = {"cpu_threads": args.cpu_threads}
    if args.tensorrt:
        options["tensorrt"] = True
    options.update(precision_option(args.precision))
    try:
        predictor = Predictor(args.model_dir, backend=args.backend, device=args.device, batch_size=args.batch_size,
                              topk=args.topk, route=not args.single_model, **options)
    except (FileNotFoundError, UserError) as err:
        parser.exit(2, f"error: {err}\n")

    errors, summary = [], None
    face_options = {"min_face": args.min_face}
    if args.engine == "ray":
        return predict_with_ray(args, predictor, options, face_options)
    try:
        if args.video is not None or args.camera is not None:
            source = args.video if args.video is not None else args.camera
            rows, summary = predict_video(predictor, source, annotate_dir=args.annotate,
                                          max_frames=args.max_frames, show=args.show, smooth=args.smooth,
                                          timeline_dir=args.timeline, detect_every=args.detect_every,
                                          realtime=args.realtime,
                                          report=lambda line: print(line, file=sys.stderr), **face_options)
        else:
            files, errors = collect_images(args.inputs)
            rows, read_errors = predict_images(predictor, files, faces=args.faces, annotate_dir=args.annotate,
                                               warn=lambda line: print(line, file=sys.stderr),
                                               max_pixels=args.max_pixels, **face_options)
            errors += read_errors
    except (FileNotFoundError, UserError) as err:
        parser.exit(2, f"error: {err}\n")

    try:
        print(format_table(rows, errors))
        if summary:
            print(f"{summary['frames']} frames, {summary['faces']} faces in {summary['tracks']} tracks, "
                  f"{summary['fps']:.1f} FPS overall"
                  + (f", annotated video: {summary['annotated']}" if summary["annotated"] else "")
                  + (f", timeline: {summary['timeline_png']}, {summary['timeline_csv']}" if "timeline_png" in summary
                     else ""))
        sys.stdout.flush()
    except BrokenPipeError:
        # `predict.py ... | head -1`: the reader has what it wanted; the files below are still written.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if args.csv:
        write_csv(args.csv, rows, predictor.topk)
    if args.json:
        write_json(args.json, rows, errors, model_dir=str(args.model_dir), backend=args.backend,
                   labels=predictor.labels, **({"video": summary} if summary else {}))
    # Unreadable files are reported, not fatal; only "nothing could be classified" fails the run.
    return 1 if errors and not rows else 0


def predict_with_ray(args, predictor, backend_options, face_options) -> int:
    from deploy.on_ray import predict_on_ray, read_shards, report_row

    predictor_options = dict(backend=args.backend, device=args.device, batch_size=args.batch_size, topk=args.topk,
                             route=not args.single_model, **backend_options)
    # One worker a core: each backend runs on one thread unless told otherwise.
    predictor_options["cpu_threads"] = args.cpu_threads or 1
    video_options = {"smooth": args.smooth, "max_frames": args.max_frames, "timeline_dir": args.timeline,
                     "annotate_dir": args.annotate, "detect_every": args.detect_every}
    try:
        summary = predict_on_ray(args.inputs, args.out, args.model_dir, predictor_options, faces=args.faces,
                                 face_options=face_options, max_pixels=args.max_pixels, video_options=video_options,
                                 workers=args.workers, address=args.address, shard_size=args.shard_size)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"stopped: the shards written are in {Path(args.out) / 'shards'}; run the same command to go on",
              file=sys.stderr)
        return 130
    rows = errors = 0
    for record in read_shards(args.out):
        errors += record["error"] is not None
        rows += record["error"] is None
    print(f"{summary['inputs']} inputs in {summary['shards']} shards ({summary['resumed_shards']} done before): "
          f"{rows} rows, {errors} errors -> {summary['shards_dir']}")
    if args.csv:
        write_csv(args.csv, (report_row(r) for r in read_shards(args.out) if r["error"] is None), predictor.topk)
    if args.json:
        records = list(read_shards(args.out))
        write_json(args.json, [report_row(r) for r in records if r["error"] is None],
                   [{"file": r["file"], "error": r["error"]} for r in records if r["error"] is not None],
                   model_dir=str(args.model_dir), backend=args.backend, labels=predictor.labels)
    return 1 if errors and not rows else 0


if __name__ == "__main__":
    sys.exit(main())
