"""Time `segment predict`'s work on one 64^3 phantom DICOM in process: read, label every voxel, write
the NIfTI label map (an untrained network: only the speed is measured). Prints the median of 5 runs
per window size.

Usage: python benchmarks/segment_predict_time.py [--crops 32 40] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from spectfsl.core.data.phantom import make_patient
from spectfsl.core.files.dicom import write_nm_volume
from spectfsl.core.files.loader import load_image
from spectfsl.core.segmentation.model_file import Segmenter, SegmentInfo
from spectfsl.core.segmentation.output import write_label_nifti
from spectfsl.core.segmentation.training import SegmentSettings, network_for
from spectfsl.core.segmentation.workflows import segment_image

NAMES = ["background", "myocardium", "ventricles", "liver"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crops", type=int, nargs="+", default=[SegmentSettings().crop])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        case = make_patient(0)
        path = Path(scratch) / "scan.dcm"
        write_nm_volume(path, np.clip(case.counts, 0, 65535).astype(np.uint16), case.voxel_mm, case.patient)
        for crop in args.crops:
            settings = SegmentSettings(crop=crop)
            torch.manual_seed(0)
            network = network_for(settings, len(NAMES), 3).eval()
            info = SegmentInfo(
                "finetune", 3, settings.channels, settings.embedding, [0, 1, 2, 3], NAMES, [], None, float("nan")
            )
            info.training["crop"] = crop
            segmenter = Segmenter(network, None, info)
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                image = load_image(path)
                write_label_nifti(Path(scratch) / "labels.nii.gz", image, segment_image(segmenter, image))
                times.append(time.perf_counter() - start)
            shown = ", ".join(f"{t:.2f}" for t in times)
            print(f"crop {crop}: median {statistics.median(times):.2f} s ({shown})")


if __name__ == "__main__":
    main()
