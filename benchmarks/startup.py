"""Median wall time of `spectfsl --help` next to `python -c "import torch"`, of a 12-patient phantom, and
of a one-step `prnet train` through the console script (which ends the process at once after a torch
command) against the same command ending with the interpreter's ordinary shutdown.

Usage: python benchmarks/startup.py [--runs 7]

Appends the medians, with provenance, to `benchmarks/results/startup.jsonl`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

from provenance import append_result, provenance


def median_seconds(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    help_s = median_seconds([sys.executable, "-m", "spectfsl", "--help"], runs)
    torch_s = median_seconds([sys.executable, "-c", "import torch"], runs)
    with tempfile.TemporaryDirectory() as scratch:
        phantom_s = median_seconds(
            [
                sys.executable,
                "-m",
                "spectfsl",
                "phantom",
                "--out",
                f"{scratch}/ph",
                "--patients",
                "12",
                "--overwrite",
                "-q",
            ],
            runs,
        )
        train = ["prnet", "train", f"{scratch}/ph/P001/spect.dcm@30", "--epochs", "1", "--iters", "1"]
        train += ["--batch-size", "2", "--out", f"{scratch}/m.safetensors", "--overwrite", "-q"]
        ordinary = "import sys; from spectfsl.cli import main; sys.exit(main())"
        ends = {"quick": [sys.executable, "-m", "spectfsl"], "ordinary": [sys.executable, "-c", ordinary]}
        train_s = {name: median_seconds([*start, *train], runs) for name, start in ends.items()}
    line = {
        "runs": runs,
        "help_s": help_s,
        "import_torch_s": torch_s,
        "help_over_torch": help_s / torch_s,
        "phantom_12_patients_s": phantom_s,
        "prnet_train_one_step_s": train_s,
    }
    append_result("startup", {**provenance(), **line})


if __name__ == "__main__":
    main()
