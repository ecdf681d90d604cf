"""Time `spectfsl prnet locate` on 100 phantom volumes (12 patients' DICOMs, repeated), one point,
on the CPU: each model given, the same run, start-up included. Appends every run's seconds and their
median per model, with provenance, to `benchmarks/results/locate-time.jsonl`.

Usage: python benchmarks/locate_time.py --models builtin:anatomy-3d builtin:prnet-3d [--runs 3] [--volumes 100]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from localisation_ablation import model_file
from provenance import append_result, provenance

from spectfsl.core.data.phantom import write_phantom
from spectfsl.core.files.store import sha256_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--volumes", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "phantom"
        write_phantom(folder, 12, seed=0)
        scans = sorted(str(path) for path in folder.glob("P*/spect.dcm"))
        targets = [scans[i % len(scans)] for i in range(args.volumes)]
        times: dict[str, list[float]] = {spec: [] for spec in args.models}
        for _ in range(args.runs):
            for spec in args.models:  # interleaved, so that a slow spell of the machine hits every model
                out = Path(scratch) / "rows.csv"
                command = [
                    sys.executable,
                    "-m",
                    "spectfsl",
                    "prnet",
                    "locate",
                    *targets,
                    "--model",
                    str(model_file(spec)),
                ]
                command += ["--ref", scans[0], "--point", "lv=36,28,36", "--format", "csv", "--out", str(out)]
                command += ["--device", "cpu", "--quiet", "--overwrite"]
                start = time.perf_counter()
                subprocess.run(command, check=True, capture_output=True)
                times[spec].append(time.perf_counter() - start)
        for spec, seconds in times.items():
            line = {
                "model": spec,
                "sha256": sha256_of(model_file(spec)),
                "volumes": args.volumes,
                "runs": args.runs,
                "seconds": [round(t, 2) for t in seconds],
                "median_s": round(statistics.median(seconds), 2),
            }
            append_result("locate-time", {**provenance(), **line})
            print(spec, line["median_s"])


if __name__ == "__main__":
    main()
