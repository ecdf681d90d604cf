"""Landmark point lists: `x,y` options and POINTS.csv files (columns image,name,x,y)."""

from __future__ import annotations

import csv
from pathlib import Path

from spectfsl.core.files.atomic import write_text_atomic
from spectfsl.core.files.paths import entry_under
from spectfsl.errors import SpectfslError


def parse_point(text: str, option: str = "point", dims: int = 2) -> tuple[float, ...]:
    """'12.5,30' -> (12.5, 30.0), or with `dims` 3 '12.5,30,7' -> (12.5, 30.0, 7.0): the file's own
    voxel index x, y[, z] (x = column, y = row, z = frame or slice)."""
    parts = text.split(",")
    shape = "x,y" if dims == 2 else "x,y,z"
    try:
        if len(parts) != dims:
            raise ValueError
        return tuple(float(part) for part in parts)
    except ValueError:
        if len(parts) in (2, 3) and len(parts) != dims:
            model = f"a {dims}D model" if dims == 3 else "a 2D image or model"
            raise SpectfslError(
                f"{{{option}}}: '{text}' has {len(parts)} coordinates; {model} takes {shape}", settings=option
            ) from None
        raise SpectfslError(
            f"{{{option}}}: '{text}' is not a point {shape} (the file's voxel indices)", settings=option
        ) from None


def parse_named_point(text: str, default_name: str, dims: int = 2) -> tuple[str, tuple[float, ...]]:
    """'apex=12,30' -> ('apex', (12.0, 30.0)); a point without a name gets `default_name`."""
    name, sep, point = text.rpartition("=")
    return (name if sep and name else default_name), parse_point(point if sep else text, "point", dims)


def read_points(path: str | Path, root: str | Path | None = None) -> list[tuple]:
    """Rows (image, name, x, y) of a POINTS.csv, or (image, name, x, y, z) when it has a `z` column
    (points in volumes, for 3D models); image paths are relative to `root` (default: the CSV's
    folder) and must stay inside it (no absolute path, no `..` or symbolic link out of it)."""
    path = Path(path)
    if not path.is_file():
        raise SpectfslError(f"{path}: no such file")
    root = Path(root) if root is not None else path.parent
    if not root.is_dir():
        raise SpectfslError(f"{root}: no such folder ({{data_dir}})", settings="data_dir")
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"image", "name", "x", "y"} - set(reader.fieldnames or [])
        if missing:
            raise SpectfslError(f"{path}: missing column(s) {', '.join(sorted(missing))} (expected image,name,x,y[,z])")
        axes = ("x", "y", "z") if "z" in (reader.fieldnames or []) else ("x", "y")
        rows = []
        for number, row in enumerate(reader, start=2):
            try:
                coordinates = tuple(float(row[axis]) for axis in axes)
            except (TypeError, ValueError):
                names = "x and y" if len(axes) == 2 else "x, y and z"
                raise SpectfslError(f"{path}:{number}: {names} must be numbers") from None
            image = row["image"] or ""
            entry_under(root, image.rpartition("@")[0] or image, f"{path}:{number}")
            rows.append((str(root / image), row["name"], *coordinates))
    if not rows:
        raise SpectfslError(f"{path}: no points listed")
    return rows


def write_points(path: str | Path, rows: list[tuple]) -> None:
    """POINTS.csv (image,name,x,y[,z]; image paths relative to the CSV's folder), written atomically;
    rows of (image, name, x, y) or all of (image, name, x, y, z)."""
    header = "image,name,x,y,z" if rows and len(rows[0]) == 5 else "image,name,x,y"
    lines = [header] + [",".join(str(value) for value in row) for row in rows]
    write_text_atomic(path, "\n".join(lines) + "\n")
