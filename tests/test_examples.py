"""Each example script runs on the phantom."""

from __future__ import annotations

import csv
import io
import json
import os
import runpy
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO

# each example runs spectfsl in fresh processes and trains: about 90 s together
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bank(phantom_dataset, tmp_path_factory):
    from spectfsl.cli import main

    path = tmp_path_factory.mktemp("examples") / "bank.safetensors"
    assert (
        main(
            [
                "-q",
                "proto",
                "fit",
                str(phantom_dataset),
                "--out",
                str(path),
                "--weights",
                "random",
                "--episodes",
                "0",
                "--support",
                "3",
            ]
        )
        == 0
    )
    return path


def _run(*args, **kwargs):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)


def test_batch_predict_classifies_every_dicom_and_skips_bad_files(bank, tmp_path):
    from spectfsl.core.data.phantom import make_patient, write_case

    folder = tmp_path / "archive"
    for index in (0, 1):  # two small scans (24 slices each): one start-up per file is the cost here
        write_case(make_patient(index, matrix=24, voxel_mm=16.0), folder / f"P{index + 1:03d}")
    (folder / "broken.dcm").write_bytes(b"not dicom")
    out = tmp_path / "all.csv"
    result = _run("bash", REPO / "examples" / "batch_predict.sh", bank, folder, out)
    assert result.returncode == 2 and "skipped" in result.stderr and "broken.dcm" in result.stderr
    assert "classified 2 files" in result.stderr and "(1 skipped)" in result.stderr
    text = out.read_text()
    assert text.count("path,") == 1  # one header for the merged files
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 48 and {r["path"].split("/")[-2] for r in rows} == {"P001", "P002"}


def test_locate_landmarks_trains_then_locates(phantom_dir, tmp_path):
    reference = f"{phantom_dir / 'P001' / 'spect.dcm'}@34"
    train = [f"{phantom_dir / p / 'spect.dcm'}@{z}" for p in ("P001", "P002") for z in (30, 34, 38)]
    env = {**os.environ, "EPOCHS": "2"}
    result = _run(
        "bash",
        REPO / "examples" / "locate_landmarks.sh",
        tmp_path / "m.safetensors",
        reference,
        "lv=37,26",
        f"{phantom_dir / 'P003' / 'spect.dcm'}@34",
        "--",
        *train,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 1 and rows[0]["name"] == "lv"


def test_notebook_api_example_runs(tmp_path, capsys, monkeypatch):
    """In this process, as a notebook would run it (the shell examples above pay the start-ups)."""
    monkeypatch.setattr(sys, "argv", ["notebook_api.py", str(tmp_path / "nb")])
    runpy.run_path(str(REPO / "examples" / "notebook_api.py"), run_name="__main__")
    printed = capsys.readouterr().out.strip().splitlines()
    correct, total = printed[0].split()[0].split("/")
    assert int(correct) > 0.6 * int(total)
    words = printed[1].split()
    assert words[:2] == ["built-in", "model:"] and int(words[2]) > 100 and int(words[5]) > 50  # a wall, a cavity
    assert printed[2].startswith("cross-validated accuracy") and float(printed[2].split()[2]) > 0.6
    located = printed[3:]
    assert len(located) == 3 and all("lv_centre at" in line for line in located)
    errors = []
    for line, patient in zip(located, ("P002", "P003", "P004")):
        found = np.array([float(v) for v in line.split(" at ")[1].split(" (")[0].split(", ")])
        truth = json.loads((tmp_path / "nb" / "phantom" / patient / "landmarks.json").read_text())
        errors.append(np.linalg.norm(found - truth["landmarks"]["lv_centre"]))
    assert max(errors) < 4 and np.mean(errors) < 2.5  # voxels of 6.4 mm: on the LV, not merely near it
