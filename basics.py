"""Basics that the masker, the engine and deployment share, written once; imports no paddle.

Importing it (every package of the project does) sets MKL_DEBUG_CPU_TYPE=5 unless it is set: Paddle's bundled
MKL takes a 3-4x slower path on AMD CPUs without it, and reads it when paddle loads.
"""
import argparse
import contextlib
import os
from pathlib import Path

os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")

# Image files the tools read from folders (what OpenCV and PIL both decode).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"})
# The side of a FER2013 face crop, which the masker writes and the face path crops to.
FACE_SIZE = 48


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
    """--help of the command lines: the module docstring as written, and every option's default."""


class UserError(Exception):
    """A mistake of the user's (a config, a path, a file) whose message says what to change; the command lines
    print it, without a traceback, and exit 2."""
