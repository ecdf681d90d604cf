"""`--crop auto`: finding the heart without labels."""

from __future__ import annotations

import numpy as np
import pytest

from spectfsl.core.data.phantom import MYOCARDIUM, make_patient
from spectfsl.core.files.loader import load_image
from spectfsl.core.image import SpectImage
from spectfsl.core.processing.heart import find_heart
from spectfsl.errors import SpectfslError
from tests.conftest import SHARED_DATA, requires_real_data


def _coverage(box, mask: np.ndarray) -> float:
    (z0, z1), (y0, y1), (x0, x1) = box.bounds(mask.shape)
    return float(mask[z0:z1, y0:y1, x0:x1].sum() / mask.sum())


@pytest.mark.parametrize("index", range(4))
def test_phantom_heart_is_found_at_the_lv_cavity(index):
    case = make_patient(index)
    volume = SpectImage(case.counts.astype(np.float32), (6.4, 6.4), 6.4, "phantom", case.patient)
    box = find_heart(volume)
    x, y, z = case.landmarks["lv_centre"]
    assert np.linalg.norm(np.subtract(box.centre, (z, y, x))) * 6.4 < 15.0
    assert _coverage(box, case.labels == MYOCARDIUM) == 1.0


def test_a_2d_image_is_refused():
    with pytest.raises(SpectfslError, match="3D volume"):
        find_heart(SpectImage(np.ones((8, 8), np.float32), (4.0, 4.0), None, "x.png", "x"))


@requires_real_data
@pytest.mark.parametrize("patient", ["patient001", "patient002", "patient003"])
def test_real_crop_keeps_90_percent_of_the_expert_lv_wall(patient):
    folder = SHARED_DATA / "mps-physionet" / "nifti"
    volume = load_image(folder / f"{patient}_0000.nii.gz")
    wall = load_image(folder / f"{patient}.nii.gz").pixels > 0
    assert _coverage(find_heart(volume), wall) >= 0.90
