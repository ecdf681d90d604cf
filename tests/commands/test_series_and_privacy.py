"""A scanner's series folder through the commands, and no patient identity in anything they write."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest

from spectfsl.core.data.phantom import make_patient
from tests.dicom_series import FAKE_IDENTITY, write_series


@pytest.fixture(scope="module")
def series(tmp_path_factory) -> Path:
    """The phantom's first patient exported as 64 single-frame DICOM files in shuffled name order."""
    case = make_patient(0)
    volume = np.clip(case.counts, 0, 65535).astype(np.uint16)
    order = list(np.random.default_rng(0).permutation(len(volume)))
    folder = tmp_path_factory.mktemp("export") / "series"
    write_series(folder, volume, pixel_mm=case.voxel_mm, slice_mm=case.voxel_mm, order=order)
    return folder


def _everything_written(root: Path) -> str:
    """Every file name and every text file's content below `root`, as one string."""
    parts = []
    for path in sorted(root.rglob("*")):
        parts.append(str(path.relative_to(root)))
        if path.suffix in (".csv", ".json", ".md", ".html", ".txt"):
            parts.append(path.read_text(errors="replace"))
    return "\n".join(parts)


def _assert_no_identity(text: str) -> None:
    for value in (*FAKE_IDENTITY.values(), "Doe", "Jane"):
        assert value not in text


def test_prepare_crops_the_heart_of_a_series_folder_and_names_no_patient(cli, series, tmp_path):
    result = cli("-q", "prepare", series, "--out", tmp_path / "ds", "--crop", "auto")
    assert result.exit_code == 0, result.stderr
    manifest = list(csv.DictReader(open(tmp_path / "ds" / "manifest.csv")))
    assert len(manifest) > 5 and {row["source"] for row in manifest} == {str(series)}
    assert len({row["patient"] for row in manifest}) == 1 and manifest[0]["patient"].startswith("P")
    _assert_no_identity(_everything_written(tmp_path / "ds") + result.stdout + result.stderr)


def test_predict_gives_one_row_per_slice_of_the_series_volume(cli, series, phantom_dataset, tmp_path):
    assert (
        cli(
            "-q",
            "proto",
            "fit",
            phantom_dataset,
            "--out",
            tmp_path / "b.safetensors",
            "--weights",
            "random",
            "--episodes",
            0,
        ).exit_code
        == 0
    )
    result = cli("proto", "predict", series, "--bank", tmp_path / "b.safetensors", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [int(row["frame"]) for row in rows] == list(range(64))
    assert {row["path"] for row in rows} == {str(series)}
    _assert_no_identity(result.stdout)


def test_the_patient_map_is_written_only_when_asked(cli, series, tmp_path):
    result = cli(
        "-q",
        "prepare",
        series,
        "--out",
        tmp_path / "ds",
        "--no-slices",
        "--crop",
        "auto",
        "--patient-map",
        tmp_path / "map.csv",
    )
    assert result.exit_code == 0, result.stderr
    [row] = list(csv.DictReader(open(tmp_path / "map.csv")))
    assert row["patient_id"] == FAKE_IDENTITY["PatientID"] and row["pseudonym"].startswith("P")
    _assert_no_identity(_everything_written(tmp_path / "ds"))
