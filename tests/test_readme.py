"""The README's commands, as written and in the order shown, in a copy of this checkout: each one ends with exit
code 0 and prints no traceback, no FatalError and no "Error" when it works (a user reads those as a crash).

The training targets of the pipeline (hours each) are only checked to be Makefile targets; `make demo FER2013=...`
runs with -m slow."""
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from conftest import ROOT, SHARED, skip_unless_ci
from deploy.server.launch import free_port

# Run elsewhere: `make setup` built the environment this suite runs in, and `make test` is this suite.
NOT_HERE = {"make setup", "make test"}
# Hours of training or measuring each: checked with `make -n` only.
LONG = ("make data", "make default-model", "make twin-model", "make unmasked-model", "make face-status-data",
        "make fused-model", "make eval-faces", "make study", "make bench")
SLOW = ("make demo FER2013=",)
ALARMING = re.compile(r"Traceback|FatalError|\bError\b")


def readme_commands() -> list:
    """Every command in the README's code blocks, continuation lines joined, comments dropped, in order."""
    commands, block = [], False
    lines = iter((ROOT / "README.md").read_text(encoding="utf-8").splitlines())
    for line in lines:
        if line.startswith("```"):
            block = not block
            continue
        if not block:
            continue
        while line.rstrip().endswith("\\"):
            line = line.rstrip()[:-1] + " " + next(lines).strip()
        command = re.split(r"\s{2,}#", line)[0].strip()
        if command.startswith(("make", ".venv/bin/python")):
            commands.append(command)
    return commands


def test_the_readme_shows_the_commands_this_test_runs():
    commands = readme_commands()
    assert commands[:3] == ["make setup", "make demo", "make test"]
    assert any(c.startswith("make demo FER2013=") for c in commands)
    assert any(c.startswith(".venv/bin/python tools/serve.py") for c in commands)
    assert sum(c.startswith(".venv/bin/python tools/") for c in commands) >= 10


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    """A copy of the checkout's tracked and new files, with its environments linked, beside a link to shared/."""
    root = tmp_path_factory.mktemp("readme")
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    copy = root / "main"
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    for venv in (".venv", ".venv310"):
        if (ROOT / venv).exists():
            (copy / venv).symlink_to(ROOT / venv)
    if SHARED.exists():
        (root / "shared").symlink_to(SHARED.resolve())
    return copy


def run(command: str, cwd: Path, timeout: float = 900) -> str:
    done = subprocess.run(command, shell=True, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{output[-3000:]}"
    return output


def check_quiet(command: str, output: str) -> None:
    alarming = [line for line in output.splitlines() if ALARMING.search(line)]
    assert not alarming, f"{command} worked but printed:\n" + "\n".join(alarming[:20])


def serve(command: str, cwd: Path) -> str:
    """The server command on a free port instead of 8080, until it answers /healthz and the page; then stopped
    as a user stops it (Ctrl-C)."""
    command = re.sub(r"--port \d+", f"--port {free_port()}", command)
    port = int(re.search(r"--port (\d+)", command).group(1))
    with open(cwd / "serve.log", "w+") as log:
        process = subprocess.Popen(command, shell=True, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while True:
                assert process.poll() is None, "the server exited at start"
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the server did not answer /healthz"
                time.sleep(0.3)
            assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 200
        finally:
            os.killpg(process.pid, signal.SIGINT)
            process.wait(timeout=30)
        log.seek(0)
        return log.read()


def test_every_readme_command_runs_as_written_and_quietly(checkout):
    for command in readme_commands():
        if command in NOT_HERE or command.startswith(SLOW):
            continue
        if command.startswith(LONG):
            run(f"make -n {command[len('make '):]}", checkout)
            continue
        if command.startswith(".venv/bin/python tools/serve.py"):
            check_quiet(command, serve(command, checkout))
            continue
        if "package_android.py" in command and not (checkout / ".venv310").exists():
            skip_unless_ci("the Android packaging command needs .venv310 (Paddle Lite)")
        check_quiet(command, run(command, checkout))


@pytest.mark.slow
def test_the_real_data_demo_runs_as_written_and_quietly(checkout):
    if not (checkout.parent / "shared" / "fer2013" / "train").is_dir():
        skip_unless_ci("../shared/fer2013 is absent")
    command, = (c for c in readme_commands() if c.startswith(SLOW))
    check_quiet(command, run(command, checkout, timeout=3600))
