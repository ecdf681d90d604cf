"""Array positions to patient mm (LPS): a file's own orientation, or the standard layout without one."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from spectfsl.core.files.loader import load_image
from spectfsl.core.image import SpectImage
from spectfsl.core.quantify.geometry import scan_frame


def test_without_an_orientation_the_frame_is_the_voxel_spacing_and_says_so():
    image = SpectImage(np.zeros((4, 5, 6), np.float32), (2.0, 3.0), 4.0, "a", "a")
    frame = scan_frame(image)
    assert not frame.oriented
    assert np.allclose(frame.matrix, np.diag([3.0, 2.0, 4.0]))  # column, row, slice steps
    assert frame.voxel_ml == pytest.approx(2 * 3 * 4 / 1000)
    points = np.array([[1.0, 2.0, 3.0], [0.5, 0, 7]])
    assert np.allclose(frame.to_array(frame.to_patient(points)), points)


def test_a_nifti_frame_is_its_affine_turned_from_ras_to_lps(tmp_path):
    rotation = np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]]) * np.array([2.0, 3.0, 4.0])  # oblique in plane
    affine = np.eye(4)
    affine[:3, :3], affine[:3, 3] = rotation, [10.0, -20.0, 30.0]
    nib.save(nib.Nifti1Image(np.random.default_rng(0).random((6, 7, 8)).astype(np.float32), affine), tmp_path / "v.nii")
    image = load_image(tmp_path / "v.nii")
    frame = scan_frame(image)
    assert frame.oriented
    for position in ([0.0, 0, 0], [1, 2, 3], [4.5, 0.5, 6]):
        file_index = np.array(image.file_index(*position))
        ras = affine[:3, :3] @ file_index + affine[:3, 3]
        assert np.allclose(frame.to_patient(np.array([position]))[0], ras * [-1, -1, 1])
    assert frame.voxel_ml == pytest.approx(2 * 3 * 4 / 1000)
