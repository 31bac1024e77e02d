"""Basics that the masker, the engine and deployment share, written once; imports no paddle.

Importing it (every package of the project does) sets MKL_DEBUG_CPU_TYPE=5 on AMD CPUs unless it is set:
Paddle's bundled MKL takes a 2-3x slower path there without it, and reads it when paddle loads. On Intel CPUs it
is left alone: there it cost 3-20 % (an AVX-512 Xeon).
"""
import argparse
import contextlib
import os
import tempfile
from pathlib import Path


def is_amd_cpu(cpuinfo: str | None = None) -> bool:
    """Whether /proc/cpuinfo (or the text given) names an AMD processor."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return False
    return any(line.split(":", 1)[-1].strip() == "AuthenticAMD"
               for line in cpuinfo.splitlines() if line.startswith("vendor_id"))


def tune_mkl(environ=os.environ, cpuinfo: str | None = None) -> None:
    if is_amd_cpu(cpuinfo):
        environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")


tune_mkl()

# Image files the tools read from folders (what OpenCV and PIL both decode).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"})
# The side of a FER2013 face crop, which the masker writes and the face path crops to.
FACE_SIZE = 48


def head_columns(head_sizes: dict) -> dict:
    """{head: (first column, end)} of a graph whose heads answer in consecutive columns, in the order of
    head_sizes ({head: its number of classes}): the training config's Global.heads and an exported inference.yml's
    Heads both lay their heads out so."""
    columns, start = {}, 0
    for name, size in head_sizes.items():
        columns[name] = (start, start + size)
        start += size
    return columns


def is_image_file(path) -> bool:
    return os.path.splitext(str(path))[1].lower() in IMAGE_SUFFIXES


@contextlib.contextmanager
def written_atomically(path):
    """Yields a temp path beside `path` (same suffix, for writers that pick the format from it); once the block
    has written it, it is renamed to `path`. A kill leaves the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_beside(str(path))
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def _temp_beside(path: str) -> str:
    head, name = os.path.split(path)
    stem, suffix = os.path.splitext(name)
    return os.path.join(head, f".{stem}.tmp{os.getpid()}{suffix}")


def atomic_write_bytes(path, data: bytes) -> None:
    """written_atomically for bytes, in a few system calls: the masker writes one small file per face."""
    path = os.fspath(path)
    tmp = _temp_beside(path)
    try:
        try:
            file = open(tmp, "wb")
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            file = open(tmp, "wb")
        with file:
            file.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """--help of the command lines: the module docstring as written, and every option's default: none for
    arguments without one (None, or a flag's False), and none where the help already says it."""

    def _get_help_string(self, action):
        if action.default in (None, False) or "(default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def unwritable(path, folder: bool = False) -> str | None:
    """Why `path` could not be written as a file (folder=False) or a folder, its missing parents created: a
    sentence naming the path, or None. Creates nothing, so that a run can refuse before any work."""
    path = Path(path)
    if folder and path.exists() and not path.is_dir():
        return f"{path} is a file, not a folder"
    if not folder and path.is_dir():
        return f"{path} is a folder, not a file"
    existing = path if folder and path.is_dir() else path.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return f"{path} cannot be created: {existing} is a file"
    if path.exists() and not folder and not os.access(path, os.W_OK):
        return f"{path} cannot be written: no write permission"
    # A probe file, made and removed at once: permission bits alone say nothing for root or on /proc.
    try:
        handle, probe = tempfile.mkstemp(dir=existing, prefix=".write-probe-")
    except OSError as error:
        return f"{path} cannot be written: {existing}: {error.strerror or error}"
    os.close(handle)
    os.unlink(probe)
    return None


class UserError(Exception):
    """A mistake of the user's (a config, a path, a file) whose message says what to change; the command lines
    print it, without a traceback, and exit 2."""


def connect_ray(address: str | None = None, cpus: int | None = None):
    """Ray, connected: to the cluster at `address` (or $RAY_ADDRESS), else to a local cluster of `cpus` CPUs (all
    of this machine's by default) that lives as long as this process. Quiet: the tools draw their own progress.
    Imported here, not at the top: only the --engine ray paths need it."""
    import logging

    import ray
    import ray.data

    if not ray.is_initialized():
        # "local": a cluster of this process's own, not one that `ray start` left running on this machine.
        address = address or os.environ.get("RAY_ADDRESS") or "local"
        local = {"num_cpus": max(cpus or 0, os.cpu_count() or 1)} if address == "local" else {}
        # Ray starts its workers at nice 15, leaving them what other processes leave; here they are the job (20x
        # slower beside a training run without this). A cluster started with `ray start` reads it from its own
        # environment.
        os.environ.setdefault("RAY_worker_niceness", "0")
        # Workers' output stays in Ray's logs; their failures still reach this process as exceptions.
        ray.init(address=address, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False,
                 **local)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    return ray
