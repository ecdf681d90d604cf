"""Time `segment predict`'s work on one 64^3 phantom DICOM in process: read, label every voxel, write
the NIfTI label map (`bench`'s `segment_predict` call, an untrained network: only the speed is
measured). Appends every run's time and their median per window size, with provenance, to
`benchmarks/results/segment-predict-time.jsonl`.

Usage: python benchmarks/segment_predict_time.py [--crops 32 40] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from provenance import append_result, provenance

from spectfsl.bench.harness import BenchSettings
from spectfsl.bench.workloads import segment_predict_volume
from spectfsl.core.segment.settings import SegmentSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crops", type=int, nargs="+", default=[SegmentSettings().crop])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        for crop in args.crops:
            workload = segment_predict_volume(BenchSettings(), torch.device("cpu"), Path(scratch), crop)
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                workload.step()
                times.append(time.perf_counter() - start)
            line = {"crop": crop, "runs": args.runs, "seconds": [round(t, 3) for t in times]}
            append_result("segment-predict-time", {**provenance(), **line, "median_s": statistics.median(times)})


if __name__ == "__main__":
    main()
