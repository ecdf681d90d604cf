"""Gated studies through the commands: `phantom --gates`, `quantify`'s LV function, `segment predict`
and `segment fit` with every gate, and the refusals."""

from __future__ import annotations

import csv
import io
import json

import nibabel as nib
import numpy as np
import pytest

from tests.conftest import SHARED_DATA, requires_real_data

pytestmark = pytest.mark.slow  # seconds each: the fast suite (-m 'not slow') leaves them to CI


@pytest.fixture(scope="module")
def gated(tmp_path_factory):
    """Two gated phantom patients of 8 gates."""
    from spectfsl.cli import main

    root = tmp_path_factory.mktemp("gated") / "ph"
    assert main(["-q", "phantom", "--out", str(root), "--patients", "2", "--gates", "8"]) == 0
    return root


def _truth(root, patient):
    return json.loads((root / patient / "landmarks.json").read_text())["gated"]


def test_phantom_gates_writes_a_gated_dicom_with_labels_of_every_gate_and_its_truth(gated):
    from spectfsl.core.files.loader import load_study

    study = load_study(gated / "P001" / "spect.dcm")
    assert study.n_gates == 8
    labels = nib.load(gated / "P001" / "lv_labels.nii.gz")
    assert labels.shape == (64, 64, 64, 8)
    truth = _truth(gated, "P001")
    cavity = (np.asanyarray(labels.dataobj) == 2).sum(axis=(0, 1, 2)) * 6.4**3 / 1000
    np.testing.assert_allclose(cavity, truth["cavity_ml"], atol=0.01)


