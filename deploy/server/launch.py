"""Start tools/serve.py in a subprocess on a free loopback port: for tests, load tests and benchmarks."""
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_server(model_dir, backend: str = "paddle", python=None, startup_timeout: float = 120.0,
                   extra_args=()):
    """Yield the base URL of a real server process (model_dir None: serve.py's default, the shipped model); it is
    stopped (and its log shown on failure) on exit."""
    port = free_port()
    command = [str(python or sys.executable), str(ROOT / "tools" / "serve.py"),
               *(["--model-dir", str(model_dir)] if model_dir is not None else []),
               "--host", "127.0.0.1", "--port", str(port), "--backend", backend, "--log-level", "warning",
               *map(str, extra_args)]
    env = dict(os.environ)
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)

        def output() -> str:
            log.seek(0)
            return log.read().decode(errors="replace")[-4000:]

        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + startup_timeout
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"the server exited with code {process.returncode}:\n{output()}")
                try:
                    if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not answer /healthz in {startup_timeout} s:\n{output()}")
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
