"""Reading and writing NM DICOM: real-world values, geometry, compression, validity."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate
from pydicom.uid import JPEGLosslessSV1, RLELossless

from spectfsl.core.files.dicom import read_dicom
from spectfsl.core.files.dicom_writer import write_nm_volume
from spectfsl.core.files.privacy import pseudonym
from spectfsl.errors import SpectfslError
from tests.conftest import SHARED_DATA, dciodvfy_errors, requires_real_data


@pytest.fixture
def volume_file(tmp_path):
    counts = np.arange(4 * 5 * 6, dtype=np.uint16).reshape(4, 5, 6)
    path = tmp_path / "vol.dcm"
    write_nm_volume(path, counts, voxel_mm=3.5, patient_id="PAT7")
    return path, counts


def test_written_volume_reads_back_with_geometry(volume_file):
    path, counts = volume_file
    image = read_dicom(path)
    np.testing.assert_array_equal(image.pixels, counts)
    assert image.pixels.dtype == np.float32
    assert image.pixel_spacing_mm == (3.5, 3.5)
    assert image.slice_spacing_mm == 3.5
    assert image.patient == pseudonym("PAT7")  # the identity itself never leaves the reader
    assert image.frames == (0, 1, 2, 3)


def test_rescale_slope_and_intercept_are_applied(volume_file):
    path, counts = volume_file
    dataset = pydicom.dcmread(path)
    dataset.RescaleSlope, dataset.RescaleIntercept = "0.5", "-3"
    dataset.save_as(path)
    np.testing.assert_allclose(read_dicom(path).pixels, counts * 0.5 - 3)


def test_real_world_value_mapping_slope_is_applied_without_rescale(volume_file):
    path, counts = volume_file
    dataset = pydicom.dcmread(path)
    mapping = pydicom.Dataset()
    mapping.RealWorldValueSlope, mapping.RealWorldValueIntercept = 2.0, 10.0
    dataset.RealWorldValueMappingSequence = [mapping]
    dataset.save_as(path)
    np.testing.assert_allclose(read_dicom(path).pixels, counts * 2.0 + 10.0)


def test_real_world_value_lut_is_applied(volume_file):
    path, counts = volume_file
    dataset = pydicom.dcmread(path)
    mapping = pydicom.Dataset()
    mapping.RealWorldValueFirstValueMapped = 0
    mapping.RealWorldValueLastValueMapped = 119
    mapping.RealWorldValueLUTData = [float(v) ** 2 for v in range(120)]
    dataset.RealWorldValueMappingSequence = [mapping]
    dataset.save_as(path)
    np.testing.assert_allclose(read_dicom(path).pixels, counts.astype(float) ** 2)


def test_negative_slice_spacing_flips_order(volume_file):
    path, counts = volume_file
    dataset = pydicom.dcmread(path)
    dataset.SpacingBetweenSlices = "-3.5"
    dataset.save_as(path)
    image = read_dicom(path)
    np.testing.assert_array_equal(image.pixels, counts[::-1])
    assert image.slice_spacing_mm == 3.5
    assert image.frames == (3, 2, 1, 0)
    assert image.slice_at(0).frame == 3


def test_slice_thickness_is_used_without_spacing_between_slices(volume_file):
    path, _ = volume_file
    dataset = pydicom.dcmread(path)
    del dataset.SpacingBetweenSlices
    dataset.SliceThickness = "5"
    dataset.save_as(path)
    assert read_dicom(path).slice_spacing_mm == 5.0


def test_rle_compressed_file_decodes(volume_file):
    path, counts = volume_file
    dataset = pydicom.dcmread(path)
    dataset.compress(RLELossless)
    dataset.save_as(path)
    np.testing.assert_array_equal(read_dicom(path).pixels, counts)


def test_undecodable_transfer_syntax_names_syntax_and_package(volume_file):
    path, _ = volume_file
    dataset = pydicom.dcmread(path)
    dataset.file_meta.TransferSyntaxUID = JPEGLosslessSV1
    dataset.PixelData = encapsulate([b"\xff\xd8not-really-jpeg\xff\xd9"] * 4)
    dataset["PixelData"].VR = "OB"
    dataset.save_as(path, enforce_file_format=True)
    with pytest.raises(SpectfslError) as raised:
        read_dicom(path)
    message = str(raised.value)
    assert "JPEG Lossless" in message
    assert "pylibjpeg" in message or "gdcm" in message


def test_dicom_without_pixel_data_is_refused(volume_file):
    path, _ = volume_file
    dataset = pydicom.dcmread(path)
    del dataset.PixelData
    dataset.save_as(path)
    with pytest.raises(SpectfslError, match="no pixel data"):
        read_dicom(path)


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (dicom3tools) not installed")
def test_written_volume_passes_dciodvfy(volume_file):
    path, _ = volume_file
    assert dciodvfy_errors(path) == []


@requires_real_data
@pytest.mark.parametrize("name", ["mps-1.dcm", "mps-2.dcm", "mps-3.dcm"])
def test_real_nm_volumes_load_reordered_along_the_normal(name):
    path = SHARED_DATA / "mps-physionet" / "dicom" / name
    image = read_dicom(path)
    raw = pydicom.dcmread(path).pixel_array
    assert image.pixels.shape == (50, 70, 70)
    assert image.pixel_spacing_mm == (4.0, 4.0)
    assert image.slice_spacing_mm == 4.0  # |SpacingBetweenSlices| of -4
    np.testing.assert_array_equal(image.pixels, raw[::-1].astype(np.float32))
    assert image.frames[0] == 49
