"""The polar map's segments and the read-out on phantoms with known defects."""

from __future__ import annotations

import numpy as np
import pytest

from spectfsl.core.data.phantom import DEFECT_WALLS, make_patient
from spectfsl.core.image import SpectImage
from spectfsl.core.quantify.polar import RINGS, SECTORS, PolarMap, segment_grid
from spectfsl.core.quantify.workflow import quantify


def test_the_grid_follows_the_aha_17_segment_layout():
    grid = segment_grid()
    assert set(np.unique(grid)) == set(range(1, 18))
    at = lambda radius, degrees: grid[int(radius * RINGS), int(degrees / 360 * SECTORS)]  # noqa: E731
    assert at(0.05, 10) == 17  # the apex at the centre
    assert [at(0.25, d) for d in (90, 180, 270, 0)] == [13, 14, 15, 16]  # apical: ant, sept, inf, lat
    assert [at(0.55, d) for d in (90, 150, 210, 270, 330, 30)] == [7, 8, 9, 10, 11, 12]
    assert [at(0.85, d) for d in (90, 150, 210, 270, 330, 30)] == [1, 2, 3, 4, 5, 6]


def test_segments_walls_and_extent_of_a_known_map():
    values = np.full((RINGS, SECTORS), 80.0)
    values[segment_grid() == 4] = 40.0  # basal inferior
    values[0, 0] = np.nan  # a ray that met no wall
    polar = PolarMap(values)
    segments = polar.segments()
    assert segments[4] == 40.0 and segments[1] == 80.0 and segments[17] == 80.0
    assert polar.walls()["inferior"] == pytest.approx((40 + 80 + 80) / 3)
    share = (segment_grid() == 4).sum() / (RINGS * SECTORS - 1) * 100
    assert polar.extent_below(60) == pytest.approx(share)


@pytest.mark.parametrize("wall", DEFECT_WALLS)
def test_the_defect_wall_of_a_phantom_is_the_lowest_given_its_labels(wall):
    case = make_patient(0, seed=5, defect=wall, defect_uptake=0.5)
    image = SpectImage(case.counts.astype(np.float32), (6.4, 6.4), 6.4, "p.dcm", "P")
    readout = quantify(image, case.lv_labels, {1: "myocardium", 2: "cavity", 4: "rv"})
    walls = {name: readout.row[name] for name in DEFECT_WALLS}
    assert min(walls, key=walls.get) == wall and readout.row["septum"] == "rv"
    assert readout.row["lv_cavity_ml"] == pytest.approx(case.lv_cavity.sum() * 6.4**3 / 1000, abs=0.01)
    apex = np.array([readout.row[f"apex_{a}"] for a in "xyz"])
    assert np.linalg.norm(apex - np.array(case.landmarks["lv_apex"])) < 1.5  # voxels


def test_a_map_without_a_cavity_class_is_refused():
    from spectfsl.errors import SpectfslError

    case = make_patient(0, seed=5)
    image = SpectImage(case.counts.astype(np.float32), (6.4, 6.4), 6.4, "p.dcm", "P")
    with pytest.raises(SpectfslError, match="needs an LV myocardium and an LV cavity"):
        quantify(image, case.lv_labels, {1: "myocardium"})
