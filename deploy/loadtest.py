"""Load test the HTTP service on loopback: throughput and latency percentiles at a few concurrency levels.

    python deploy/loadtest.py --model-dir inference/ [--concurrency 1 4 16] [--requests 200] [--seconds 20]
        [--backend B] [--server-python PY] [--image face.jpg] [--json results.json]
        [-- server options, e.g. --workers 2]
    python deploy/loadtest.py --url http://127.0.0.1:8080 ...      (a server that is already running)

Each level sends at most --requests requests and stops after --seconds; only loopback addresses are accepted.
"""
import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import httpx  # noqa: E402
import numpy as np  # noqa: E402

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def default_image() -> bytes:
    """A 48x48 gray JPEG: the size of the face crops the model is trained on."""
    pixels = np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)
    return cv2.imencode(".jpg", pixels)[1].tobytes()


async def _run_level(url: str, image: bytes, concurrency: int, requests: int, seconds: float) -> dict:
    latencies, statuses = [], []
    deadline = time.perf_counter() + seconds
    sent = 0

    async def user(http: httpx.AsyncClient) -> None:
        nonlocal sent
        while sent < requests and time.perf_counter() < deadline:
            sent += 1
            started = time.perf_counter()
            try:
                response = await http.post("/predict", files={"file": ("face.jpg", image, "image/jpeg")})
                statuses.append(response.status_code)
            except httpx.HTTPError:
                statuses.append(0)
            latencies.append(time.perf_counter() - started)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*[user(http) for _ in range(concurrency)])
        elapsed = time.perf_counter() - started
    ok = sum(1 for status in statuses if status == 200)
    p50, p95, p99 = np.percentile(np.asarray(latencies) * 1000, [50, 95, 99]) if latencies else (np.nan,) * 3
    return {"concurrency": concurrency, "requests": len(statuses), "ok": ok, "errors": len(statuses) - ok,
            "seconds": round(elapsed, 3), "throughput_rps": round(ok / elapsed, 1) if elapsed else 0.0,
            "p50_ms": round(float(p50), 2), "p95_ms": round(float(p95), 2), "p99_ms": round(float(p99), 2)}


def run_loadtest(url: str, image: bytes = None, concurrencies=(1, 4, 16), requests: int = 200,
                 seconds: float = 20.0, warmup: int = 5) -> list:
    """One result dict per concurrency level (throughput in requests/s, latency percentiles in ms)."""
    host = urlparse(url).hostname
    if host not in LOOPBACK:
        raise ValueError(f"the load test only targets loopback servers, not {host!r}")
    image = image or default_image()
    for _ in range(warmup):  # first calls pay for lazy initialisation (MKLDNN kernels, connections)
        httpx.post(f"{url}/predict", files={"file": ("face.jpg", image, "image/jpeg")}, timeout=60)
    return [asyncio.run(_run_level(url, image, c, requests, seconds)) for c in concurrencies]


def markdown_table(results: list) -> str:
    lines = ["| concurrency | requests | errors | throughput (req/s) | p50 (ms) | p95 (ms) | p99 (ms) |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['concurrency']} | {r['requests']} | {r['errors']} | {r['throughput_rps']} | {r['p50_ms']} | "
              f"{r['p95_ms']} | {r['p99_ms']} |" for r in results]
    return "\n".join(lines)


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    server_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--model-dir", help="start deploy/serve.py on a free loopback port with this model")
    target.add_argument("--url", help="a running server on loopback")
    parser.add_argument("--backend", default="paddle", help="with --model-dir")
    parser.add_argument("--server-python", help="with --model-dir: the interpreter to run the server with "
                                                "(.venv310/bin/python for --backend fastdeploy)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=200, help="most requests per concurrency level")
    parser.add_argument("--seconds", type=float, default=20.0, help="longest time per concurrency level")
    parser.add_argument("--image", type=Path, help="the image to send (default: a 48x48 gray JPEG)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    image = args.image.read_bytes() if args.image else None

    def run(url):
        return run_loadtest(url, image, args.concurrency, args.requests, args.seconds)

    if args.url:
        results = run(args.url)
    else:
        from deploy.server.launch import running_server
        with running_server(args.model_dir, backend=args.backend, python=args.server_python,
                            extra_args=server_args) as url:
            results = run(url)
    print(markdown_table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
