"""Dice, HD95 and the label maps' geometry: a label map overlays its input voxel for voxel."""

from __future__ import annotations

import math

import nibabel as nib
import numpy as np
import pydicom
import pytest

from spectfsl.core.files.dicom_writer import write_nm_volume
from spectfsl.core.files.loader import load_image
from spectfsl.core.files.nifti_writer import LPS_TO_RAS, write_label_nifti
from spectfsl.core.segment.metrics import dice, hd95, mean_ci


def test_dice_and_hd95_on_known_shapes():
    a = np.zeros((10, 10, 10), bool)
    b = np.zeros_like(a)
    a[2] = True  # two one-voxel slabs 3 voxels apart: every surface distance is 3 voxels
    b[5] = True
    assert dice(a, a) == 1.0 and dice(a, b) == 0.0
    assert hd95(a, b, (2.0, 1.0, 1.0)) == pytest.approx(6.0)
    assert hd95(a, a, (1.0, 1.0, 1.0)) == 0.0
    assert math.isinf(hd95(a, np.zeros_like(a), (1.0, 1.0, 1.0)))
    c = np.zeros_like(a)
    c[2, :5] = True  # half of a
    assert dice(a, c) == pytest.approx(2 * 50 / 150)


def test_mean_ci_uses_students_t_and_skips_infinite_values():
    mean, half = mean_ci([0.8, 0.9, math.inf, 1.0])
    assert mean == pytest.approx(0.9)
    assert half == pytest.approx(4.302653 * 0.1 / math.sqrt(3), rel=1e-5)
    assert math.isnan(mean_ci([0.5])[1])


def _bright_marks(shape) -> np.ndarray:
    """A file-ordered volume with an asymmetric pattern of bright voxels (so flips would show)."""
    data = np.zeros(shape, dtype=np.float32)
    data[1, 2, 3] = data[4, 1, 0] = data[0, 5, 2] = 100.0
    return data


def _labels_of(image) -> np.ndarray:
    return (image.pixels > 50).astype(np.uint8) * 3


@pytest.mark.parametrize("axcodes", [("R", "A", "S"), ("L", "P", "I")])
def test_label_map_overlays_a_nifti_input_voxel_for_voxel(tmp_path, axcodes):
    signs = {"R": 1, "L": -1, "A": 1, "P": -1, "S": 1, "I": -1}
    affine = np.diag([2.0 * signs[axcodes[0]], 3.0 * signs[axcodes[1]], 4.0 * signs[axcodes[2]], 1.0])
    affine[:3, 3] = [5, -7, 11]
    data = _bright_marks((5, 6, 7))  # (i, j, k)
    path = tmp_path / "scan.nii.gz"
    nib.save(nib.Nifti1Image(data, affine), path)
    assert nib.aff2axcodes(nib.load(path).affine) == axcodes
    image = load_image(path)
    out = tmp_path / "scan_labels.nii.gz"
    write_label_nifti(out, image, _labels_of(image))
    written = nib.load(out)
    np.testing.assert_array_equal(np.asarray(written.dataobj), (data > 50).astype(np.uint8) * 3)
    np.testing.assert_allclose(written.affine, affine)
    assert written.get_data_dtype() == np.uint8


@pytest.mark.parametrize("negative_spacing", [False, True])
def test_label_map_overlays_a_dicom_input_voxel_for_voxel(tmp_path, negative_spacing):
    counts = _bright_marks((5, 6, 7)).astype(np.uint16)  # (frames, rows, cols)
    path = tmp_path / "scan.dcm"
    write_nm_volume(path, counts, voxel_mm=4.0, patient_id="P1")
    if negative_spacing:
        dataset = pydicom.dcmread(path)
        dataset.SpacingBetweenSlices = "-4.0"
        dataset.save_as(path)
    image = load_image(path)
    out = tmp_path / "scan_labels.nii.gz"
    write_label_nifti(out, image, _labels_of(image))
    written = nib.load(out)
    # NIfTI (i, j, k) = DICOM (column, row, frame); the affine is the DICOM geometry in RAS
    np.testing.assert_array_equal(np.asarray(written.dataobj), ((counts > 50).astype(np.uint8) * 3).T)
    np.testing.assert_allclose(written.affine, LPS_TO_RAS @ image.geometry.affine)
    frame_step = written.affine[2, 2]
    assert frame_step == pytest.approx(-4.0 if negative_spacing else 4.0)


