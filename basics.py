"""Basics that the masker, the engine and deployment share, written once; imports no paddle."""
import argparse
import os
from pathlib import Path

# Image files the tools read from folders (what OpenCV and PIL both decode).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"})
# The side of a FER2013 face crop, which the masker writes and the face path crops to.
FACE_SIZE = 48


def is_image_file(path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def atomic_write_bytes(path, data: bytes) -> None:
    """Write to a temp file beside `path`, then rename: a kill leaves the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """--help of the command lines: the module docstring as written, and every option's default."""


class UserError(Exception):
    """A mistake of the user's (a config, a path, a file) whose message says what to change; the command lines
    print it, without a traceback, and exit 2."""
