"""Serve an exported model over HTTP (the shipped inference/ unless --model-dir names another).

    python tools/serve.py [--model-dir inference/] [--host 127.0.0.1] [--port 8080] [--backend paddle|onnx|fastdeploy]
        [--workers N] [--cpu-threads N] [--precision auto|fp32|bf16] [--max-upload-mb N] [--max-pixels N]
        [--max-aspect R] [--max-batch N] [--max-wait-ms MS]
"""
import argparse
import dataclasses
import json
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from basics import HelpFormatter, UserError  # noqa: E402
from deploy.backends import PRECISION_HELP, PRECISIONS  # noqa: E402
from deploy.server.app import SETTINGS_ENV, Settings, create_app, load_predictor  # noqa: E402

SHIPPED_MODEL = Path(__file__).resolve().parents[1] / "inference"


def parse_args(argv=None) -> argparse.Namespace:
    defaults = Settings(model_dir="")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--model-dir", default=str(SHIPPED_MODEL),
                        help="exported model folder (inference.pdmodel, .pdiparams, .yml)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port to listen on")
    parser.add_argument("--backend", default=defaults.backend, choices=["paddle", "onnx", "fastdeploy"])
    parser.add_argument("--device", default=defaults.device, help="cpu or gpu")
    parser.add_argument("--workers", type=int, default=1, help="server processes, each with its own model")
    parser.add_argument("--cpu-threads", type=int,
                        help="CPU threads of each process's backends and face finder (default: all cores)")
    parser.add_argument("--precision", choices=PRECISIONS, help=PRECISION_HELP)
    parser.add_argument("--max-upload-mb", type=float, default=defaults.max_upload_mb,
                        help="larger request bodies are refused with 413")
    parser.add_argument("--max-pixels", type=int, default=defaults.max_pixels,
                        help="images with more pixels (read from the header, before decoding) get 413")
    parser.add_argument("--max-aspect", type=float, default=defaults.max_aspect,
                        help="without faces=1, images whose long side exceeds this many short sides get 422")
    parser.add_argument("--max-batch", type=int, default=defaults.max_batch,
                        help="most concurrent requests classified in one batch")
    parser.add_argument("--max-wait-ms", type=float, default=defaults.max_wait_ms,
                        help="how long the first request of a batch waits for others")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"],
                        help="uvicorn's log level")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be within 0-65535, got {args.port}")
    for name in ("workers", "max_upload_mb", "max_pixels", "max_aspect", "max_batch", "cpu_threads"):
        if getattr(args, name) is not None and getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be above 0, got {getattr(args, name)}")
    if args.max_wait_ms < 0:
        parser.error(f"--max-wait-ms must be 0 or more, got {args.max_wait_ms}")
    return args


def fail(message: str):
    """One line and exit 2, as the other command lines end on a user's mistake."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def main(argv=None) -> None:
    args = parse_args(argv)
    model_dir = Path(args.model_dir)
    if not (model_dir / "inference.yml").is_file():
        fail(f"{model_dir}/inference.yml not found; export a model first (tools/export_model.py)")
    settings = Settings(model_dir=str(model_dir.resolve()), backend=args.backend, device=args.device,
                        max_batch=args.max_batch, max_wait_ms=args.max_wait_ms,
                        max_upload_mb=args.max_upload_mb, max_pixels=args.max_pixels,
                        max_aspect=args.max_aspect, cpu_threads=args.cpu_threads,
                        precision=args.precision)
    # The model is loaded here, before uvicorn starts, so that a backend that cannot run here is one line, not
    # uvicorn's startup traceback; one worker serves this very predictor.
    try:
        predictor = load_predictor(settings)
    except (FileNotFoundError, UserError) as error:
        fail(str(error))
    print(f"serving {settings.model_dir} ({settings.backend} backend) on http://{args.host}:{args.port}",
          file=sys.stderr, flush=True)
    # uvicorn finishes the requests in flight, then raises the signal again to end as that signal would: stopped by
    # Docker or systemd (SIGTERM), the server has done its job and exits 0.
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(0))
    import uvicorn
    if args.workers == 1:
        uvicorn.run(create_app(settings, predictor), host=args.host, port=args.port, log_level=args.log_level)
        return
    del predictor
    # Worker processes rebuild the app from this variable (uvicorn's factory mode).
    os.environ[SETTINGS_ENV] = json.dumps(dataclasses.asdict(settings))
    uvicorn.run("deploy.server.app:create_app_from_env", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level=args.log_level)


if __name__ == "__main__":
    main()
