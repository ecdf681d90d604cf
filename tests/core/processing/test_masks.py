"""Classes derived from an LV-wall mask."""

from __future__ import annotations

import numpy as np
import pytest

from spectfsl.core.files.loader import load_image
from spectfsl.core.processing.masks import derive_from_wall, wall_landmark_points_3d, wall_landmarks, wall_landmarks_3d
from spectfsl.errors import SpectfslError
from tests.conftest import SHARED_DATA, requires_real_data


def _horseshoe() -> np.ndarray:
    wall = np.zeros((40, 40), bool)
    wall[10:20, 10] = wall[10, 10:20] = wall[19, 10:20] = True  # open towards +x, like a basal slice
    return wall


def test_cavity_is_hull_minus_wall_even_when_the_wall_is_open():
    derived = derive_from_wall(_horseshoe(), np.ones((40, 40), bool), (4.0, 4.0))
    assert derived["ventricles"].sum() == 100 - 28
    assert not (derived["ventricles"] & _horseshoe()).any()


def test_extracardiac_is_a_ring_10_to_30_mm_outside_the_hull_inside_the_field_of_view():
    fov = np.ones((40, 40), bool)
    fov[:, 35:] = False
    ring = derive_from_wall(_horseshoe(), fov, (4.0, 4.0))["extracardiac"]
    rows, cols = np.nonzero(ring)
    outside_rows = np.maximum(np.maximum(10 - rows, rows - 19), 0)
    outside_cols = np.maximum(np.maximum(10 - cols, cols - 19), 0)
    distance_mm = np.hypot(outside_rows, outside_cols) * 4.0  # to the 10..19 square hull
    assert ring.any() and not ring[:, 35:].any()
    assert distance_mm.min() > 10 and distance_mm.max() <= 30
    assert ring[15, 25] and not ring[15, 21]  # 24 mm and 8 mm from the hull edge at column 19


def test_volumes_are_derived_slice_by_slice_and_need_spacing():
    volume = np.stack([_horseshoe(), np.zeros((40, 40), bool)])
    derived = derive_from_wall(volume, np.ones_like(volume), (4.0, 4.0))
    assert derived["ventricles"][0].any() and not derived["ventricles"][1].any()
    with pytest.raises(SpectfslError, match="pixel size"):
        derive_from_wall(volume, np.ones_like(volume), None)


def _cup(apex_at_top: bool) -> np.ndarray:
    """An LV-like wall along the slice axis: a ring open at one end, closed by a cap at the other."""
    wall = np.zeros((30, 32, 32), dtype=bool)
    rows, cols = np.indices((32, 32))
    radius = np.hypot(rows - 15.5, cols - 15.5)
    for index in range(5, 25):
        wall[index] = (radius >= 6) & (radius <= 8)
    cap = 24 if apex_at_top else 5
    wall[cap] |= radius <= 8  # the closed end
    return wall


@pytest.mark.parametrize("apex_at_top", [True, False])
def test_3d_landmarks_find_the_closed_end_as_the_apex(apex_at_top):
    points = wall_landmarks_3d(_cup(apex_at_top), (4.0, 4.0, 4.0))
    column, row, slice_index = points["apex"]
    assert slice_index == (24 if apex_at_top else 5)
    assert abs(points["lv_centre"][0] - 15.5) < 0.01 and abs(points["lv_centre"][1] - 15.5) < 0.01
    assert points["lateral_wall"][0] > points["lv_centre"][0]


def test_landmarks_ignore_islands_of_the_mask_away_from_the_wall():
    """An island (as in a real expert mask) would pull the centroid and flip the long axis's ends."""
    clean = _cup(apex_at_top=True)
    with_island = clean.copy()
    with_island[0:4, 0:12, 0:12] = True  # a block beyond the open base, as large as a fifth of the wall
    assert with_island.sum() > 1.2 * clean.sum()
    assert wall_landmarks_3d(with_island, (4.0, 4.0, 4.0)) == wall_landmarks_3d(clean, (4.0, 4.0, 4.0))
    assert wall_landmarks(with_island) == wall_landmarks(clean)


@requires_real_data
def test_3d_landmarks_of_the_real_masks_are_in_the_files_own_indices():
    mask = load_image(SHARED_DATA / "mps-physionet" / "nifti" / "patient001.nii.gz")
    points = wall_landmark_points_3d(mask)
    x, y, z = points["lv_centre"]
    column, row, slice_index = mask.array_index(x, y, z)
    wall = np.argwhere(mask.pixels > 0).mean(axis=0)
    assert (slice_index, row, column) == pytest.approx(tuple(wall))
    assert z == pytest.approx(mask.frames[0] - wall[0])  # the L,P,I file's k runs against the array's slices
