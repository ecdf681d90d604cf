"""One coordinate convention: points in the file's own voxel indices, `PATH@N` the file's slice N,
patient coordinates from the file's geometry; round trips on real and written files."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pydicom
import pytest

from spectfsl.core.files.dicom_writer import write_nm_volume
from spectfsl.core.files.loader import load_image
from tests.conftest import SHARED_DATA, requires_real_data

REAL_DICOM = SHARED_DATA / "mps-physionet" / "dicom" / "mps-2.dcm"
REAL_NIFTI = SHARED_DATA / "mps-physionet" / "nifti" / "patient001_0000.nii.gz"


def _marked_volume(shape=(6, 7, 8), at=(2, 3, 4)) -> np.ndarray:
    """A (i, j, k) volume with one bright voxel at file index `at`."""
    data = np.zeros(shape, dtype=np.float32)
    data[at] = 10.0
    return data


def _check_marker(image, marker_xyz) -> None:
    """The brightest array voxel is the file's `marker_xyz`, both ways, and in slice @z."""
    s, r, c = np.unravel_index(int(np.argmax(image.pixels)), image.pixels.shape)
    assert image.file_index(c, r, s) == pytest.approx(marker_xyz)
    assert image.array_index(*marker_xyz) == pytest.approx((c, r, s))


@pytest.mark.parametrize("axcodes", [("R", "A", "S"), ("L", "P", "I"), ("L", "A", "S"), ("R", "P", "I")])
def test_nifti_points_and_slices_are_the_files_own(tmp_path, axcodes):
    flips = {"R": -1, "L": 1, "A": -1, "P": 1, "S": 1, "I": -1}  # RAS affine sign of each code
    signs = [-flips[axcodes[0]], -flips[axcodes[1]], flips[axcodes[2]]]
    affine = np.diag([2.0 * signs[0], 3.0 * signs[1], 4.0 * signs[2], 1.0])
    affine[:3, 3] = [10, 20, 30]
    path = tmp_path / "v.nii.gz"
    nib.save(nib.Nifti1Image(_marked_volume(), affine), path)
    assert nib.aff2axcodes(nib.load(path).affine) == axcodes
    image = load_image(path)
    _check_marker(image, (2, 3, 4))
    plane = load_image(f"{path}@4")  # the file's own slice k = 4 holds the marker
    row, col = np.unravel_index(int(np.argmax(plane.pixels)), plane.pixels.shape)
    assert plane.pixels[row, col] == 10 and plane.file_index(col, row) == pytest.approx((2, 3, 4))
    assert image.patient_mm(2, 3, 4) == pytest.approx(tuple((affine @ [2, 3, 4, 1])[:3]))
    assert image.file_mm(2, 3, 4) == pytest.approx((4.0, 9.0, 16.0))
    assert image.geometry.space == "RAS"


def test_anatomy_faces_the_same_way_whatever_the_nifti_orientation(tmp_path):
    """An R,A,S file and its L,P,I twin (same anatomy, axes stored the other way) give one array."""
    data = np.random.default_rng(0).random((6, 7, 8)).astype(np.float32)
    nib.save(nib.Nifti1Image(data, np.diag([2.0, 3.0, 4.0, 1.0])), tmp_path / "ras.nii.gz")
    nib.save(nib.Nifti1Image(data[::-1, ::-1, ::-1].copy(), np.diag([-2.0, -3.0, -4.0, 1.0])), tmp_path / "lpi.nii.gz")
    ras, lpi = load_image(tmp_path / "ras.nii.gz"), load_image(tmp_path / "lpi.nii.gz")
    assert nib.aff2axcodes(nib.load(tmp_path / "lpi.nii.gz").affine) == ("L", "P", "I")
    np.testing.assert_array_equal(ras.pixels, lpi.pixels)
    assert ras.geometry.flip_x and ras.geometry.flip_y and not lpi.geometry.flip_x


@pytest.mark.parametrize("negative_spacing", [False, True])
def test_dicom_points_are_column_row_frame(tmp_path, negative_spacing):
    counts = np.zeros((5, 6, 7), dtype=np.uint16)  # (frames, rows, cols)
    counts[3, 2, 1] = 100  # frame 3, row 2, column 1
    path = tmp_path / "scan.dcm"
    write_nm_volume(path, counts, voxel_mm=4.0, patient_id="P1")
    if negative_spacing:
        dataset = pydicom.dcmread(path)
        dataset.SpacingBetweenSlices = "-4.0"
        dataset.save_as(path)
    image = load_image(path)
    assert image.frames[0] == (4 if negative_spacing else 0)
    _check_marker(image, (1, 2, 3))
    plane = load_image(f"{path}@3")
    assert plane.pixels.max() == pytest.approx(image.pixels.max()) and plane.pixels[2, 1] == plane.pixels.max()


@requires_real_data
def test_real_dicom_frame_n_is_the_files_frame_n_and_positions_follow_its_geometry():
    dataset = pydicom.dcmread(REAL_DICOM)
    stored = dataset.pixel_array.astype(np.float32)
    image = load_image(REAL_DICOM)
    assert float(dataset.SpacingBetweenSlices) < 0  # stored against the normal: reversed inside
    for frame in (17, 25, 33):
        plane = load_image(f"{REAL_DICOM}@{frame}")
        np.testing.assert_allclose(plane.pixels / plane.pixels.max(), stored[frame] / stored[frame].max(), rtol=1e-5)
    s, r, c = 10, 20, 30
    x, y, z = image.file_index(c, r, s)
    assert image.pixels[s, r, c] / image.pixels.max() == pytest.approx(stored[int(z), int(y), int(x)] / stored.max())
    assert image.array_index(x, y, z) == pytest.approx((c, r, s))
    detector = dataset.DetectorInformationSequence[0]
    origin = np.asarray(detector.ImagePositionPatient, dtype=float)
    spacing = float(dataset.PixelSpacing[0])
    expected = origin + np.array([x * spacing, y * spacing, z * float(dataset.SpacingBetweenSlices)])
    assert image.patient_mm(x, y, z) == pytest.approx(tuple(expected))
    assert image.geometry.space == "LPS"


@requires_real_data
def test_real_nifti_slice_n_is_the_files_k_n():
    nifti = nib.load(REAL_NIFTI)
    assert nib.aff2axcodes(nifti.affine) == ("L", "P", "I")
    data = np.asanyarray(nifti.dataobj).astype(np.float32)
    for k in (0, 24, 49):
        np.testing.assert_allclose(load_image(f"{REAL_NIFTI}@{k}").pixels, data[:, :, k].T, rtol=1e-6)
    image = load_image(REAL_NIFTI)
    x, y, z = image.file_index(30, 20, 10)
    assert image.pixels[10, 20, 30] == pytest.approx(data[int(x), int(y), int(z)])
    assert image.patient_mm(x, y, z) == pytest.approx(tuple((nifti.affine @ [x, y, z, 1])[:3]))
