"""3D landmarks of real volumes for measuring localisation: from expert LV-wall masks, or, for volumes
without masks, the heart finder's LV centre (an automatic estimate, not an expert's)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from spectfsl.core.files.loader import load_image
from spectfsl.core.processing.heart import find_heart
from spectfsl.core.processing.masks import wall_landmark_points, wall_landmark_points_3d


def mask_landmark_rows(images: Sequence[str], masks: Sequence[str | Path]) -> list[tuple]:
    """(image, name, x, y, z) rows, in each file's own voxel indices: `lv_centre`, `apex` and
    `lateral_wall` of each image's LV-wall mask (`wall_landmarks_3d`). `images` are the names the rows
    give (paths, or paths relative to a points file's folder), in the order of `masks`."""
    rows = []
    for image, mask in zip(images, masks):
        for name, (x, y, z) in wall_landmark_points_3d(load_image(mask)).items():
            rows.append((image, name, round(x, 3), round(y, 3), round(z, 3)))
    return rows


def heart_landmark_rows(images: Sequence[str], paths: Sequence[str | Path]) -> list[tuple]:
    """(image, "lv_centre", x, y, z) rows: the heart finder's LV centre in each volume (not expert-made)."""
    rows = []
    for image, path in zip(images, paths):
        volume = load_image(path)
        slice_index, row, column = find_heart(volume).centre
        x, y, z = volume.file_index(column, row, slice_index)
        rows.append((image, "lv_centre", round(x, 3), round(y, 3), round(z, 3)))
    return rows


def slice_landmark_rows(rows_3d: Sequence[tuple]) -> list[tuple]:
    """2D rows (image@N, name, x, y) for 2D models from 3D rows: each point on the file's slice
    through it (N = its z rounded), with its x, y."""
    return [(f"{image}@{int(round(z))}", name, x, y) for image, name, x, y, z in rows_3d]


def mask_slice_landmark_rows(images: Sequence[str], masks: Sequence[str | Path]) -> list[tuple]:
    """(image@N, name, x, y) rows of the study-style 2D landmarks (`wall_landmarks`): on the file's
    slice N through the wall's 3D centroid, the centroid's x, y and the lateral wall's."""
    rows = []
    for image, mask in zip(images, masks):
        frame, points = wall_landmark_points(load_image(mask))
        rows += [(f"{image}@{frame}", name, round(x, 3), round(y, 3)) for name, (x, y) in points.items()]
    return rows
