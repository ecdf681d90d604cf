"""The synthetic phantom: repeatable, anatomically arranged, labelled."""

from __future__ import annotations

import numpy as np

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