def test_quantify_reads_the_true_ejection_fraction_from_labels_of_every_gate(cli_json, gated, tmp_path):
    rows = cli_json("quantify", gated / "P001" / "spect.dcm", "--labels", gated / "P001" / "lv_labels.nii.gz",
                    "--out", tmp_path / "q")  # fmt: skip
    row, truth = rows[0], _truth(gated, "P001")
    assert row["gates"] == 8 and len(row["cavity_ml_per_gate"]) == 8
    assert row["lvef_pct"] == pytest.approx(truth["lvef_pct"], abs=0.1)
    assert (row["ed_gate"], row["es_gate"]) == (truth["ed_gate"], truth["es_gate"])
    assert row["edv_ml"] == pytest.approx(truth["edv_ml"], abs=0.01)
    assert row["volume_curve"].endswith("spect_volume_curve.png")
    assert (tmp_path / "q" / "spect_volume_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert row["seg17"] is not None  # perfusion from the summed gates


def test_quantify_with_the_builtin_model_finds_the_cycle_in_csv_columns_per_gate(cli, gated):
    result = cli("quantify", gated / "P001" / "spect.dcm", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [f"cavity_ml_g{g}" for g in range(1, 9)] == [c for c in rows[0] if c.startswith("cavity_ml_g")]
    for row, patient in zip(rows, ("P001",)):
        truth = _truth(gated, patient)
        volumes = [float(row[f"cavity_ml_g{g}"]) for g in range(1, 9)]
        assert all(volume > 0 for volume in volumes)  # a cavity in every gate
        assert abs(int(row["es_gate"]) - truth["es_gate"]) <= 1
        assert 10 < float(row["lvef_pct"]) < truth["lvef_pct"] + 10


def test_a_gated_study_with_a_label_map_of_one_volume_is_refused(cli, gated):
    result = cli("quantify", gated / "P001" / "spect.dcm", "--labels", gated / "P001" / "lv_labels.npy")
    assert result.exit_code == 2
    assert "lv_labels.npy" in result.stderr and "must label every gate" in result.stderr


def test_segment_predict_labels_every_gate_into_one_4d_map(cli_json, gated, tmp_path):
    rows = cli_json("segment", "predict", gated / "P001" / "spect.dcm", f"{gated / 'P002' / 'spect.dcm'}@g2",
                    "--model", "builtin", "--out", tmp_path / "maps")  # fmt: skip
    whole, one_gate = rows
    assert whole["gates"] == 8 and len(whole["cavity_ml_per_gate"]) == 8
    assert nib.load(whole["output"]).shape == (64, 64, 64, 8)
    assert one_gate["gates"] is None and nib.load(one_gate["output"]).shape == (64, 64, 64)
    assert one_gate["output"].endswith("spect_g2_labels.nii.gz")
    assert whole["ood"] is False


def test_segment_fit_learns_from_one_gated_study_with_all_its_gates(cli, gated, tmp_path):
    from spectfsl.core.segment.model_file import open_segmenter

    out = tmp_path / "fit.safetensors"
    result = cli("segment", "fit", gated / "P001" / "spect.dcm", "--labels", gated / "P001" / "lv_labels.nii.gz",
                 "--classes", "1=myocardium,2=cavity", "--steps", "2", "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    info = open_segmenter(str(out)).info
    assert info.training["support"] == ["spect.dcm"] and len(info.support_sha256) >= 8


def test_segment_fit_refuses_a_gated_study_labelled_by_one_volume(cli, gated, tmp_path):
    result = cli("segment", "fit", gated / "P001" / "spect.dcm", "--labels", gated / "P001" / "lv_labels.npy",
                 "--classes", "1=myocardium,2=cavity", "--out", tmp_path / "fit.safetensors")  # fmt: skip
    assert result.exit_code == 2 and "must label every gate" in result.stderr


def test_a_gated_dicom_and_its_4d_nifti_copy_give_the_same_ejection_fraction(cli_json, gated, tmp_path):
    from spectfsl.core.files.loader import load_study
    from spectfsl.core.files.nifti_writer import write_nifti_on_grid

    study = load_study(gated / "P002" / "spect.dcm")
    copy = tmp_path / "P002.nii.gz"
    write_nifti_on_grid(copy, study, np.stack([gate.pixels for gate in study.gates]))
    labels = ("--labels", gated / "P002" / "lv_labels.nii.gz")  # written on the DICOM's geometry
    [from_dicom] = cli_json("quantify", gated / "P002" / "spect.dcm", *labels)
    [from_nifti] = cli_json("quantify", copy, *labels)
    assert from_nifti["lvef_pct"] == pytest.approx(from_dicom["lvef_pct"], abs=1.0)
    assert from_nifti["seg17"] == pytest.approx(from_dicom["seg17"], abs=0.5)


def test_commands_built_for_one_volume_read_the_sum_of_the_gates_and_say_so(cli, gated):
    result = cli("prnet", "locate", gated / "P002" / "spect.dcm", "--model", "builtin", "--ref",
                 gated / "P001" / "spect.dcm", "--point", "lv=37,27,36", "--format", "csv")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "gated study of 8 gates, read as their sum" in result.stderr


@requires_real_data
def test_quantify_gives_the_experts_ejection_fraction_from_their_contours(cli_json):
    folder = SHARED_DATA / "lvseg-mtu-gated"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    expert = json.loads((folder / "expert_volumes.json").read_text())
    study = folder / "P005421_rest_gated.nii.gz"
    row = cli_json("quantify", study, "--labels", folder / "P005421_rest_gated_labels.nii.gz", "--pixel-mm", "2.5")[0]
    truth = expert["P005421_rest_gated"]
    assert row["lvef_pct"] == pytest.approx(truth["lvef_pct"], abs=0.2)
    assert (row["ed_gate"], row["es_gate"]) == (truth["ed_gate"], truth["es_gate"])


def test_prepare_reads_a_gated_study_as_the_sum_of_its_gates(cli, gated, tmp_path):
    result = cli("prepare", gated / "P001" / "spect.dcm", "--labels", gated / "P001" / "lv_labels.npy",
                 "--classes", "1=myocardium,2=cavity", "--out", tmp_path / "crops", "--no-slices")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "read as their sum" in result.stderr
    assert any((tmp_path / "crops" / "myocardium").iterdir())
