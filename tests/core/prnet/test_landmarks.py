"""Landmarks of the real volumes for measuring localisation (expert wall masks, heart finder)."""

from __future__ import annotations

import pytest

from spectfsl.core.prnet.landmarks import (
    heart_landmark_rows,
    mask_landmark_rows,
    mask_slice_landmark_rows,
    slice_landmark_rows,
)
from tests.conftest import SHARED_DATA, requires_real_data

NIFTI = SHARED_DATA / "mps-physionet" / "nifti"


def test_3d_rows_become_rows_on_the_slice_through_each_point():
    rows = [("scan.nii.gz", "apex", 1.0, 2.0, 24.6), ("scan.nii.gz", "lv_centre", 3.0, 4.0, 7.2)]
    assert slice_landmark_rows(rows) == [("scan.nii.gz@25", "apex", 1.0, 2.0), ("scan.nii.gz@7", "lv_centre", 3.0, 4.0)]


@requires_real_data
def test_real_landmark_rows_name_the_files_own_slices():
    mask, image = NIFTI / "patient001.nii.gz", "nifti/patient001_0000.nii.gz"
    rows = mask_landmark_rows([image], [mask])
    assert [row[1] for row in rows] == ["lv_centre", "apex", "lateral_wall"]
    centre = rows[0]
    [(slice_image, name, x, y), _] = mask_slice_landmark_rows([image], [mask])
    assert slice_image == f"{image}@{round(centre[4])}" and name == "lv_wall_centroid"
    assert (x, y) == pytest.approx(centre[2:4], abs=1e-3)
    [(dicom, name, *point)] = heart_landmark_rows(
        ["mps-1.dcm"], [SHARED_DATA / "mps-physionet" / "dicom" / "mps-1.dcm"]
    )
    assert name == "lv_centre" and all(0 <= value < 70 for value in point)
