"""Shared fixtures: the real data beside the checkout, a small phantom, and a CLI runner."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from spectfsl.cli import main
from spectfsl.core.data.shared import data_candidates, find_data

REPO = Path(__file__).resolve().parents[1]
#: The real data: $SPECTFSL_DATA, else ../shared/data beside the checkout (as in CI).
SHARED_DATA = find_data(REPO) or data_candidates(REPO)[-1]

requires_real_data = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason=f"real SPECT data not found ($SPECTFSL_DATA, or {SHARED_DATA})"
)


def dciodvfy_errors(path: Path) -> list[str]:
    """The `Error` lines dicom3tools' dciodvfy reports for a DICOM file (callers skip without it)."""
    import subprocess

    report = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
    return [line for line in (report.stdout + report.stderr).splitlines() if line.startswith("Error")]


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capsys):
    """Run `spectfsl ARGS...` in-process; returns exit code, stdout and stderr."""

    def run(*args: object) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def cli_json(cli):
    """Run `spectfsl ARGS... --format json`, check that it succeeded, and return the parsed output."""

    def run(*args: object):
        import json

        result = cli(*args, "--format", "json")
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    return run


@pytest.fixture(scope="session")
def phantom_dir(tmp_path_factory) -> Path:
    """A 4-patient phantom at the default matrix (as `spectfsl phantom` writes it), once per session."""
    root = tmp_path_factory.mktemp("phantom") / "ph"
    assert main(["-q", "phantom", "--out", str(root), "--patients", "4"]) == 0
    return root


@pytest.fixture(scope="session")
def phantom_dataset(phantom_dir, tmp_path_factory) -> Path:
    """The 4-patient phantom prepared with its label maps (crops only)."""
    import spectfsl

    out = tmp_path_factory.mktemp("dataset")
    patients = sorted(p.name for p in phantom_dir.iterdir() if p.is_dir())
    labels = [phantom_dir / p / "labels.npy" for p in patients]
    spectfsl.prepare(
        [phantom_dir / p / "spect.dcm" for p in patients],
        out,
        labels=labels,
        settings=spectfsl.PrepareSettings(slices=False),
    )
    return out
