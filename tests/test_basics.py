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


INTEL = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Platinum 8481C\n"
AMD = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n"


def test_mkl_debug_cpu_type_is_set_on_amd_only():
    """It speeds Paddle's MKL on AMD and cost 3-20 % on an AVX-512 Xeon."""
    from basics import is_amd_cpu, tune_mkl
    assert is_amd_cpu(AMD) and not is_amd_cpu(INTEL)
    intel, amd, chosen = {}, {}, {"MKL_DEBUG_CPU_TYPE": "4"}
    tune_mkl(intel, INTEL)
    tune_mkl(amd, AMD)
    tune_mkl(chosen, AMD)
    assert intel == {} and amd == {"MKL_DEBUG_CPU_TYPE": "5"} and chosen == {"MKL_DEBUG_CPU_TYPE": "4"}


def test_unwritable_names_the_path_and_creates_nothing(tmp_path):
    from basics import unwritable
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert unwritable(tmp_path / "new" / "deeper" / "out.csv") is None
    assert unwritable(tmp_path / "new" / "folder", folder=True) is None
    assert not (tmp_path / "new").exists()
    assert "is a file" in unwritable(a_file / "out.csv") and str(a_file) in unwritable(a_file / "out.csv")
    assert "is a file, not a folder" in unwritable(a_file, folder=True)
    assert "is a folder, not a file" in unwritable(tmp_path)
    assert unwritable("/proc/x/out.csv")                      # /proc takes no new folders
    if os.geteuid() != 0:                                     # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert "no write permission" in unwritable(locked / "out.csv")


def test_heads_answer_in_consecutive_columns_in_their_order():
    from basics import head_columns

    assert head_columns({"face_status": 3, "masked": 4, "unmasked": 4}) == {
        "face_status": (0, 3), "masked": (3, 7), "unmasked": (7, 11)}
    assert head_columns({}) == {}
