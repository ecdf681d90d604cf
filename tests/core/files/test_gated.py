"""Gated studies: NM RECON GATED TOMO laid out by its vectors, 4D NIfTI, `PATH@gN`, the summed volume,
and the refusals that keep a gated file from being read as a volume it is not."""

from __future__ import annotations

import shutil
import warnings

import nibabel as nib
import numpy as np
import pydicom
import pytest

from spectfsl.core.files.dicom_writer import write_nm_volume
from spectfsl.core.files.loader import iter_images, iter_studies, load_image, load_study
from spectfsl.core.image import GatedImage
from spectfsl.errors import SpectfslError, SpectfslWarning
from tests.conftest import dciodvfy_errors

GATES, SLICES, SIDE = 8, 6, 10


def _counts(seed: int = 0) -> np.ndarray:
    """(gates, slices, rows, cols) counts whose every (gate, slice) plane is told apart by its value."""
    planes = np.arange(GATES * SLICES, dtype=np.uint16).reshape(GATES, SLICES, 1, 1) * 10
    noise = np.random.default_rng(seed).integers(0, 5, (GATES, SLICES, SIDE, SIDE), dtype=np.uint16)
    return planes + noise


@pytest.fixture
def gated_dicom(tmp_path):
    path = tmp_path / "gated.dcm"
    counts = _counts()
    write_nm_volume(path, counts, 6.4, "PGATED")
    return path, counts


def test_a_gated_nm_file_is_one_volume_per_gate(gated_dicom):
    path, counts = gated_dicom
    study = load_study(path)
    assert isinstance(study, GatedImage) and study.n_gates == GATES
    for number, gate in enumerate(study.gates, start=1):
        assert gate.gate == number and gate.label == f"{path}@g{number}"
        np.testing.assert_array_equal(gate.pixels, counts[number - 1])
        assert gate.pixel_spacing_mm == (6.4, 6.4) and gate.slice_spacing_mm == 6.4


def test_frames_are_placed_by_their_time_slot_and_slice_vectors_not_their_order(gated_dicom):
    path, counts = gated_dicom
    dataset = pydicom.dcmread(path)
    frames = dataset.pixel_array
    order = np.random.default_rng(1).permutation(len(frames))
    dataset.PixelData = np.ascontiguousarray(frames[order]).tobytes()
    dataset.TimeSlotVector = [int(v) for v in np.asarray(dataset.TimeSlotVector)[order]]
    dataset.SliceVector = [int(v) for v in np.asarray(dataset.SliceVector)[order]]
    dataset.save_as(path)
    study = load_study(path)
    for number in range(1, GATES + 1):
        np.testing.assert_array_equal(study.gate(number).pixels, counts[number - 1])


def test_negative_slice_spacing_reverses_every_gate(gated_dicom):
    path, counts = gated_dicom
    dataset = pydicom.dcmread(path)
    dataset.SpacingBetweenSlices = "-6.4"
    dataset.save_as(path)
    gate = load_study(path).gate(2)
    np.testing.assert_array_equal(gate.pixels, counts[1][::-1])
    assert gate.frames == tuple(range(SLICES))[::-1]


def test_a_whole_gated_study_is_read_as_the_sum_of_its_gates_and_says_so(gated_dicom):
    path, counts = gated_dicom
    with pytest.warns(SpectfslWarning, match="gated study of 8 gates, read as their sum"):
        summed = load_image(path)
    np.testing.assert_array_equal(summed.pixels, counts.sum(axis=0))
    with pytest.warns(SpectfslWarning):
        assert next(iter_images([path])).pixels.shape == (SLICES, SIDE, SIDE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert isinstance(next(iter_studies([path])), GatedImage)


def test_a_gate_selector_names_one_gate_as_a_plain_volume(gated_dicom):
    path, counts = gated_dicom
    gate = load_image(f"{path}@g3")
    np.testing.assert_array_equal(gate.pixels, counts[2])
    assert [image.gate for image in iter_images([f"{path}@g1", f"{path}@g8"])] == [1, 8]
    with pytest.raises(SpectfslError, match="gate 9 out of range .* 8 gates"):
        load_image(f"{path}@g9")
    with pytest.raises(SpectfslError, match="numbered from 1"):
        load_image(f"{path}@g0")


def test_a_gate_selector_on_a_static_file_is_refused(tmp_path):
    path = tmp_path / "static.dcm"
    write_nm_volume(path, _counts()[0], 6.4, "PSTATIC")
    with pytest.raises(SpectfslError, match="not a gated study"):
        load_image(f"{path}@g1")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: setattr(d, "ImageType", ["ORIGINAL", "PRIMARY", "GATED", "EMISSION"]), "planar GATED"),
        (lambda d: delattr(d, "NumberOfTimeSlots"), r"Number of Time Slots \(0054,0071\)"),
        (lambda d: setattr(d, "NumberOfTimeSlots", 7), "7 x Number of Slices 6 x .* = 42, but the file has 48"),
        (lambda d: setattr(d, "TimeSlotVector", list(d.TimeSlotVector)[:-1]), r"Time Slot Vector .* gives 47"),
        (lambda d: delattr(d, "SliceVector"), r"Slice Vector \(0054,0080\) .* gives 0"),
        (lambda d: setattr(d, "SliceVector", [1] * 48), "name some .* twice"),
    ],
)
def test_an_inconsistent_gated_file_is_refused_naming_the_file_and_attribute(gated_dicom, change, message):
    path, _ = gated_dicom
    dataset = pydicom.dcmread(path)
    change(dataset)
    dataset.save_as(path)
    with pytest.raises(SpectfslError, match=message) as refused:
        load_study(path)
    assert str(path) in str(refused.value)


def test_a_4d_nifti_is_a_gated_study_and_other_4th_axes_are_refused(tmp_path):
    data = np.random.default_rng(0).random((SIDE, SIDE, SLICES, GATES)).astype(np.float32)
    path = tmp_path / "study.nii.gz"
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)
    study = load_study(path)
    assert isinstance(study, GatedImage) and study.n_gates == GATES
    np.testing.assert_allclose(study.gate(4).pixels, load_study(f"{path}@g4").pixels)
    three = tmp_path / "gate4.nii.gz"
    nib.save(nib.Nifti1Image(data[..., 3], np.eye(4)), three)
    np.testing.assert_array_equal(study.gate(4).pixels, load_image(three).pixels)
    for count in (2, 40):
        wrong = tmp_path / f"wrong{count}.nii.gz"
        nib.save(nib.Nifti1Image(np.zeros((4, 4, 4, count), np.float32), np.eye(4)), wrong)
        with pytest.raises(SpectfslError, match=f"this one has {count}"):
            load_study(wrong)


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (dicom3tools) not installed")
def test_a_written_gated_study_passes_dciodvfy(gated_dicom):
    path, _ = gated_dicom
    assert dciodvfy_errors(path) == []
