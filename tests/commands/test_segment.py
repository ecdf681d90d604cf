"""`spectfsl segment fit | predict | evaluate` from the command line, on small synthetic shells."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from spectfsl.cli import main
from tests.conftest import SHARED_DATA, requires_real_data

FAST = ["--init", "random", "--steps", "40", "--batch-size", "2", "--crop", "16", "--channels", "8", "--device", "cpu"]


def _shell_scan(folder, name: str, seed: int, shape=(20, 20, 20)) -> tuple:
    """A bright ellipsoidal shell (label 1) around a dim cavity (label 2), with noise; R,A,S NIfTI, 4 mm."""
    rng = np.random.default_rng(seed)
    centre = np.array(shape) / 2 + rng.uniform(-1.5, 1.5, 3)
    radii = rng.uniform(5.0, 6.5, 3)
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1)
    r = np.sqrt((((grid - centre) / radii) ** 2).sum(-1))
    labels = np.where(r <= 0.6, 2, np.where(r <= 1.0, 1, 0)).astype(np.uint8)
    counts = np.where(labels == 1, 100.0, np.where(labels == 2, 25.0, 10.0)) + rng.normal(0, 8, shape)
    affine = np.diag([4.0, 4.0, 4.0, 1.0])
    scan, label_path = folder / f"{name}.nii.gz", folder / f"{name}_labels.nii.gz"
    nib.save(nib.Nifti1Image(np.clip(counts, 0, None).astype(np.float32), affine), scan)
    nib.save(nib.Nifti1Image(labels, affine), label_path)
    return scan, label_path


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("segment")
    scans = [_shell_scan(folder, f"s{i}", seed=i) for i in range(3)]
    model = folder / "model.safetensors"
    args = ["-q", "segment", "fit", str(scans[0][0]), "--labels", str(scans[0][1])]
    assert main(args + ["--classes", "1=myocardium,2=cavity", "--out", str(model), *FAST]) == 0
    return folder, scans, model


def test_fit_predict_writes_label_maps_on_the_inputs_grid(cli, fitted, tmp_path):
    folder, scans, model = fitted
    out = tmp_path / "maps"
    result = cli(
        *["segment", "predict", str(scans[1][0]), str(scans[2][0]), "--model", str(model), "--out", str(out)]
        + ["--format", "json", "--device", "cpu"]
    )
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["output"] for r in rows] == [str(out / "s1_labels.nii.gz"), str(out / "s2_labels.nii.gz")]
    assert set(rows[0]) == {"path", "output", "myocardium_voxels", "myocardium_ml", "cavity_voxels", "cavity_ml", "ood"}
    assert rows[0]["ood"] is False and "check this map" not in result.stderr  # a scan like the support's
    written = nib.load(out / "s1_labels.nii.gz")
    truth = np.asarray(nib.load(scans[1][1]).dataobj)
    labels = np.asarray(written.dataobj)
    assert labels.dtype == np.uint8 and labels.shape == truth.shape
    np.testing.assert_allclose(written.affine, nib.load(scans[1][0]).affine)
    assert set(np.unique(labels)) <= {0, 1, 2}
    assert rows[0]["myocardium_voxels"] == int((labels == 1).sum())
    assert rows[0]["myocardium_ml"] == pytest.approx((labels == 1).sum() * 64 / 1000, abs=1e-3)
    wall = labels == 1
    assert 2 * (wall & (truth == 1)).sum() / (wall.sum() + (truth == 1).sum()) > 0.6  # it learned the shell
    again = cli(*["segment", "predict", str(scans[1][0]), "--model", str(model), "--out", str(out)])
    assert again.exit_code == 2 and "exists" in again.stderr


def test_evaluate_scores_held_out_scans_and_refuses_a_support_scan(cli, fitted):
    folder, scans, model = fitted
    common = ["--model", str(model), "--classes", "1=myocardium,2=cavity", "--device", "cpu"]
    result = cli(
        *["segment", "evaluate", str(scans[1][0]), str(scans[2][0]), "--labels", str(scans[1][1])]
        + ["--labels", str(scans[2][1])]
        + common
        + ["--baselines", "--format", "json"]
    )
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    methods = {row["method"] for row in document["summary"]}
    assert methods == {"finetune", "threshold"}
    finetune = {row["class"]: row for row in document["summary"] if row["method"] == "finetune"}
    assert finetune["myocardium"]["scans"] == 2 and finetune["myocardium"]["dice"] > 0.6
    assert finetune["myocardium"]["hd95_mm"] >= 0
    refused = cli(*["segment", "evaluate", str(scans[0][0]), "--labels", str(scans[0][1])] + common)
    assert refused.exit_code == 2 and "support" in refused.stderr
    plain = cli("segment", "evaluate", scans[1][0], "--labels", scans[1][1], "--model", model, "--format", "json")
    assert plain.exit_code == 0, plain.stderr  # the model's classes: no need to repeat --classes
    assert {row["class"] for row in json.loads(plain.stdout)["summary"]} == {"myocardium", "cavity"}
    table = cli(
        *["segment", "evaluate", str(scans[1][0]), "--labels", str(scans[1][1])] + common + ["--format", "table"]
    )
    assert table.exit_code == 0 and "Dice" in table.stdout


def test_skip_bad_keeps_a_row_for_an_unreadable_scan(cli, fitted, tmp_path):
    folder, scans, model = fitted
    broken = tmp_path / "broken.nii.gz"
    broken.write_bytes(b"not a nifti")
    result = cli(
        *["segment", "predict", str(broken), str(scans[1][0]), "--model", str(model), "--out", str(tmp_path / "o")]
        + ["--skip-bad", "--format", "csv", "--device", "cpu"]
    )
    assert result.exit_code == 2
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3 and lines[0].endswith(",error")
    assert "broken.nii.gz" in lines[1] and "s1_labels.nii.gz" in lines[2]
    plain = cli(*["segment", "predict", str(broken), "--model", str(model), "--out", str(tmp_path / "p")])
    assert plain.exit_code == 2 and plain.stdout == ""


def test_bad_options_are_refused_with_a_reason(cli, fitted, tmp_path):
    folder, scans, model = fitted
    no_labels = cli(*["segment", "fit", str(scans[0][0]), "--out", str(tmp_path / "m.safetensors")])
    assert no_labels.exit_code == 2 and "--labels" in no_labels.stderr
    bad_method = cli(
        *["segment", "fit", str(scans[0][0]), "--labels", str(scans[0][1]), "--method", "magic"]
        + ["--out", str(tmp_path / "m.safetensors")]
    )
    assert bad_method.exit_code == 2 and "--method" in bad_method.stderr
    two_d = cli(*["segment", "predict", f"{scans[1][0]}@3", "--model", str(model), "--out", str(tmp_path / "o")])
    assert two_d.exit_code == 2 and "whole scans" in two_d.stderr


def test_predict_dicom_seg_for_a_dicom_input_and_a_clear_refusal_for_nifti(cli, fitted, tmp_path):
    highdicom = pytest.importorskip("highdicom")
    from spectfsl.core.files.dicom_writer import write_nm_volume

    folder, scans, model = fitted
    counts = np.asarray(nib.load(scans[1][0]).dataobj).T  # (k, j, i) as (frames, rows, columns)
    dicom = tmp_path / "scan.dcm"
    write_nm_volume(dicom, np.clip(counts, 0, None).astype(np.uint16), voxel_mm=4.0, patient_id="P9")
    out = tmp_path / "maps"
    result = cli("segment", "predict", dicom, "--model", model, "--out", out, "--dicom-seg", "--format", "json")
    assert result.exit_code == 0, result.stderr
    [row] = json.loads(result.stdout)
    assert row["dicom_seg"] == str(out / "scan_seg.dcm") and row["output"] == str(out / "scan_labels.nii.gz")
    seg = highdicom.seg.segread(out / "scan_seg.dcm")
    assert {d.SegmentLabel for d in seg.SegmentSequence} <= {"myocardium", "cavity"}
    assert seg.PatientID == "P9" and "warning" not in result.stderr  # DICOM: the source's patient module
    refused = cli("segment", "predict", scans[1][0], "--model", model, "--out", tmp_path / "n", "--dicom-seg")
    assert refused.exit_code == 2 and "--dicom-seg takes a multi-frame DICOM file" in refused.stderr


def test_dicom_seg_anonymous_names_the_patient_by_pseudonym_only(cli, fitted, tmp_path):
    highdicom = pytest.importorskip("highdicom")
    from spectfsl.core.files.dicom_writer import write_nm_volume
    from spectfsl.core.files.privacy import pseudonym

    _, scans, model = fitted
    counts = np.asarray(nib.load(scans[1][0]).dataobj).T
    dicom = tmp_path / "scan.dcm"
    write_nm_volume(dicom, np.clip(counts, 0, None).astype(np.uint16), voxel_mm=4.0, patient_id="P9")
    out = tmp_path / "maps"
    result = cli("segment", "predict", dicom, "--model", model, "--out", out, "--dicom-seg-anonymous")
    assert result.exit_code == 0, result.stderr
    seg = highdicom.seg.segread(out / "scan_seg.dcm")
    assert seg.PatientID == str(seg.PatientName) == pseudonym("P9") and not seg.get("PatientBirthDate")
    assert b"P9\x00" not in (out / "scan_seg.dcm").read_bytes().replace(pseudonym("P9").encode(), b"")


def test_prototype_method_fits_and_compares_on_the_same_scans(cli, fitted, tmp_path):
    folder, scans, model = fitted
    proto = tmp_path / "proto.safetensors"
    fit = cli(
        "-q", "segment", "fit", scans[0][0], "--labels", scans[0][1], "--method", "prototype", "--out", proto, *FAST
    )
    assert fit.exit_code == 0, fit.stderr
    from spectfsl.core.segment.model_file import load_segmenter

    loaded = load_segmenter(proto)
    assert loaded.info.method == "prototype" and tuple(loaded.prototypes.shape) == (3, loaded.info.embedding)
    assert loaded.info.class_names == ["background", "myocardium", "ventricles"]  # default names of ids 1, 2
    result = cli(
        "segment", "evaluate", scans[1][0], "--labels", scans[1][1], "--model", proto, "--compare", model,
        "--format", "json", "--device", "cpu",
    )  # fmt: skip
    assert result.exit_code == 2 and "use --classes to match" in result.stderr  # the two models name id 2 apart
    renamed = cli(
        "segment", "evaluate", scans[1][0], "--labels", scans[1][1], "--model", proto, "--format", "json",
    )  # fmt: skip
    assert renamed.exit_code == 0, renamed.stderr
    assert {row["method"] for row in json.loads(renamed.stdout)["summary"]} == {"prototype"}


def test_drop_stray_removes_a_bright_spot_far_from_the_heart_and_the_default_keeps_it(cli, fitted, tmp_path):
    folder, scans, model = fitted
    image = nib.load(scans[1][0])
    counts = np.asarray(image.dataobj).copy()
    counts[0:3, 0:3, 0:3] = 100.0  # the wall's brightness, in a corner
    spotted = tmp_path / "spotted.nii.gz"
    nib.save(nib.Nifti1Image(counts, image.affine), spotted)
    maps = {}
    for name, extra in (("default", []), ("dropped", ["--drop-stray"])):
        result = cli(
            *["segment", "predict", str(spotted), "--model", str(model), "--out", str(tmp_path / name)]
            + ["--device", "cpu", *extra]
        )
        assert result.exit_code == 0, result.stderr
        maps[name] = np.asarray(nib.load(tmp_path / name / "spotted_labels.nii.gz").dataobj)
    assert (maps["default"][0:3, 0:3, 0:3] == 1).any(), "the network calls the spot wall"
    assert not (maps["dropped"][0:4, 0:4, 0:4] == 1).any(), "one wall piece in the support: the spot goes"
    from scipy import ndimage

    assert ndimage.label(maps["dropped"] == 1)[1] == 1
    kept = maps["dropped"] != 0
    np.testing.assert_array_equal(maps["dropped"][kept], maps["default"][kept])


def test_drop_stray_on_a_model_without_recorded_pieces_says_it_does_nothing(cli, fitted, tmp_path):
    import dataclasses

    from spectfsl.core.segment.model_file import load_segmenter, save_segmenter

    folder, scans, model = fitted
    segmenter = load_segmenter(model)
    old = tmp_path / "old.safetensors"
    save_segmenter(old, dataclasses.replace(segmenter, info=dataclasses.replace(segmenter.info, class_pieces=None)))
    result = cli(
        *["segment", "predict", str(scans[1][0]), "--model", str(old), "--out", str(tmp_path / "o")]
        + ["--drop-stray", "--device", "cpu"]
    )
    assert result.exit_code == 0, result.stderr
    assert "does nothing" in result.stderr


def test_builtin_model_labels_a_phantom_volume_with_no_labelled_scan(cli, phantom_dir, tmp_path):
    scan = phantom_dir / "P002" / "spect.dcm"
    result = cli("segment", "predict", scan, "--model", "builtin", "--out", tmp_path, "--format", "json")
    assert result.exit_code == 0, result.stderr
    (row,) = json.loads(result.stdout)
    labels = np.asarray(nib.load(row["output"]).dataobj)
    truth = np.load(phantom_dir / "P002" / "labels.npy").transpose(2, 1, 0)  # NIfTI i, j, k = col, row, slice
    wall, true_wall = labels == 1, truth == 1
    assert 2 * (wall & true_wall).sum() / (wall.sum() + true_wall.sum()) > 0.6
    assert set(row) >= {"myocardium_ml", "cavity_ml"} and row["cavity_ml"] > 0


def test_builtin_model_warns_on_a_voxel_size_it_was_not_made_for(cli, fitted, tmp_path):
    folder, scans, _ = fitted
    image = nib.load(scans[1][0])
    small = folder / "one_mm.nii.gz"
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj), np.diag([1.0, 1.0, 1.0, 1.0])), small)
    result = cli("segment", "predict", small, "--model", "builtin", "--out", tmp_path)
    assert result.exit_code == 0, result.stderr
    assert "outside the 2-8 mm this model was made for" in result.stderr


def test_fit_starts_from_the_builtin_model_by_default_and_records_it(cli, fitted, tmp_path):
    from spectfsl.core.files.catalogue import card, named
    from spectfsl.core.segment.model_file import load_segmenter

    folder, scans, _ = fitted
    base = ["-q", "segment", "fit", scans[0][0], "--labels", scans[0][1], "--classes", "1=myocardium,2=cavity"]
    fast = ["--steps", 3, "--device", "cpu"]
    assert cli(*base, "--out", tmp_path / "b.safetensors", *fast).exit_code == 0
    info = load_segmenter(tmp_path / "b.safetensors").info
    assert info.parent == {"name": "builtin:segment-3d", "sha256": card(named("segment-3d"))["sha256"]}
    assert info.channels == 16 and info.training["lr"] == 1e-3 and info.training["crop"] == 32
    assert cli(*base, "--out", tmp_path / "r.safetensors", "--init", "random", *fast).exit_code == 0
    assert load_segmenter(tmp_path / "r.safetensors").info.parent is None
    child = cli(*base, "--out", tmp_path / "c.safetensors", "--init", tmp_path / "b.safetensors", *fast)
    assert child.exit_code == 0, child.stderr
    assert load_segmenter(tmp_path / "c.safetensors").info.parent["name"] == "b.safetensors"


def test_fit_from_a_model_refuses_what_cannot_start_it(cli, fitted, tmp_path):
    folder, scans, model = fitted
    base = ["segment", "fit", scans[0][0], "--labels", scans[0][1], "--steps", 2, "--device", "cpu"]
    missing = cli(*base, "--out", tmp_path / "m.safetensors", "--init", tmp_path / "none.safetensors")
    assert missing.exit_code == 2 and "none.safetensors: no such file" in missing.stderr
    channels = cli(*base, "--out", tmp_path / "m.safetensors", "--channels", 8)
    assert channels.exit_code == 2 and "starting model has 16 channels" in channels.stderr
    plane = folder / "plane.npy"
    np.save(plane, np.asarray(nib.load(scans[0][0]).dataobj)[:, :, 10])
    np.save(folder / "plane_labels.npy", np.asarray(nib.load(scans[0][1]).dataobj)[:, :, 10])
    flat = ["segment", "fit", plane, "--labels", folder / "plane_labels.npy", "--steps", 2, "--device", "cpu"]
    builtin_2d = cli(*flat, "--out", tmp_path / "p.safetensors", "--init", "builtin")
    assert builtin_2d.exit_code == 2 and "no built-in segment model for 2D inputs" in builtin_2d.stderr
    assert cli(*flat, "--out", tmp_path / "p.safetensors", "--crop", 16).exit_code == 0  # 2D: random by default
    assert not (tmp_path / "m.safetensors").exists()


@requires_real_data
def test_evaluate_refuses_the_scans_a_builtin_model_or_its_child_learned_from(cli, tmp_path):
    nifti = SHARED_DATA / "mps-physionet" / "nifti"
    scan, wall = nifti / "patient002_0000.nii.gz", nifti / "patient002.nii.gz"
    image = nib.load(wall)
    label_map = tmp_path / "patient002_labels.nii.gz"  # the wall as 1, anything as 2: only the scan matters here
    labels = np.asarray(image.dataobj).astype(np.uint8)
    labels[0, 0, 0] = 2
    nib.save(nib.Nifti1Image(labels, image.affine), label_map)
    given = ["--labels", label_map, "--classes", "1=myocardium,2=cavity"]
    builtin = cli("segment", "evaluate", scan, *given, "--model", "builtin")
    assert builtin.exit_code == 2 and "support scans" in builtin.stderr
    lvseg = SHARED_DATA / "lvseg-mtu"
    child = tmp_path / "child.safetensors"
    fit = ["-q", "segment", "fit", lvseg / "P005024_rest.nii.gz", "--labels", lvseg / "P005024_rest_labels.nii.gz"]
    assert cli(*fit, "--classes", "1=myocardium,2=cavity", "--out", child, "--steps", 2).exit_code == 0
    inherited = cli("segment", "evaluate", scan, *given, "--model", child)
    assert inherited.exit_code == 2 and "support scans" in inherited.stderr


def test_evaluate_scores_single_atlas_registration_and_refuses_the_atlas(cli, fitted):
    pytest.importorskip("SimpleITK")
    folder, scans, model = fitted
    common = ["--model", str(model), "--classes", "1=myocardium,2=cavity", "--device", "cpu", "--format", "json"]
    atlas = ["--atlas", str(scans[0][0]), "--atlas-labels", str(scans[0][1])]
    result = cli(*["segment", "evaluate", str(scans[1][0]), "--labels", str(scans[1][1])] + common + atlas)
    assert result.exit_code == 0, result.stderr
    summary = {(r["method"], r["class"]): r for r in json.loads(result.stdout)["summary"]}
    assert summary["registration (atlas)", "myocardium"]["dice"] > 0.6  # the shells are alike: it carries them
    other_atlas = ["--atlas", str(scans[2][0]), "--atlas-labels", str(scans[2][1])]
    itself = cli(*["segment", "evaluate", str(scans[2][0]), "--labels", str(scans[2][1])] + common + other_atlas)
    assert itself.exit_code == 2 and "is the registration atlas" in itself.stderr
    half = cli(*["segment", "evaluate", str(scans[1][0]), "--labels", str(scans[1][1])] + common + atlas[:2])
    assert half.exit_code == 2 and "--atlas SCAN and --atlas-labels LABELMAP together" in half.stderr
    hint = cli(*["segment", "evaluate", str(scans[1][0]), "--labels", str(scans[1][1])] + common + ["--baselines"])
    assert hint.exit_code == 0 and "give --atlas SCAN" in hint.stderr


def test_predict_flags_a_scan_unlike_the_support_and_draws_qc_figures(cli, fitted, tmp_path):
    folder, scans, model = fitted
    rng = np.random.default_rng(5)  # a whole "torso": 3.2x the support's field of view, mostly bright tissue
    torso = 60.0 + rng.normal(0, 8, (64, 64, 64))
    torso[20:40, 20:40, 20:40] += 60.0
    chest = tmp_path / "chest.nii.gz"
    nib.save(nib.Nifti1Image(np.clip(torso, 0, None).astype(np.float32), np.diag([4.0, 4.0, 4.0, 1.0])), chest)
    qc = tmp_path / "qc"
    args = ["segment", "predict", str(scans[1][0]), str(chest), "--model", str(model), "--out", str(tmp_path / "o")]
    result = cli(*args, "--qc", str(qc), "--format", "json", "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    rows = {Path(r["path"]).name: r for r in json.loads(result.stdout)}
    assert rows["s1.nii.gz"]["ood"] is False and rows["chest.nii.gz"]["ood"] is True
    assert "chest.nii.gz: check this map: " in result.stderr and "field of view 256x256x256 mm" in result.stderr
    assert "s1.nii.gz: check" not in result.stderr
    for name in ("s1", "chest"):
        figure = qc / f"{name}_qc.png"
        assert rows[f"{name}.nii.gz"]["qc"] == str(figure) and figure.read_bytes()[:4] == b"\x89PNG"
    again = cli(*args, "--qc", str(qc), "--overwrite", "--format", "json")
    assert again.exit_code == 0
    refused = cli(*args[:-2], "--out", str(tmp_path / "p"), "--qc", str(qc))
    assert refused.exit_code == 2 and "_qc.png: file exists" in refused.stderr


def test_predict_names_a_placeholder_spacing_and_a_volume_no_heart_has(cli, fitted, tmp_path):
    folder, scans, model = fitted
    pixels = np.asarray(nib.load(scans[1][0]).dataobj)
    crop = tmp_path / "crop.nii.gz"  # the same scan with lvseg-mtu's 1 mm placeholder voxels
    nib.save(nib.Nifti1Image(pixels, np.eye(4)), crop)
    result = cli("segment", "predict", crop, "--model", model, "--out", tmp_path / "o", "--format", "json")
    assert result.exit_code == 0 and json.loads(result.stdout)[0]["ood"] is True
    assert "1 mm voxels on a 20x20x20 scan look like a placeholder spacing" in result.stderr
    assert "give --pixel-mm with the true voxel size" in result.stderr
    told = cli("segment", "predict", crop, "--model", model, "--out", tmp_path / "t", "--format", "json",
               "--pixel-mm", 4)  # fmt: skip
    assert told.exit_code == 0 and json.loads(told.stdout)[0]["ood"] is False and "placeholder" not in told.stderr
    assert (
        json.loads(told.stdout)[0]["myocardium_ml"]
        == json.loads(
            cli("segment", "predict", scans[1][0], "--model", model, "--out", tmp_path / "r", "--format", "json").stdout
        )[0]["myocardium_ml"]
    )  # the true 4 mm voxels: the same map and volumes as the scan with its real header
    big = tmp_path / "big.nii.gz"  # the same voxels at 16 mm: a myocardium of litres
    nib.save(nib.Nifti1Image(pixels, np.diag([16.0, 16.0, 16.0, 1.0])), big)
    result = cli("segment", "predict", big, "--model", model, "--out", tmp_path / "b", "--format", "json")
    assert result.exit_code == 0 and json.loads(result.stdout)[0]["ood"] is True
    assert "ml, outside the 30-450 ml of a heart" in result.stderr


def test_fit_and_prepare_name_a_placeholder_spacing_once_per_file(cli, fitted, tmp_path):
    _, scans, _ = fitted
    crop, labels = tmp_path / "crop.nii.gz", tmp_path / "crop_labels.nii.gz"
    nib.save(nib.Nifti1Image(np.asarray(nib.load(scans[0][0]).dataobj), np.eye(4)), crop)
    nib.save(nib.Nifti1Image(np.asarray(nib.load(scans[0][1]).dataobj), np.eye(4)), labels)
    fit = cli("segment", "fit", crop, "--labels", labels, "--out", tmp_path / "m.safetensors", *FAST[:2], "--steps", 2)
    assert fit.exit_code == 0 and fit.stderr.count(f"{crop}: 1 mm voxels on a 20 x 20 x 20 scan") == 1
    assert "give --pixel-mm" in fit.stderr
    told = cli("segment", "fit", crop, "--labels", labels, "--out", tmp_path / "n.safetensors", *FAST[:2],
               "--steps", 2, "--pixel-mm", 4)  # fmt: skip
    assert told.exit_code == 0 and "placeholder" not in told.stderr
    prepared = cli("prepare", crop, "--labels", labels, "--out", tmp_path / "ds", "--no-slices")
    assert prepared.exit_code == 0 and "look like a placeholder spacing" in prepared.stderr


def test_predict_names_apart_inputs_of_one_stem_by_their_folder(cli, fitted, tmp_path):
    _, scans, model = fitted
    for patient in ("P1", "P2"):
        (tmp_path / patient).mkdir()
        (tmp_path / patient / "rest.nii.gz").write_bytes(scans[1][0].read_bytes())
    inputs = [tmp_path / "P1" / "rest.nii.gz", tmp_path / "P2" / "rest.nii.gz"]
    result = cli("segment", "predict", *inputs, "--model", model, "--out", tmp_path / "maps", "--format", "json")
    assert result.exit_code == 0, result.stderr
    outputs = [row["output"] for row in json.loads(result.stdout)]
    assert outputs == [str(tmp_path / "maps" / f"{p}_rest_labels.nii.gz") for p in ("P1", "P2")]


def test_output_stems_keep_unique_stems_and_name_clashes_by_folder():
    from spectfsl.core.files.paths import output_stems

    stems = output_stems(["a/P1/rest.nii.gz", "b/P1/rest.nii.gz", "P2/stress.dcm", "x/scan.nii@12", "a/P1/rest.nii.gz"])
    assert stems == {
        "a/P1/rest.nii.gz": "a_P1_rest",
        "b/P1/rest.nii.gz": "b_P1_rest",
        "P2/stress.dcm": "stress",
        "x/scan.nii@12": "scan_12",
    }
    assert len(set(output_stems(["d/rest.nii", "d/rest.nii.gz"]).values())) == 2  # no folder tells them apart
