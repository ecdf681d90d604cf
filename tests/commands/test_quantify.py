"""`spectfsl quantify` on phantoms with named defects: the row, the outputs, rest and stress, refusals."""

from __future__ import annotations

import csv
import io
import json

import nibabel as nib
import numpy as np
import pytest

WALLS = ("anterior", "septal", "inferior", "lateral")


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    """Two patients with an inferior defect (stress) and the same patients without one (rest)."""
    from spectfsl.cli import main

    root = tmp_path_factory.mktemp("quantify")
    assert main(["-q", "phantom", "--out", str(root / "stress"), "--patients", "2", "--defect", "inferior"]) == 0
    rest = ["-q", "phantom", "--out", str(root / "rest"), "--patients", "2", "--defect", "inferior"]
    assert main([*rest, "--defect-uptake", "0.99"]) == 0
    return root


def _args(root, state, patients=("P001", "P002")):
    scans = [root / state / p / "spect.dcm" for p in patients]
    return scans, [a for p in patients for a in ("--labels", root / state / p / "lv_labels.npy")]


def test_quantify_finds_the_defect_wall_and_writes_its_outputs(cli, studies, tmp_path):
    scans, labels = _args(studies, "stress")
    result = cli("quantify", *scans, *labels, "--out", tmp_path / "q", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 2 and list(rows[0])[:4] == ["path", "lv_cavity_ml", "myocardium_ml", "apex_x"]
    for row, patient in zip(rows, ("P001", "P002")):
        walls = {wall: float(row[wall]) for wall in WALLS}
        assert min(walls, key=walls.get) == "inferior" and row["septum"] == "patient right"
        truth = json.loads((studies / "stress" / patient / "landmarks.json").read_text())
        assert float(row["lv_cavity_ml"]) == pytest.approx(truth["lv_cavity_ml"], rel=0.05)
        stem = f"{patient}_spect"  # two inputs named spect.dcm: named apart by folder
        assert row["polar"] == str(tmp_path / "q" / f"{stem}_polar.png")
        assert np.load(tmp_path / "q" / f"{stem}_polar.npy").shape == (40, 72)
        short_axis = nib.load(tmp_path / "q" / f"{stem}_short_axis.nii.gz")
        assert short_axis.ndim == 3 and float(np.asarray(short_axis.dataobj).max()) > 0
    again = cli("quantify", *scans, *labels, "--out", tmp_path / "q")
    assert again.exit_code == 2 and "file exists" in again.stderr


def test_rest_and_stress_give_differences_and_normal_limits_give_z_scores(cli, studies, tmp_path):
    scans, labels = _args(studies, "stress", ("P001",))
    rest, rest_labels = _args(studies, "rest", ("P001",))
    limits = tmp_path / "normal.csv"
    limits.write_text("segment,mean,sd\n" + "".join(f"{s},80,5\n" for s in range(1, 18)))
    result = cli(
        "quantify", *scans, *labels, "--rest", *rest, "--rest-labels", rest_labels[1], "--normal-limits", limits,
        "--out", tmp_path / "q", "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    [row] = json.loads(result.stdout)
    assert row["diff_seg4"] < -10 < row["diff_seg1"]  # basal inferior lost uptake under stress, anterior did not
    assert row["diff_seg4"] == pytest.approx(row["seg4"] - row["rest_seg4"], abs=0.11)
    assert row["z_seg4"] == pytest.approx((row["seg4"] - 80) / 5, abs=0.01)
    assert (tmp_path / "q" / "spect_polar.png").stat().st_size > 20_000


def test_without_labels_the_builtin_model_segments_the_scans(cli, studies):
    scans, _ = _args(studies, "stress", ("P001",))
    result = cli("quantify", *scans, "--format", "json")
    assert result.exit_code == 0, result.stderr
    [row] = json.loads(result.stdout)
    assert 20 < row["lv_cavity_ml"] < 200 and all(row[f"seg{s}"] is not None for s in range(1, 18))


def test_refusals_name_what_to_give(cli, studies, tmp_path):
    scans, labels = _args(studies, "stress")
    assert "2 label maps for 1 scans" in cli("quantify", scans[0], *labels).stderr
    wrong = cli("quantify", scans[0], labels[0], labels[1], "--classes", "1=myocardium")
    assert wrong.exit_code == 2 and "--classes 1=myocardium,2=cavity" in wrong.stderr
    limits = tmp_path / "bad.csv"
    limits.write_text("segment,mean\n1,80\n")
    bad = cli("quantify", scans[0], labels[0], labels[1], "--normal-limits", limits)
    assert bad.exit_code == 2 and "not a normal-limits file" in bad.stderr


def test_a_volume_without_orientation_is_taken_as_transaxial_with_a_warning(cli, studies, tmp_path):
    from spectfsl.core.files.loader import load_image

    volume = load_image(studies / "stress" / "P001" / "spect.dcm")
    np.save(tmp_path / "scan.npy", volume.pixels)
    (tmp_path / "scan.json").write_text(json.dumps({"pixel_spacing_mm": [6.4, 6.4], "slice_spacing_mm": 6.4}))
    result = cli("quantify", tmp_path / "scan.npy", "--labels", studies / "stress" / "P001" / "lv_labels.npy")
    assert result.exit_code == 0, result.stderr
    assert "gives no orientation: taken as standard transaxial" in result.stderr


def test_rest_auto_pairs_stress_and_rest_files_by_name(cli, studies, tmp_path):
    for state, source in (("stress", "stress"), ("rest", "rest")):
        (tmp_path / f"P1_{state}.dcm").write_bytes((studies / source / "P001" / "spect.dcm").read_bytes())
        (tmp_path / f"P1_{state}_labels.npy").write_bytes((studies / source / "P001" / "lv_labels.npy").read_bytes())
        (tmp_path / f"P1_{state}_labels.json").write_bytes((studies / source / "P001" / "lv_labels.json").read_bytes())
    stress = [tmp_path / "P1_stress.dcm", "--labels", tmp_path / "P1_stress_labels.npy"]
    result = cli("quantify", *stress, "--rest", "auto", "--format", "json")
    assert result.exit_code == 0, result.stderr
    [row] = json.loads(result.stdout)
    assert row["rest_path"] == str(tmp_path / "P1_rest.dcm") and row["diff_seg4"] < -10
    lonely = cli("quantify", studies / "stress" / "P001" / "spect.dcm", "--rest", "auto")
    assert lonely.exit_code == 2 and "has no 'stress' in its name" in lonely.stderr


def test_the_terminal_table_fits_100_columns_and_shows_volumes_walls_and_segments(cli, studies, tmp_path):
    scans = [studies / state / p / "spect.dcm" for state in ("stress", "rest") for p in ("P001", "P002")][:3]
    result = cli("quantify", *scans, "--out", tmp_path / "q")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 100
    text = result.stdout
    for heading in ("cavity ml", "myo ml", "ant", "sept", "inf", "lat", "extent %", "basal 1-6", "apex 17"):
        assert heading in text
    assert "spect_polar.png" in text.replace("\n", "")


def test_a_map_that_ends_short_of_the_base_is_filled_in_and_marked(cli_json, studies, tmp_path):
    from spectfsl.core.files.formats import save_npy
    from spectfsl.core.files.loader import load_image

    labels = load_image(studies / "stress" / "P001" / "lv_labels.npy")
    cut = labels.pixels.copy()
    lower = cut[: int(np.percentile(np.argwhere(cut == 1)[:, 0], 40))]  # the wall's lower slices (a view)
    lower[lower == 1] = 0
    save_npy(tmp_path / "cut_labels.npy", labels.with_pixels(cut))
    row = cli_json("quantify", studies / "stress" / "P001" / "spect.dcm", "--labels", tmp_path / "cut_labels.npy",
                   "--out", tmp_path / "q")[0]  # fmt: skip
    values = np.load(tmp_path / "q" / "spect_polar.npy")
    assert np.isfinite(values).all()
    assert row["polar_filled_pct"] > 5
    assert all(row[f"seg{s}"] is not None for s in range(1, 18))
