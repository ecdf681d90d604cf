"""Interrupting real training processes with SIGINT/SIGTERM and resuming them: the resumed run ends
with the weights of an uninterrupted one (CPU, same seed). Only the interrupted run is a separate
process (a signal needs one); the others run in-process, sparing a start-up each."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

pytestmark = pytest.mark.slow

#: The largest weight difference accepted between a resumed and an uninterrupted run.
TOLERANCE = 1e-4


def interrupt(args: list[object], sig: int = signal.SIGINT) -> subprocess.CompletedProcess:
    """Start `spectfsl ARGS`, wait until it reports training progress, send `sig`, wait for the end."""
    environment = {**os.environ, "SPECTFSL_PROGRESS_INTERVAL": "0.1", "CUDA_VISIBLE_DEVICES": ""}
    process = subprocess.Popen(
        [sys.executable, "-m", "spectfsl", *map(str, args)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=environment,
    )
    lines = []
    deadline = time.monotonic() + 300
    for line in process.stderr:  # the first progress line: training has started
        lines.append(line)
        if "/s," in line or time.monotonic() > deadline:
            break
    process.send_signal(sig)
    rest = process.stderr.read()
    process.wait(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, "", "".join(lines) + rest)


def max_difference(first: Path, second: Path) -> float:
    a, b = load_file(first), load_file(second)
    assert a.keys() == b.keys()
    return max(float((a[name].double() - b[name].double()).abs().max()) for name in a)


def test_prnet_train_interrupted_by_ctrl_c_resumes_to_the_same_weights(cli, phantom_dir, tmp_path):
    common = [
        f"{phantom_dir / 'P001' / 'spect.dcm'}@28-36",
        "--epochs", 8, "--iters", 10, "--batch-size", 4, "--patch", 16, "--init", "random", "--device", "cpu",
        "--seed", 3,
    ]  # fmt: skip
    whole = cli("-q", "prnet", "train", *common, "--out", tmp_path / "whole.safetensors")
    assert whole.exit_code == 0, whole.stderr
    out = tmp_path / "resumed.safetensors"
    stopped = interrupt(["prnet", "train", *common, "--out", out])
    assert stopped.returncode == 130, stopped.stderr
    checkpoint = Path(str(out) + ".ckpt")
    assert f"checkpoint saved to {checkpoint}" in stopped.stderr and checkpoint.is_file() and not out.exists()

    changed = cli("prnet", "train", *common, "--lr", 0.01, "--out", out, "--resume")
    assert changed.exit_code == 2 and "its settings differ: lr" in changed.stderr
    resumed = cli("-q", "prnet", "train", *common, "--out", out, "--resume")
    assert resumed.exit_code == 0, resumed.stderr
    assert max_difference(tmp_path / "whole.safetensors", out) < TOLERANCE
    assert not checkpoint.exists()  # a finished run leaves no checkpoint


def test_proto_fit_stopped_by_sigterm_resumes_to_the_same_bank(cli, phantom_dataset, tmp_path):
    common = [phantom_dataset, "--episodes", 8, "--weights", "random", "--device", "cpu", "--seed", 1]
    whole = cli("-q", "proto", "fit", *common, "--out", tmp_path / "whole.safetensors")
    assert whole.exit_code == 0, whole.stderr
    out = tmp_path / "resumed.safetensors"
    stopped = interrupt(["proto", "fit", *common, "--out", out], signal.SIGTERM)
    assert stopped.returncode == 130 and "SIGTERM: training interrupted" in stopped.stderr, stopped.stderr

    again = cli("proto", "fit", *common, "--out", out)
    assert again.exit_code == 2 and "pass --resume to continue it" in again.stderr
    resumed = cli("-q", "proto", "fit", *common, "--out", out, "--resume")
    assert resumed.exit_code == 0, resumed.stderr
    assert max_difference(tmp_path / "whole.safetensors", out) < TOLERANCE


def test_segment_fit_interrupted_resumes_to_the_same_model(cli, tmp_path):
    from tests.commands.test_segment import _shell_scan

    scan, labels = _shell_scan(tmp_path, "s0", seed=0)
    common = [
        scan,
        "--labels",
        labels,
        "--init",
        "random",
        "--steps",
        40,
        "--batch-size",
        2,
        "--crop",
        16,
        "--channels",
        8,
        "--device",
        "cpu",
        "--seed",
        2,
    ]
    whole = cli("-q", "segment", "fit", *common, "--out", tmp_path / "whole.safetensors")
    assert whole.exit_code == 0, whole.stderr
    out = tmp_path / "resumed.safetensors"
    stopped = interrupt(["segment", "fit", *common, "--out", out])
    assert stopped.returncode == 130, stopped.stderr
    resumed = cli("-q", "segment", "fit", *common, "--out", out, "--resume")
    assert resumed.exit_code == 0, resumed.stderr
    assert max_difference(tmp_path / "whole.safetensors", out) < TOLERANCE
