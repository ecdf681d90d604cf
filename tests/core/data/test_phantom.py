"""The synthetic phantom: repeatable, anatomically arranged, labelled."""

from __future__ import annotations

import numpy as np
import pytest

from spectfsl.core.data.phantom import LIVER, MYOCARDIUM, VENTRICLES, make_patient


def test_same_seed_gives_the_same_patient_and_another_seed_differs():
    first, again, other = make_patient(2, seed=5), make_patient(2, seed=5), make_patient(2, seed=6)
    np.testing.assert_array_equal(first.counts, again.counts)
    assert first.landmarks == again.landmarks
    assert not np.array_equal(first.counts, other.counts)


def test_patients_vary_in_position_and_size():
    cases = [make_patient(i) for i in range(6)]
    centres = np.array([case.landmarks["lv_centre"] for case in cases])
    myocardium_voxels = [int((case.labels == MYOCARDIUM).sum()) for case in cases]
    assert centres.std(axis=0).min() > 0.3
    assert max(myocardium_voxels) > 1.15 * min(myocardium_voxels)


def test_every_class_is_labelled_and_myocardium_is_hottest():
    case = make_patient(0)
    mean = {label: case.counts[case.labels == label].mean() for label in (MYOCARDIUM, VENTRICLES, LIVER)}
    assert all((case.labels == label).sum() > 50 for label in mean)
    assert mean[MYOCARDIUM] > mean[VENTRICLES]
    assert mean[MYOCARDIUM] > case.counts[case.labels == 0].mean() * 3


def test_apex_points_anterior_left_inferior_and_liver_lies_below_right():
    for index in range(4):
        marks = make_patient(index).landmarks
        centre, apex, liver = (np.array(marks[k]) for k in ("lv_centre", "lv_apex", "liver_centre"))
        direction = apex - centre  # voxel x (left), y (posterior), z (superior)
        assert direction[0] > 0 and direction[1] < 0 and direction[2] < 0
        assert liver[0] < centre[0] and liver[2] < centre[2]


def test_lv_centre_landmark_lies_in_the_ventricle_cavity():
    case = make_patient(1)
    x, y, z = (int(round(v)) for v in case.landmarks["lv_centre"])
    assert case.labels[z, y, x] == VENTRICLES


def test_counts_are_poisson_integers_with_noise():
    case = make_patient(3)
    assert case.counts.dtype == np.uint16
    wall = case.counts[case.labels == MYOCARDIUM].astype(float)
    assert wall.std() > 0 and 10 < wall.mean() < 1000


def test_a_gated_phantom_beats_with_its_myocardium_kept_and_its_truth_from_its_labels():
    from spectfsl.core.data.phantom import gated_truth

    static, gated = make_patient(1), make_patient(1, gates=8)
    np.testing.assert_array_equal(static.counts, gated.counts)  # the static study is unchanged
    assert gated.gated_counts.shape == (8, *static.counts.shape)
    cavity = (gated.gated_lv_labels == 2).sum(axis=(1, 2, 3))
    myocardium = (gated.gated_lv_labels == 1).sum(axis=(1, 2, 3))
    assert myocardium.std() / myocardium.mean() < 0.05
    truth = gated_truth(gated)
    assert truth["lvef_pct"] == pytest.approx(100 * (cavity.max() - cavity.min()) / cavity.max(), abs=0.1)
    assert cavity.argmax() + 1 == truth["ed_gate"] and cavity.argmin() + 1 == truth["es_gate"]
    # a thicker wall in systole is brighter, as partial volume makes it on real scans
    ed, es = truth["ed_gate"] - 1, truth["es_gate"] - 1
    brightness = [gated.gated_counts[g][gated.gated_lv_labels[g] == 1].mean() for g in (ed, es)]
    assert brightness[1] > 1.03 * brightness[0]


def test_gated_phantoms_vary_their_ejection_fraction_between_patients():
    from spectfsl.core.data.phantom import gated_truth

    fractions = [gated_truth(make_patient(index, gates=8))["lvef_pct"] for index in range(8)]
    assert max(fractions) - min(fractions) > 25 and 15 <= min(fractions) and max(fractions) <= 80