def test_dicom_seg_references_the_source_and_holds_the_labels(tmp_path):
    highdicom = pytest.importorskip("highdicom")
    from spectfsl.core.segment.output import write_dicom_seg

    counts = _bright_marks((5, 6, 7)).astype(np.uint16)
    path = tmp_path / "scan.dcm"
    write_nm_volume(path, counts, voxel_mm=4.0, patient_id="P1")
    dataset = pydicom.dcmread(path)
    dataset.SpacingBetweenSlices = "-4.0"
    dataset.save_as(path)
    image = load_image(path)
    labels = _labels_of(image)
    labels[image.pixels == 0] = 0
    labels[0, 0, 0] = 1  # a second class, one voxel
    out = tmp_path / "scan_seg.dcm"
    write_dicom_seg(out, image, labels, [(1, "myocardium"), (3, "liver"), (2, "ventricles")], "test")
    seg = highdicom.seg.segread(out)
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == dataset.SeriesInstanceUID
    assert seg.FrameOfReferenceUID == dataset.FrameOfReferenceUID
    assert [d.SegmentLabel for d in seg.SegmentSequence] == ["myocardium", "liver"]  # empty classes left out
    liver = np.zeros((5, 6, 7), dtype=bool)  # file order (frame, row, column)
    for frame, row, column in [(1, 2, 3), (4, 1, 0), (0, 5, 2)]:
        liver[frame, row, column] = True
    positions = [
        tuple(float(v) for v in f.PlanePositionSequence[0].ImagePositionPatient)
        for f in seg.PerFrameFunctionalGroupsSequence
    ]
    affine = image.geometry.affine
    for index, position in enumerate(positions):
        frame = int(round(np.linalg.solve(affine[:3, :3], np.array(position) - affine[:3, 3])[2]))
        segment = int(
            seg.PerFrameFunctionalGroupsSequence[index].SegmentIdentificationSequence[0].ReferencedSegmentNumber
        )
        stored = seg.pixel_array[index].astype(bool)
        if segment == 2:
            np.testing.assert_array_equal(stored, liver[frame])
    assert {2} <= {
        int(f.SegmentIdentificationSequence[0].ReferencedSegmentNumber) for f in seg.PerFrameFunctionalGroupsSequence
    }


def test_label_map_classes_keep_their_ids_whatever_their_names(tmp_path):
    """A label map's class named like the derived cavity ('ventricles') is read from the map, not dropped."""
    from spectfsl.core.segment.support import choose_classes, load_labelled

    pixels = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    labels = np.zeros((4, 5, 6), dtype=np.uint8)
    labels[1, 1:3, 1:3], labels[2, 2:4, 2:4], labels[3, 0, 0] = 1, 2, 3
    nib.save(nib.Nifti1Image(pixels, np.eye(4)), tmp_path / "scan.nii.gz")
    nib.save(nib.Nifti1Image(labels, np.eye(4)), tmp_path / "labels.nii.gz")
    classes = choose_classes(None, [tmp_path / "labels.nii.gz"], [], None)
    assert classes.names == ("background", "myocardium", "ventricles", "liver") and classes.ids == (0, 1, 2, 3)
    [(image, indices)] = load_labelled([tmp_path / "scan.nii.gz"], [tmp_path / "labels.nii.gz"], classes, {}, None)
    assert [int((indices == i).sum()) for i in range(4)] == [111, 4, 4, 1]
