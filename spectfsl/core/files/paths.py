"""Paths named inside files (a POINTS.csv's image column) and files found inside folders (a
DATASET's images) must stay under their root: `..`, an absolute path or a symlink out is refused."""

from __future__ import annotations

import os
from pathlib import Path

from spectfsl.errors import SpectfslError


def entry_under(root: str | os.PathLike, entry: str, source: str) -> Path:
    """`root / entry` for a relative `entry` named in the file `source`; refuses an absolute entry or
    one that leads outside `root` (through `..` or a symlink)."""
    root = Path(root)
    if Path(entry).is_absolute() or Path(entry).drive:
        raise SpectfslError(f"{source}: '{entry}' is an absolute path; name files relative to {root}")
    path = root / entry
    check_under(root, path, source)
    return path


def check_under(root: str | os.PathLike, path: str | os.PathLike, source: str | os.PathLike) -> None:
    """Refuse `path` (found in or named by `source`) when it resolves outside `root`."""
    base = Path(root).resolve()
    if not Path(path).resolve().is_relative_to(base):
        raise SpectfslError(f"{source}: '{path}' leads outside {root} (through '..' or a symbolic link); refused")
