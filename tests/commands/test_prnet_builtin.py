"""`prnet locate | evaluate --model builtin` (no training) and `prnet train --init` on the phantom."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def _landmark(phantom_dir, patient: str, name: str = "lv_centre") -> list[float]:
    return json.loads((phantom_dir / patient / "landmarks.json").read_text())["landmarks"][name]


def test_builtin_3d_model_locates_the_lv_centre_in_phantom_volumes_with_no_training(cli_json, phantom_dir):
    reference = phantom_dir / "P001" / "spect.dcm"
    point = ",".join(f"{v:g}" for v in _landmark(phantom_dir, "P001"))
    targets = [phantom_dir / p / "spect.dcm" for p in ("P002", "P003", "P004")]
    rows = cli_json("prnet", "locate", *targets, "--model", "builtin", "--ref", reference, "--point", f"lv={point}")
    errors_mm = [
        6.4 * np.linalg.norm(np.array([row["x"], row["y"], row["z"]]) - _landmark(phantom_dir, f"P00{i + 2}"))
        for i, row in enumerate(rows)
    ]
    naive_mm = [
        6.4 * np.linalg.norm(np.array(_landmark(phantom_dir, "P001")) - _landmark(phantom_dir, f"P00{i + 2}"))
        for i in range(3)
    ]
    assert np.mean(errors_mm) < 0.6 * np.mean(naive_mm)  # the model moves the point onto the anatomy


def test_builtin_2d_model_locates_on_slices_with_no_training(cli_json, phantom_dir):
    x, y, z = _landmark(phantom_dir, "P001")
    reference = f"{phantom_dir / 'P001' / 'spect.dcm'}@{round(z)}"
    [row] = cli_json(
        "prnet", "locate", f"{phantom_dir / 'P002' / 'spect.dcm'}@34", "--model", "builtin", "--ref", reference,
        "--point", f"lv={x:g},{y:g}",
    )  # fmt: skip
    assert "z" not in row and 0 <= row["x"] < 64 and 0 <= row["y"] < 64


def test_train_starts_from_the_builtin_model_records_it_and_refuses_another_grid(cli, phantom_dir, tmp_path):
    from spectfsl.core.files.catalogue import card, named
    from spectfsl.core.prnet.model_file import load_prnet

    volumes = [phantom_dir / p / "spect.dcm" for p in ("P001", "P002")]
    common = ["--dims", 3, "--epochs", 1, "--iters", 2]
    assert cli("-q", "prnet", "train", *volumes, *common, "--out", tmp_path / "b.safetensors").exit_code == 0
    _, info = load_prnet(tmp_path / "b.safetensors")
    assert info.parent == {"name": "builtin:prnet-3d", "sha256": card(named("prnet-3d"))["sha256"]}
    random = cli("-q", "prnet", "train", *volumes, *common, "--init", "random", "--out", tmp_path / "r.safetensors")
    assert random.exit_code == 0
    assert load_prnet(tmp_path / "r.safetensors")[1].parent is None
    other = cli("prnet", "train", *volumes, *common, "--pixel-mm", 4, "--out", tmp_path / "o.safetensors")
    assert other.exit_code == 2 and "pixel_mm 8.0 (asked: 4.0)" in other.stderr
    assert not (tmp_path / "o.safetensors").exists()


def _phantom_points(phantom_dir, tmp_path, patients, name="points3d.csv"):
    points = tmp_path / "points.csv"  # the phantom's points (3D by default), read relative to it with --data-dir
    lines = (phantom_dir / name).read_text().splitlines()
    points.write_text("\n".join([lines[0]] + [line for line in lines[1:] if line.startswith(patients)]))
    return points


def test_evaluate_baselines_add_registration_beside_naive(cli_json, phantom_dir, tmp_path):
    pytest.importorskip("SimpleITK")
    points = _phantom_points(phantom_dir, tmp_path, ("P001", "P003"), "points.csv")  # slices: seconds, not tens
    args = ["prnet", "evaluate", "--model", "builtin", "--points", points, "--data-dir", phantom_dir, "--baselines"]
    report = cli_json(*args)
    centre = {row["method"]: row for row in report["landmarks"]["lv_centre"]}
    assert list(centre)[-2:] == ["registration", "registration (demons)"]  # B-spline and demons, both reported
    for name in ("registration", "registration (demons)"):
        assert centre[name]["pairs"] == 2  # two orders of one pair: one registration serves both
        assert centre[name]["mre_mm"] < centre["naive"]["mre_mm"]  # registration moves onto the anatomy


def test_evaluate_baselines_without_simpleitk_say_so_and_report_the_rest(cli, phantom_dir, tmp_path, monkeypatch):
    from spectfsl.core.processing import registration

    monkeypatch.setattr(registration, "available", lambda: False)
    points = _phantom_points(phantom_dir, tmp_path, ("P001", "P002"))
    args = ["prnet", "evaluate", "--model", "builtin", "--points", points, "--data-dir", phantom_dir, "--baselines"]
    result = cli(*args, "--format", "json")
    assert result.exit_code == 0 and registration.MISSING in result.stderr
    methods = [row["method"] for row in json.loads(result.stdout)["landmarks"]["lv_centre"]]
    assert not any(m.startswith("registration") for m in methods) and "naive" in methods


def test_locate_warns_of_a_background_point_and_refuses_a_volume_for_a_2d_model(cli, phantom_dir):
    volume = phantom_dir / "P002" / "spect.dcm"
    reference = phantom_dir / "P001" / "spect.dcm"
    background = cli("prnet", "locate", volume, "--model", "builtin", "--ref", reference, "--point", "1,1,1")
    assert background.exit_code == 0 and "point point1 (1,1,1) lies in background" in background.stderr
    x, y, z = _landmark(phantom_dir, "P001")
    inside = cli("prnet", "locate", volume, "--model", "builtin", "--ref", reference, "--point", f"{x},{y},{z}")
    assert inside.exit_code == 0 and "background" not in inside.stderr
    flat_reference = f"{reference}@{round(z)}"
    whole = cli("prnet", "locate", volume, "--model", "builtin", "--ref", flat_reference, "--point", f"{x},{y}")
    assert whole.exit_code == 2 and "is a volume: a 2D model locates in one slice (PATH@N)" in whole.stderr


def test_locate_scores_each_point_and_draws_a_qc_figure_per_target(cli, phantom_dir, tmp_path):
    reference = phantom_dir / "P001" / "spect.dcm"
    point = ",".join(f"{v:g}" for v in _landmark(phantom_dir, "P001"))
    targets = [phantom_dir / p / "spect.dcm" for p in ("P002", "P003")]
    result = cli(
        "prnet", "locate", *targets, "--model", "builtin", "--ref", reference, "--point", f"lv={point}",
        "--point", "bg=1,1,1", "--qc", tmp_path / "qc", "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rows = {(row["path"], row["name"]): row for row in json.loads(result.stdout)}
    for target in targets:
        lv, bg = rows[(str(target), "lv")], rows[(str(target), "bg")]
        assert lv["converged"] is True and lv["score"] > 0.5 > bg["score"]
        assert lv["qc"] == bg["qc"] == str(tmp_path / "qc" / f"{target.parent.name}_spect_qc.png")  # named apart
        assert (tmp_path / "qc" / f"{target.parent.name}_spect_qc.png").stat().st_size > 10_000
        assert f"{target}: check point bg: score" in result.stderr
    assert "check point lv" not in result.stderr
    qc = ["--qc", tmp_path / "qc"]
    again = cli("prnet", "locate", *targets, "--model", "builtin", "--ref", reference, "--point", point, *qc)
    assert again.exit_code == 2 and "file exists" in again.stderr
