"""Classes derived from an LV-wall mask."""

from __future__ import annotations

import numpy as np
import pytest

from spectfsl.core.imaging.masks import derive_from_wall
from spectfsl.errors import SpectfslError


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
