"""The one image loader: every format, folders, frame selectors and refusals."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from spectfsl.core.files.dicom_writer import write_nm_volume
from spectfsl.core.files.formats import save_npy, sidecar_path
from spectfsl.core.files.loader import expand_inputs, iter_slices, load_image
from spectfsl.core.image import SpectImage
from spectfsl.errors import SpectfslError
from tests.conftest import SHARED_DATA, requires_real_data


def test_npy_spacing_comes_from_sidecar(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((3, 4, 5), dtype=np.int16))
    (tmp_path / "x.json").write_text(json.dumps({"pixel_spacing_mm": [2.0, 3.0], "slice_spacing_mm": 4.0}))
    image = load_image(tmp_path / "x.npy")
    assert image.pixels.shape == (3, 4, 5) and image.pixels.dtype == np.float32
    assert image.pixel_spacing_mm == (2.0, 3.0)
    assert image.slice_spacing_mm == 4.0


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype="<f4").reshape(3, 4),
        np.asfortranarray(np.arange(24, dtype="<f8").reshape(2, 3, 4)),
        np.arange(20, dtype=">u2").reshape(4, 5),
        np.arange(6, dtype=np.int64).reshape(2, 3) > 2,
    ],
    ids=["float32", "fortran-order-3d", "big-endian-uint16", "bool"],
)
def test_npy_files_read_as_numpy_reads_them(tmp_path, array):
    np.save(tmp_path / "x.npy", array)
    expected = np.load(tmp_path / "x.npy").astype(np.float32)
    np.testing.assert_array_equal(load_image(tmp_path / "x.npy").pixels, expected)


def test_a_npy_header_numpy_did_not_write_is_read_by_numpy(tmp_path):
    header = b"{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}"  # keys out of np.save's order
    header += b" " * (63 - len(header) - 10) + b"\n"
    values = np.arange(6, dtype="<f4")
    prefix = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little")
    (tmp_path / "x.npy").write_bytes(prefix + header + values.tobytes())
    np.testing.assert_array_equal(load_image(tmp_path / "x.npy").pixels, values.reshape(2, 3))


def test_npy_without_sidecar_has_unknown_spacing(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((4, 5)))
    assert load_image(tmp_path / "x.npy").pixel_spacing_mm is None


def test_save_npy_round_trips_with_sidecar(tmp_path):
    image = SpectImage(np.random.rand(6, 7).astype(np.float32), (1.5, 2.5), None, "scan.dcm", "P9", frame=3)
    save_npy(tmp_path / "a.npy", image, {"class": "liver"})
    loaded = load_image(tmp_path / "a.npy")
    np.testing.assert_array_equal(loaded.pixels, image.pixels)
    assert loaded.pixel_spacing_mm == (1.5, 2.5)
    assert loaded.patient == "P9" and loaded.frame == 3
    assert json.loads(sidecar_path(tmp_path / "a.npy").read_text())["class"] == "liver"


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_grayscale_png_8_and_16_bit(tmp_path, dtype):
    values = (np.arange(20).reshape(4, 5) * (1000 if dtype == np.uint16 else 10)).astype(dtype)
    Image.fromarray(values).save(tmp_path / "x.png")
    np.testing.assert_array_equal(load_image(tmp_path / "x.png").pixels, values)


def test_colour_png_is_refused(tmp_path):
    Image.new("RGB", (4, 4), (255, 0, 0)).save(tmp_path / "x.png")
    with pytest.raises(SpectfslError, match="grayscale"):
        load_image(tmp_path / "x.png")


def test_nifti_is_returned_in_slice_row_col_layout(tmp_path):
    data = np.random.rand(5, 6, 7).astype(np.float32)  # (x, y, z) voxel axes
    affine = np.diag([-2.0, -3.0, 4.0, 1.0])  # L, P, S
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "x.nii.gz")
    image = load_image(tmp_path / "x.nii.gz")
    np.testing.assert_allclose(image.pixels, data.transpose(2, 1, 0))
    assert image.pixel_spacing_mm == (3.0, 2.0)
    assert image.slice_spacing_mm == 4.0


def test_nifti_is_reoriented_so_slices_run_superior(tmp_path):
    data = np.random.rand(5, 6, 7).astype(np.float32)
    affine = np.diag([-2.0, -3.0, -4.0, 1.0])  # L, P, I: slices run inferior in the file
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "x.nii")
    np.testing.assert_allclose(load_image(tmp_path / "x.nii").pixels, data.transpose(2, 1, 0)[::-1])


def test_frame_selector_picks_one_frame_of_a_volume(tmp_path):
    counts = np.arange(3 * 4 * 4, dtype=np.uint16).reshape(3, 4, 4)
    write_nm_volume(tmp_path / "v.dcm", counts, 4.0, "P1")
    image = load_image(f"{tmp_path / 'v.dcm'}@2")
    assert image.pixels.shape == (4, 4) and image.frame == 2
    np.testing.assert_array_equal(image.pixels, counts[2])


@pytest.mark.parametrize("selector", ["@3", "@99"])
def test_frame_index_out_of_range_is_refused(tmp_path, selector):
    write_nm_volume(tmp_path / "v.dcm", np.zeros((3, 4, 4), np.uint16), 4.0, "P1")
    with pytest.raises(SpectfslError, match="out of range"):
        load_image(f"{tmp_path / 'v.dcm'}{selector}")


def test_folder_expands_to_supported_files_in_sorted_order(tmp_path):
    (tmp_path / "b").mkdir()
    np.save(tmp_path / "b" / "z.npy", np.ones((2, 2)))
    np.save(tmp_path / "a.npy", np.ones((2, 2)))
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("not an image")
    write_nm_volume(tmp_path / "DICOMFILE", np.zeros((2, 2, 2), np.uint16), 4.0, "P1")
    names = [path.relative_to(tmp_path).as_posix() for path, _ in expand_inputs([tmp_path])]
    assert names == ["DICOMFILE", "a.npy", "b/z.npy"]


def test_iter_slices_yields_every_frame_of_a_volume(tmp_path):
    write_nm_volume(tmp_path / "v.dcm", np.zeros((3, 4, 4), np.uint16), 4.0, "P1")
    np.save(tmp_path / "w.npy", np.ones((4, 4)))
    frames = [(image.source.endswith("v.dcm"), image.frame) for image in iter_slices([tmp_path])]
    assert frames == [(True, 0), (True, 1), (True, 2), (False, None)]


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("missing.dcm", None, "no such file"),
        ("empty.dcm", b"", "file is empty"),
        ("random.dcm", bytes(range(256)) * 8, "not a DICOM file"),
        ("random.npy", bytes(range(256)) * 8, "not a .npy file"),
        ("random.png", bytes(range(256)) * 8, "not a readable PNG"),
        ("random.nii.gz", bytes(range(256)) * 8, "not a readable NIfTI"),
        ("notes.txt", b"hello", "unsupported file type"),
    ],
)
def test_unreadable_inputs_are_refused_with_the_file_named(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SpectfslError, match=message) as raised:
        load_image(path)
    assert name in str(raised.value)


@requires_real_data
def test_real_nifti_matches_dicom_layout_and_its_mask():
    folder = SHARED_DATA / "mps-physionet" / "nifti"
    image = load_image(folder / "patient001_0000.nii.gz")
    mask = load_image(folder / "patient001.nii.gz")
    raw = np.asanyarray(nib.load(folder / "patient001_0000.nii.gz").dataobj).transpose(2, 1, 0)
    assert image.pixels.shape == mask.pixels.shape == (50, 70, 70)
    assert image.patient == "patient001"
    # the file's axes are L,P,I: slices are reversed to run superior, like the DICOM volumes
    np.testing.assert_array_equal(image.pixels, raw[::-1])
    assert set(np.unique(mask.pixels)) == {0.0, 1.0}


@requires_real_data
def test_real_png_slice_and_masks_share_a_shape():
    folder = SHARED_DATA / "seed-slice"
    image = load_image(folder / "Reconstructed_Static_64_Frame.png")
    assert image.pixels.shape == (27, 128)
    assert image.pixel_spacing_mm is None
    for mask in ("heart_Mask.png", "blood_Mask.png", "liver_Mask.png"):
        assert load_image(folder / mask).pixels.shape == (27, 128)


def test_a_frame_range_names_every_frame_from_first_to_last(tmp_path):
    from spectfsl.core.files.loader import expand_inputs, split_frame_range

    np.save(tmp_path / "v.npy", np.zeros((10, 4, 4), np.float32))
    assert split_frame_range(f"{tmp_path / 'v.npy'}@3-5") == (tmp_path / "v.npy", [3, 4, 5])
    assert [frame for _, frame in expand_inputs([f"{tmp_path / 'v.npy'}@7-9", f"{tmp_path / 'v.npy'}@2"])] == [
        7,
        8,
        9,
        2,
    ]
    with pytest.raises(SpectfslError, match="runs backwards"):
        expand_inputs([f"{tmp_path / 'v.npy'}@5-3"])
    with pytest.raises(SpectfslError, match="names 3 frames; one image is needed"):
        load_image(f"{tmp_path / 'v.npy'}@3-5")


def test_iter_images_with_skip_bad_keeps_bad_inputs_in_their_place(tmp_path):
    from spectfsl.core.files.loader import BadInput, iter_images

    np.save(tmp_path / "a.npy", np.ones((2, 4, 4)))
    (tmp_path / "b.npy").write_bytes(b"broken")
    specs = [
        tmp_path / "a.npy",
        tmp_path / "b.npy",
        f"{tmp_path / 'b.npy'}@0-1",
        tmp_path / "c.png",
        f"{tmp_path / 'a.npy'}@1",
    ]
    got = list(iter_images(specs, skip_bad=True))
    kinds = [type(item).__name__ for item in got]
    assert kinds == ["SpectImage", "BadInput", "BadInput", "BadInput", "BadInput", "SpectImage"]
    assert [item.path for item in got if isinstance(item, BadInput)][1:3] == [
        f"{tmp_path / 'b.npy'}@0",
        f"{tmp_path / 'b.npy'}@1",
    ]
    with pytest.raises(SpectfslError, match="b.npy"):
        list(iter_images(specs))


def test_fortran_ordered_and_big_endian_npy_read_as_saved(tmp_path):
    values = np.arange(12, dtype=">i2").reshape(3, 4)
    np.save(tmp_path / "f.npy", np.asfortranarray(values))
    np.testing.assert_array_equal(load_image(tmp_path / "f.npy").pixels, values.astype(np.float32))
