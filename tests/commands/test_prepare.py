"""`spectfsl prepare`: datasets from label maps and masks, real data, and refusals."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from spectfsl.core.files.privacy import pseudonym
from tests.conftest import SHARED_DATA, requires_real_data


def _rows(folder):
    with open(folder / "manifest.csv") as handle:
        return list(csv.DictReader(handle))


def _labels_args(phantom_dir, patients):
    args = []
    for patient in patients:
        args += ["--labels", phantom_dir / patient / "labels.npy"]
    return [phantom_dir / p / "spect.dcm" for p in patients] + args


def test_prepare_phantom_with_label_maps(cli, phantom_dir, tmp_path):
    out = tmp_path / "ds"
    result = cli("prepare", *_labels_args(phantom_dir, ["P001", "P002"]), "--out", out, "--no-slices")
    assert result.exit_code == 0, result.stderr
    rows = _rows(out)
    assert {row["class"] for row in rows} == {"myocardium", "ventricles", "liver"}
    assert {row["patient"] for row in rows} == {pseudonym("P001"), pseudonym("P002")}  # never the DICOM PatientID
    for row in rows[:5]:
        crop = np.load(out / row["path"])
        assert crop.shape == (64, 64) and 0 <= crop.min() and crop.max() <= 2.0
    assert not (out / "slices").exists()


def test_prepare_pairs_named_masks_with_images_in_order(cli, phantom_dir, tmp_path):
    masks = []
    for patient in ("P001", "P002"):
        labels = np.load(phantom_dir / patient / "labels.npy")
        np.save(tmp_path / f"{patient}_wall.npy", (labels == 1).astype(np.uint8))
        masks += ["--mask", f"wall={tmp_path / f'{patient}_wall.npy'}"]
    images = [phantom_dir / p / "spect.dcm" for p in ("P001", "P002")]
    result = cli("prepare", *images, *masks, "--out", tmp_path / "ds", "--no-slices")
    assert result.exit_code == 0, result.stderr
    rows = _rows(tmp_path / "ds")
    assert {row["class"] for row in rows} == {"wall"}
    in_order = [pseudonym("P001")] * 2 + [pseudonym("P002")] * 2
    assert list(dict.fromkeys(row["patient"] for row in rows)) == list(dict.fromkeys(in_order))


def test_unlabelled_auto_crop_writes_heart_slices(cli, phantom_dir, tmp_path):
    out = tmp_path / "ds"
    result = cli("prepare", phantom_dir / "P001" / "spect.dcm", "--out", out, "--crop", "auto")
    assert result.exit_code == 0, result.stderr
    rows = _rows(out)
    assert rows and all(row["class"] == "" for row in rows)
    assert len(rows) == 20  # 128 mm of 6.4 mm slices
    assert np.load(out / rows[0]["path"]).shape == (64, 64)


def _assert_refused(result, *fragments):
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_mask_whose_shape_differs_is_refused_without_output(cli, phantom_dir, tmp_path):
    np.save(tmp_path / "small.npy", np.ones((4, 4, 4), np.uint8))
    out = tmp_path / "ds"
    result = cli(
        "prepare", phantom_dir / "P001" / "spect.dcm", "--mask", f"wall={tmp_path / 'small.npy'}", "--out", out
    )
    _assert_refused(result, "small.npy", "shape")
    assert not out.exists()
    assert not any(p.name.startswith(".ds") for p in tmp_path.iterdir())


def test_unknown_class_id_is_refused_without_output(cli, phantom_dir, tmp_path):
    out = tmp_path / "ds"
    args = _labels_args(phantom_dir, ["P001"])
    result = cli("prepare", *args, "--classes", "1=myocardium,9=spleen", "--out", out)
    _assert_refused(result, "class id 9")
    assert not out.exists()


@pytest.mark.parametrize(
    "name,content,fragment",
    [
        ("missing.dcm", None, "no such file"),
        ("empty.dcm", b"", "file is empty"),
        ("noise.dcm", np.random.default_rng(0).bytes(4096), "not a DICOM"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(cli, tmp_path, name, content, fragment):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = cli("prepare", path, "--out", tmp_path / "ds")
    _assert_refused(result, str(path.name), fragment)
    assert not (tmp_path / "ds").exists()


def test_dicom_without_pixel_data_exits_2(cli, phantom_dir, tmp_path):
    import pydicom

    dataset = pydicom.dcmread(phantom_dir / "P001" / "spect.dcm")
    del dataset.PixelData
    dataset.save_as(tmp_path / "nopixels.dcm")
    _assert_refused(cli("prepare", tmp_path / "nopixels.dcm", "--out", tmp_path / "ds"), "no pixel data")


def test_frame_out_of_range_exits_2(cli, phantom_dir, tmp_path):
    _assert_refused(
        cli("prepare", f"{phantom_dir / 'P001' / 'spect.dcm'}@64", "--out", tmp_path / "ds"), "frame 64 out of range"
    )


def test_label_count_must_match_images(cli, phantom_dir, tmp_path):
    images = [phantom_dir / p / "spect.dcm" for p in ("P001", "P002")]
    result = cli("prepare", *images, "--labels", phantom_dir / "P001" / "labels.npy", "--out", tmp_path / "ds")
    _assert_refused(result, "1 label maps for 2 images")


@requires_real_data
def test_study_png_slice_with_its_three_masks(cli, tmp_path):
    folder = SHARED_DATA / "seed-slice"
    result = cli(
        "prepare",
        folder / "Reconstructed_Static_64_Frame.png",
        "--mask",
        f"myocardium={folder / 'heart_Mask.png'}",
        "--mask",
        f"ventricles={folder / 'blood_Mask.png'}",
        "--mask",
        f"liver={folder / 'liver_Mask.png'}",
        "--out",
        tmp_path / "ds",
    )
    assert result.exit_code == 0, result.stderr
    rows = _rows(tmp_path / "ds")
    assert {row["class"] for row in rows} == {"myocardium", "ventricles", "liver", ""}
    assert all(row["row_mm"] == "" for row in rows)  # the PNG records no pixel size


@requires_real_data
def test_real_nifti_with_expert_mask_and_auto_crop(cli, tmp_path):
    folder = SHARED_DATA / "mps-physionet" / "nifti"
    result = cli(
        "prepare",
        folder / "patient001_0000.nii.gz",
        "--mask",
        f"myocardium={folder / 'patient001.nii.gz'}",
        "--crop",
        "auto",
        "--out",
        tmp_path / "ds",
    )
    assert result.exit_code == 0, result.stderr
    rows = _rows(tmp_path / "ds")
    assert sum(row["class"] == "myocardium" for row in rows) >= 8
    assert sum(row["class"] == "" for row in rows) == 32  # 128 mm of 4 mm slices


def _nifti_pair(folder, name: str, label_values=(1, 2)) -> tuple:
    """A 4 mm 16^3 NIfTI scan with a label map holding `label_values` (two blocks)."""
    import nibabel as nib

    rng = np.random.default_rng(len(name))
    scan = (10 + rng.random((16, 16, 16)) * 5).astype(np.float32)
    labels = np.zeros((16, 16, 16), np.uint8)
    for index, value in enumerate(label_values):
        labels[4:12, 3 + 5 * index : 7 + 5 * index, 4:12] = value
        scan[labels == value] += 50 * (index + 1)
    affine = np.diag([4.0, 4.0, 4.0, 1.0])
    folder.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(scan, affine), folder / f"{name}.nii.gz")
    nib.save(nib.Nifti1Image(labels, affine), folder / f"{name}_labels.nii.gz")
    return folder / f"{name}.nii.gz", folder / f"{name}_labels.nii.gz"


def test_rest_and_stress_files_are_one_patient_and_the_manifest_says_how(cli, tmp_path):
    pairs = [_nifti_pair(tmp_path / "in", name) for name in ("P7_rest", "P7_stress", "patient002_0000")]
    args = [str(scan) for scan, _ in pairs] + [a for _, labels in pairs for a in ("--labels", labels)]
    result = cli("prepare", *args, "--out", tmp_path / "ds", "--no-slices", "--min-pixels", 4)
    assert result.exit_code == 0, result.stderr
    rows = _rows(tmp_path / "ds")
    assert {row["patient"] for row in rows} == {"P7", "patient002"}
    assert {row["patient_from"] for row in rows} == {"(?P<patient>[^/\\\\]+?)(?:[_-](?:rest|stress|\\d{4}))*$"}
    by_folder = cli("prepare", *args, "--out", tmp_path / "ds2", "--no-slices", "--min-pixels", 4,
                    "--patient-from", r"/([^/]+)/[^/]+$")  # fmt: skip
    assert by_folder.exit_code == 0 and {row["patient"] for row in _rows(tmp_path / "ds2")} == {"in"}
    bad = cli("prepare", *args, "--out", tmp_path / "ds3", "--patient-from", "(")
    assert bad.exit_code == 2 and "is not a regular expression" in bad.stderr


def test_default_classes_are_the_ids_found_and_unnamed_ids_are_said_once(cli, tmp_path):
    scan, labels = _nifti_pair(tmp_path, "P1_rest", label_values=(1, 2))
    found = cli("prepare", scan, "--labels", labels, "--out", tmp_path / "a", "--no-slices", "--min-pixels", 4)
    assert found.exit_code == 0, found.stderr
    assert {row["class"] for row in _rows(tmp_path / "a")} == {"myocardium", "ventricles"}  # no liver asked for
    named = cli("prepare", scan, "--labels", labels, "--classes", "1=wall", "--out", tmp_path / "b", "--no-slices",
                "--min-pixels", 4)  # fmt: skip
    assert named.exit_code == 0 and named.stderr.count("label id 2 occurs in the label maps but not in --classes") == 1


def test_a_scan_given_as_its_own_label_map_is_refused_naming_it(cli, tmp_path):
    import nibabel as nib

    scan, _ = _nifti_pair(tmp_path, "P1_rest")
    result = cli("prepare", scan, "--labels", scan, "--out", tmp_path / "ds")
    assert result.exit_code == 2 and f"{scan}: not a label map" in result.stderr and not (tmp_path / "ds").exists()
    counts = tmp_path / "counts.nii.gz"  # integer counts: hundreds of distinct values, no fractions
    nib.save(nib.Nifti1Image(np.arange(16**3, dtype=np.int16).reshape(16, 16, 16) % 300, np.eye(4)), counts)
    many = cli("prepare", scan, "--labels", counts, "--out", tmp_path / "ds")
    assert many.exit_code == 2 and f"{counts}: not a label map (300 distinct values" in many.stderr
