"""Atomic output: a file or folder appears complete under its final name, or not at all."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from spectfsl.errors import SpectfslError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_new_output(path: str | os.PathLike | None, overwrite: bool) -> None:
    """The one overwrite rule: an existing output file (or non-empty folder) is refused unless `overwrite`.

    Commands call it before any work, so that a run is not wasted on an output it may not write.
    """
    if path is None or overwrite:
        return
    target = Path(path)
    if target.is_dir() and any(target.iterdir()):
        raise SpectfslError(
            f"{target}: folder exists and is not empty (pass {{overwrite}} to replace it)", settings="overwrite"
        )
    if target.exists() and not target.is_dir():
        raise SpectfslError(f"{target}: file exists (pass {{overwrite}} to replace it)", settings="overwrite")


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it onto `path`, else delete it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(handle)
    temporary_path = Path(temporary)
    try:
        yield temporary_path
        # mkstemp makes the file private (0600); give it the mode a plain open() would have
        os.chmod(temporary_path, 0o666 & ~_umask())
        os.replace(temporary_path, target)
    finally:
        temporary_path.unlink(missing_ok=True)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_file(path) as temporary:
        temporary.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 `text` to `path` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty staging folder beside `path`; on success it replaces `path`.

    An existing non-empty `path` is an error unless `overwrite`; it is then replaced only once the
    new folder is complete, so an interrupted run leaves the old folder or none.
    """
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise SpectfslError(f"{target}: exists and is not a folder")
    check_new_output(target, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        yield staging
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes the folder private (0700)
        if target.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            os.replace(target, retired / target.name)
            os.replace(staging, target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
