"""Shared fixtures: the real data beside the checkout, a small phantom, and a CLI runner."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from spectfsl.cli import main

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SPECTFSL_SHARED_DATA", REPO.parent / "shared" / "data"))

requires_real_data = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason=f"real SPECT data not found at {SHARED_DATA} (../shared/data)"
)


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


@pytest.fixture(scope="session")
def phantom_dir(tmp_path_factory) -> Path:
    """A 4-patient phantom at the default matrix, written once per test session."""
    from spectfsl.core.phantom import make_patient, patient_id, write_case

    root = tmp_path_factory.mktemp("phantom")
    for index in range(4):
        write_case(make_patient(index, seed=0), root / patient_id(index))
    return root
