"""Label maps in their scan file's own voxel order (negative slice spacing, L,P,I NIfTI), and the check
that refuses or names a map that does not fit its scan."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pydicom
import pytest

from spectfsl.core.data.phantom import make_patient, write_case
from spectfsl.core.files.loader import load_image
from spectfsl.core.image import array_order, file_order
from spectfsl.core.processing.label_fit import check_fit, labels_on_scan
from spectfsl.errors import SpectfslError

LV = {1: "myocardium", 2: "cavity"}


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fit")
    case = make_patient(0, defect="inferior")
    write_case(case, folder / "P001")
    return folder / "P001", case


def _reversed_on_disk(source, target):
    """The same study stored as real NM files often are: frames top to bottom, negative spacing."""
    dataset = pydicom.dcmread(source)
    frames = dataset.pixel_array
    dataset.PixelData = np.ascontiguousarray(frames[::-1]).tobytes()
    dataset.SpacingBetweenSlices = f"{-float(dataset.SpacingBetweenSlices):.4f}"
    position = [float(v) for v in dataset.DetectorInformationSequence[0].ImagePositionPatient]
    position[2] += (len(frames) - 1) * float(dataset.SliceThickness)
    dataset.DetectorInformationSequence[0].ImagePositionPatient = [f"{v:.3f}" for v in position]
    dataset.save_as(target)
    return frames


def test_a_map_in_a_negative_spacing_files_own_order_lands_on_its_anatomy(case, tmp_path):
    folder, phantom = case
    _reversed_on_disk(folder / "spect.dcm", tmp_path / "reversed.dcm")
    scan = load_image(tmp_path / "reversed.dcm")
    stored = phantom.lv_labels[::-1]  # the labels in the file's frame order, as pydicom gives its pixels
    np.save(tmp_path / "labels.npy", stored)
    on_scan = labels_on_scan(scan, load_image(tmp_path / "labels.npy"))
    np.testing.assert_array_equal(on_scan, phantom.lv_labels)  # the same anatomy as the original file's
    np.testing.assert_array_equal(file_order(scan, on_scan), stored)


def test_a_map_in_an_lpi_niftis_own_order_lands_on_its_anatomy(case, tmp_path):
    _, phantom = case
    affine = np.diag([-6.4, -6.4, -6.4, 1.0])  # L, P, I
    counts = phantom.counts.astype(np.float32).transpose(2, 1, 0)  # nibabel's (i, j, k)
    nib.save(nib.Nifti1Image(counts, affine), tmp_path / "scan.nii.gz")
    scan = load_image(tmp_path / "scan.nii.gz")
    stored = phantom.lv_labels  # nibabel's array transposed to (k, j, i): the file's own order
    np.save(tmp_path / "labels.npy", stored)
    on_scan = labels_on_scan(scan, load_image(tmp_path / "labels.npy"))
    np.testing.assert_array_equal(on_scan, array_order(scan, stored))
    assert check_fit(scan, on_scan.astype(int), 1, "labels.npy") is None


def test_a_map_reversed_along_the_slices_is_refused_or_named(case):
    folder, phantom = case
    scan = load_image(folder / "spect.dcm")
    assert check_fit(scan, phantom.lv_labels.astype(int), 1, "right.npy") is None
    reversed_map = phantom.lv_labels[::-1].astype(int)
    try:
        note = check_fit(scan, reversed_map, 1, "reversed.npy")
    except SpectfslError as refused:
        note = str(refused)
    assert note is not None and "reversed.npy" in note and "slices reversed" in note


def test_a_map_of_another_scan_is_refused(case):
    folder, _ = case
    scan = load_image(folder / "spect.dcm")
    other = make_patient(5).lv_labels.astype(int)
    other = np.roll(other, 24, axis=2)  # a heart where this scan has none
    with pytest.raises(SpectfslError, match="no brighter than its surroundings"):
        check_fit(scan, other, 1, "other.npy")
