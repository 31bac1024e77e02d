"""Load test the HTTP service on loopback: throughput and latency percentiles at a few concurrency levels
(`python tools/benchmark.py server`, and the server section of its report). Each level sends at most `requests`
requests and stops after `seconds`; only loopback addresses are accepted.
"""
import asyncio
import time
from urllib.parse import urlparse

import cv2
import httpx
import numpy as np

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def default_image() -> bytes:
    """A 48x48 gray JPEG: the size of the face crops the model is trained on."""
    pixels = np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)
    return cv2.imencode(".jpg", pixels)[1].tobytes()


def default_photo() -> bytes:
    """A 640x480 JPEG photo of a face wearing our mask (scikit-image's astronaut): for ?faces=1."""
    from skimage import data

    from masker.photo import mask_photo

    photo = np.full((480, 640, 3), 90, np.uint8)
    photo[:, 80:560] = cv2.resize(mask_photo(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)), (480, 480))
    return cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


def multipart_request(host: str, port: int, path: str, image: bytes) -> bytes:
    """One whole HTTP/1.1 request that uploads `image` as the form field "file", as a browser or httpx sends it."""
    boundary = "loadtest7e3f9a"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"face.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode() + image + f"\r\n--{boundary}--\r\n".encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: multipart/form-data; boundary={boundary}"
            f"\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    return head + body


async def _answer_status(reader) -> tuple:
    """(status, whether the server keeps the connection) of one HTTP/1.1 response, its body read and dropped."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    fields = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in head[1:])}
    await reader.readexactly(int(fields.get("content-length", 0)))
    return status, fields.get("connection", "").lower() != "close"


async def _run_level(url: str, image: bytes, concurrency: int, requests: int, seconds: float,
                     path: str = "/predict") -> dict:
    """Each of `concurrency` users sends its next request when its last is answered, on a keep-alive connection
    of its own. The requests are built once and the answers only parsed for their status, so that the load
    generator, which shares the machine's cores with the server, takes as little of them as it can."""
    parsed = urlparse(url)
    port = parsed.port or 80
    request = multipart_request(parsed.hostname, port, path, image)
    latencies, statuses = [], []
    deadline = time.perf_counter() + seconds
    sent = 0

    async def user() -> None:
        nonlocal sent
        connection = None
        while sent < requests and time.perf_counter() < deadline:
            sent += 1
            started = time.perf_counter()
            try:
                if connection is None:
                    connection = await asyncio.open_connection(parsed.hostname, port)
                reader, writer = connection
                writer.write(request)
                status, keep = await asyncio.wait_for(_answer_status(reader), timeout=60)
                if not keep:
                    writer.close()
                    connection = None
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError,
                    ValueError, IndexError):
                if connection is not None:
                    connection[1].close()
                status, connection = 0, None
            statuses.append(status)
            latencies.append(time.perf_counter() - started)
        if connection is not None:
            connection[1].close()

    started = time.perf_counter()
    await asyncio.gather(*[user() for _ in range(concurrency)])
    elapsed = time.perf_counter() - started
    ok = sum(1 for status in statuses if status == 200)
    p50, p95, p99 = np.percentile(np.asarray(latencies) * 1000, [50, 95, 99]) if latencies else (np.nan,) * 3
    return {"concurrency": concurrency, "requests": len(statuses), "ok": ok, "errors": len(statuses) - ok,
            "seconds": round(elapsed, 3), "throughput_rps": round(ok / elapsed, 1) if elapsed else 0.0,
            "p50_ms": round(float(p50), 2), "p95_ms": round(float(p95), 2), "p99_ms": round(float(p99), 2)}


def run_loadtest(url: str, image: bytes = None, concurrencies=(1, 4, 16), requests: int = 200,
                 seconds: float = 20.0, warmup: int = 5, faces: bool = False) -> list:
    """One result dict per concurrency level (throughput in requests/s, latency percentiles in ms). faces: send
    photos to /predict?faces=1 (default image: default_photo) instead of face crops."""
    host = urlparse(url).hostname
    if host not in LOOPBACK:
        raise ValueError(f"the load test only targets loopback servers, not {host!r}")
    image = image or (default_photo() if faces else default_image())
    path = "/predict?faces=1" if faces else "/predict"
    for _ in range(warmup):  # first calls pay for lazy initialisation (MKLDNN kernels, connections)
        httpx.post(f"{url}{path}", files={"file": ("face.jpg", image, "image/jpeg")}, timeout=60)
    return [asyncio.run(_run_level(url, image, c, requests, seconds, path)) for c in concurrencies]


def markdown_table(results: list) -> str:
    lines = ["| concurrency | requests | errors | throughput (req/s) | p50 (ms) | p95 (ms) | p99 (ms) |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['concurrency']} | {r['requests']} | {r['errors']} | {r['throughput_rps']} | {r['p50_ms']} | "
              f"{r['p95_ms']} | {r['p99_ms']} |" for r in results]
    return "\n".join(lines)
