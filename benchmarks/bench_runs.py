"""Run `spectfsl bench` several times in a row and keep every run, with provenance: the
performance page of the docs renders the medians from them.

Usage:
  python benchmarks/bench_runs.py [--runs 3] [-- BENCH_OPTIONS...]

Appends one line per run to `benchmarks/results/bench.jsonl`: provenance, the options given, and
`bench`, the command's whole JSON document (device, versions, settings, workloads).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from provenance import append_result, provenance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("options", nargs=argparse.REMAINDER, help="options for `spectfsl bench` (after --)")
    args = parser.parse_args()
    options = [option for option in args.options if option != "--"]
    for run in range(args.runs):
        command = [sys.executable, "-m", "spectfsl", "-q", "bench", *options, "--format", "json"]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        document = json.loads(done.stdout)
        append_result("bench", {**provenance(document.get("device", "cpu")), "run": run + 1, "options": options,
                                "bench": document})  # fmt: skip


if __name__ == "__main__":
    main()
