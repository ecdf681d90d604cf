"""Paths named inside files (a POINTS.csv's image column) and files found inside folders (a
DATASET's images) must stay under their root: `..`, an absolute path or a symlink out is refused."""

from __future__ import annotations

import os
import re
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


#: Extensions an output name drops from its input's file name.
INPUT_EXTENSIONS = (".nii.gz", ".nii", ".dcm", ".npy", ".png")


def file_stem(source: str | os.PathLike) -> str:
    """The input's file name without its image extension (`P1/rest.nii.gz` -> `rest`); a frame
    `PATH@N` adds `_N` (`scan.nii@12` -> `scan_12`), a gate `PATH@gN` adds `_gN`."""
    name, frame = Path(source).name, ""
    if re.fullmatch(r".+@g?\d+", name):
        name, frame = name.rsplit("@", 1)
        frame = f"_{frame}"
    for extension in INPUT_EXTENSIONS:
        if name.lower().endswith(extension):
            return name[: -len(extension)] + frame
    return name + frame


def output_stems(sources: list[str]) -> dict[str, str]:
    """Each input -> the stem its outputs are named by: its file stem, or, where several inputs share
    one, the stem prefixed by as many parent folders as tell them apart (`P1/rest.nii.gz` and
    `P2/rest.nii.gz` -> `P1_rest`, `P2_rest`); a numbered suffix where no folder does."""
    unique = list(dict.fromkeys(str(source) for source in sources))
    stems = {source: file_stem(source) for source in unique}
    clashing = [source for source in unique if list(stems.values()).count(stems[source]) > 1]
    depth = 1
    while clashing:
        for source in clashing:
            parents = [part for part in Path(source).parent.parts if part not in ("/", "\\", ".", "..")]
            stems[source] = "_".join([*parents[-depth:], file_stem(source)]) if parents else file_stem(source)
        names = list(stems.values())
        still = [source for source in clashing if names.count(stems[source]) > 1]
        if len(still) == len(clashing) and depth > max(len(Path(s).parts) for s in clashing):
            for count, source in enumerate(still, start=1):
                stems[source] = f"{stems[source]}_{count}"
            break
        clashing, depth = still, depth + 1
    return stems
