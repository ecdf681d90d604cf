"""The LV axis from a tissue map: base to apex along the closed end, short-axis directions."""

from __future__ import annotations

import numpy as np
import pytest

from spectfsl.core.quantify.axis import lv_axis
from spectfsl.core.quantify.geometry import ScanFrame
from spectfsl.errors import SpectfslError

FRAME = ScanFrame(np.eye(3) * 2.0, np.zeros(3), oriented=True)  # 2 mm voxels, array axes = L, P, S


def cup(shape=(40, 40, 40), apex_towards_plus_column: bool = True):
    """A half-ellipsoid wall around a cavity, closed at one end of the column axis and open at the other."""
    slices, rows, cols = np.indices(shape, dtype=np.float64)
    centre = np.array(shape) / 2
    along = (cols - centre[2]) * (1 if apex_towards_plus_column else -1)
    radial = np.hypot(slices - centre[0], rows - centre[1])
    outer = (along / 14) ** 2 + (radial / 8) ** 2 <= 1
    inner = (along / 11) ** 2 + (radial / 5) ** 2 <= 1
    open_base = along < -4  # the base is open: cut the ellipsoid there
    wall = outer & ~inner & ~open_base
    cavity = inner & ~open_base
    return wall, cavity


@pytest.mark.parametrize("plus", [True, False])
def test_the_apex_is_the_closed_end_and_the_axis_runs_base_to_apex(plus):
    wall, cavity = cup(apex_towards_plus_column=plus)
    axis = lv_axis(FRAME, wall, cavity)
    expected = np.array([1.0 if plus else -1.0, 0, 0])  # columns run along L in this frame
    assert axis.long @ expected > 0.99
    assert (axis.apex - axis.base) @ axis.long == pytest.approx(axis.length_mm)
    assert 30 < axis.length_mm < 50  # 14 voxels of 2 mm beyond the centre, 4 before it
    basis = np.stack([axis.long, axis.septal, axis.anterior])
    assert np.allclose(basis @ basis.T, np.eye(3), atol=1e-9)  # three perpendicular unit vectors
    assert axis.septum == "patient right"


def test_a_right_ventricle_places_the_septum():
    wall, cavity = cup()
    rv = np.zeros_like(wall)
    rv[20, 20:30, 18:24] = True  # beside the LV, towards +rows (posterior here)
    axis = lv_axis(FRAME, wall, cavity, rv)
    assert axis.septum == "rv" and axis.septal @ np.array([0, 1.0, 0]) > 0.9


def test_a_map_without_myocardium_is_refused():
    with pytest.raises(SpectfslError, match="fewer than 10 myocardium voxels"):
        lv_axis(FRAME, np.zeros((8, 8, 8), bool), np.zeros((8, 8, 8), bool))


def test_the_direction_comes_from_the_closed_end_not_from_the_principal_axis_sign(monkeypatch):
    """SVD may return the principal axis either way round: the apex must not depend on which."""
    wall, cavity = cup()
    found = lv_axis(FRAME, wall, cavity)
    real_svd = np.linalg.svd

    def flipped_svd(*args, **kwargs):
        u, s, vt = real_svd(*args, **kwargs)
        return u, s, -vt

    monkeypatch.setattr(np.linalg, "svd", flipped_svd)
    again = lv_axis(FRAME, wall, cavity)
    assert np.allclose(again.long, found.long) and np.allclose(again.apex, found.apex)
