"""Time `segment predict`'s work on one 64^3 phantom DICOM in process: read, label every voxel, write
the NIfTI label map (`bench`'s `segment_predict` call, an untrained network: only the speed is
measured). Prints the median of the runs per window size.

Usage: python benchmarks/segment_predict_time.py [--crops 32 40] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from spectfsl.bench.workloads import BenchSettings, segment_predict_volume
from spectfsl.core.segmentation.settings import SegmentSettings


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
            shown = ", ".join(f"{t:.2f}" for t in times)
            print(f"crop {crop}: median {statistics.median(times):.2f} s ({shown})")


if __name__ == "__main__":
    main()
