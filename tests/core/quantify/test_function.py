"""LV function from cavity volumes per gate, the fitted curve, and the count-based baseline's geometry."""

from __future__ import annotations

import numpy as np
import pytest

from spectfsl.core.quantify.edges import enclosed_ml
from spectfsl.core.quantify.function import fitted_curve, lv_function
from spectfsl.core.quantify.polar import APICAL_SHARE, RINGS, SECTORS
from spectfsl.errors import SpectfslError


def test_ejection_fraction_comes_from_the_largest_and_smallest_gate():
    function = lv_function([120.0, 100.0, 70.0, 48.0, 60.0, 90.0, 110.0, 118.0])
    assert (function.ed_gate, function.es_gate) == (1, 4)
    assert function.edv_ml == 120.0 and function.esv_ml == 48.0 and function.sv_ml == 72.0
    assert function.lvef_pct == pytest.approx(60.0)
    row = function.row()
    assert row["gates"] == 8 and row["cavity_ml_per_gate"][3] == 48.0


def test_the_fitted_curve_passes_through_the_gates_when_it_keeps_every_harmonic():
    volumes = np.array([120.0, 100.0, 70.0, 48.0, 60.0, 90.0, 110.0, 118.0])
    np.testing.assert_allclose(fitted_curve(volumes, samples=8, harmonics=4), volumes, atol=1e-9)


def test_the_fitted_curve_finds_an_end_systole_that_falls_between_two_gates():
    cycle = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    volumes = 100 - 40 * np.cos(cycle - np.pi - np.pi / 8)  # true minimum 60 ml, between gates 4 and 5
    function = lv_function(volumes)
    assert function.lvef_pct < function.lvef_fit_pct == pytest.approx(100 * 80 / 140, abs=0.5)


def test_an_empty_cavity_has_no_ejection_fraction():
    with pytest.raises(SpectfslError, match="empty in every gate"):
        lv_function([0.0] * 8)


def test_the_enclosed_volume_of_a_hemisphere_on_a_cylinder_is_exact():
    class Axis:
        length_mm = 80.0

    radius = 20.0
    volume = enclosed_ml(np.full((RINGS, SECTORS), radius), Axis())
    cylinder_length = (1 - APICAL_SHARE) * Axis.length_mm
    expected = (2 / 3 * np.pi * radius**3 + np.pi * radius**2 * cylinder_length) / 1000
    assert volume == pytest.approx(expected, rel=1e-6)
