"""The cavity each gate's wall encloses: close to the true cavity, closed across a gap in the wall."""

from __future__ import annotations

import numpy as np
import pytest

from spectfsl.core.data.phantom import gated_truth, make_patient
from spectfsl.core.image import SpectImage
from spectfsl.core.quantify.axis import voxel_points
from spectfsl.core.quantify.surface import enclosed_cavity_ml
from spectfsl.core.quantify.workflow import quantify


@pytest.fixture(scope="module")
def beating():
    case = make_patient(0, gates=8)
    image = SpectImage(case.gated_counts.sum(axis=0).astype(np.float32), (6.4, 6.4), 6.4, "ph", case.patient)
    summed_labels = case.gated_lv_labels[gated_truth(case)["ed_gate"] - 1]
    readout = quantify(image, summed_labels, {1: "myocardium", 2: "cavity"})
    return case, readout


def test_the_enclosed_cavity_follows_the_true_cavity_through_the_cycle(beating):
    case, readout = beating
    walls = case.gated_lv_labels == 1
    volumes = np.array(enclosed_cavity_ml(walls, readout.myocardium, readout.frame, readout.axis))
    truth = np.array(gated_truth(case)["cavity_ml"])
    assert np.corrcoef(volumes, truth)[0, 1] > 0.98
    assert np.abs(volumes / truth - 1).max() < 0.25
    assert volumes.argmin() == truth.argmin()


def test_a_gap_in_the_wall_is_closed_rather_than_leaking_the_cavity(beating):
    case, readout = beating
    ed = gated_truth(case)["ed_gate"] - 1
    wall = case.gated_lv_labels[ed] == 1
    whole = enclosed_cavity_ml(wall[None], readout.myocardium, readout.frame, readout.axis)[0]
    axis = readout.axis
    offsets = voxel_points(readout.frame, wall) - axis.base
    across = offsets - np.outer(offsets @ axis.long, axis.long)
    lateral = np.abs(np.degrees(np.arctan2(across @ axis.anterior, across @ -axis.septal))) < 45
    opened = wall.copy()
    opened[tuple(index[lateral] for index in np.nonzero(wall))] = False  # the lateral wall missing
    gapped = enclosed_cavity_ml(opened[None], readout.myocardium, readout.frame, readout.axis)[0]
    assert gapped == pytest.approx(whole, rel=0.2)
