"""Atomic writes: a file appears whole or not at all, in a folder made for it, with no temp file left behind."""
import os

import pytest

from basics import atomic_write_bytes, written_atomically


def test_atomic_write_makes_the_folder_and_replaces_whole(tmp_path):
    target = tmp_path / "new" / "face.jpg"
    atomic_write_bytes(target, b"first")
    atomic_write_bytes(str(target), b"second")
    assert target.read_bytes() == b"second" and os.listdir(target.parent) == ["face.jpg"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "face.jpg"
    atomic_write_bytes(target, b"old")
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")
    with pytest.raises(RuntimeError):
        with written_atomically(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["face.jpg"]
