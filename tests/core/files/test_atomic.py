"""Atomic files and folders: complete or absent, with ordinary permissions."""

from __future__ import annotations

import os

import pytest

from spectfsl.core.files.atomic import atomic_directory, atomic_file, write_text_atomic
from spectfsl.errors import SpectfslError


def test_written_file_gets_the_mode_of_a_plain_open(tmp_path):
    previous = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "a.txt", "x")
        with atomic_directory(tmp_path / "out") as staging:
            (staging / "f").write_text("y")
    finally:
        os.umask(previous)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755


def test_a_failure_leaves_no_file_and_no_temporary(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_file(tmp_path / "a.bin") as temporary:
            temporary.write_bytes(b"half")
            raise RuntimeError
    assert list(tmp_path.iterdir()) == []


def test_a_failed_folder_keeps_the_old_one(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_directory(tmp_path / "out", overwrite=True) as staging:
            (staging / "new").write_text("new")
            raise RuntimeError
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["old"]


def test_a_non_empty_folder_needs_overwrite(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep").write_text("mine")
    with pytest.raises(SpectfslError, match="overwrite"):
        with atomic_directory(tmp_path / "out"):
            pass
