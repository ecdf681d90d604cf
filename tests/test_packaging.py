"""An installed (not editable) spectfsl finds its built-in models inside the package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_a_wheel_installed_elsewhere_finds_and_verifies_its_built_in_models(tmp_path):
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", wheels, REPO]
    subprocess.run([str(a) for a in build], check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = wheels.glob("spectfsl-*.whl")
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", target, wheel]
    subprocess.run([str(a) for a in install], check=True, capture_output=True, cwd=tmp_path)
    environment = {**os.environ, "PYTHONPATH": str(target)}
    script = (
        "import json, spectfsl; from spectfsl.core.files import catalogue as c; "
        "print(json.dumps([spectfsl.__file__, [str(c.verified_path(m)) for m in c.CATALOGUE]]))"
    )
    found = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=environment, cwd=tmp_path, check=True
    )
    package, models = json.loads(found.stdout)
    assert Path(package).is_relative_to(target)
    assert models and all(Path(path).is_relative_to(target) for path in models)
    listed = subprocess.run(
        [sys.executable, "-m", "spectfsl", "models", "list", "--format", "csv"],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
    )
    assert listed.returncode == 0, listed.stderr
    assert "segment-3d" in listed.stdout
