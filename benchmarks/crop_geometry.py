"""Does keeping the tissue's absolute size help? Compare `prepare`'s fixed 128 mm window with crops
stretched so that each tissue's bounding box fills the image (the alternative the design rejected).

Usage: python benchmarks/crop_geometry.py TRAIN_DATASET TEST_DATASET WORKDIR
Writes stretched copies of both datasets, then appends (with provenance, to
`benchmarks/results/crop-geometry.jsonl`) `proto evaluate` accuracy (3-way 3-shot
6-query, 600 patient-disjoint episodes) for random weights without fine-tuning and after 100
episodes of fine-tuning on the train patients, with the baselines, for both geometries.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from provenance import append_result, provenance

from spectfsl.core.data.datasets import class_folders
from spectfsl.core.files.formats import read_sidecar, save_npy
from spectfsl.core.files.loader import load_image
from spectfsl.core.processing.preprocess import sample_window


def stretch(dataset: Path, out: Path) -> None:
    for folder in class_folders(dataset):
        for path in sorted(folder.glob("*.npy")):
            image = load_image(path)
            rows, cols = np.nonzero(image.pixels > 0)
            if len(rows) == 0:
                continue
            top, left = rows.min(), cols.min()
            window = (rows.max() - top + 1, cols.max() - left + 1)
            pixels = sample_window(image.pixels, (top, left), window, image.pixels.shape)
            # no pixel size: a stretched crop has none that is common to all crops, and none is resampled
            save_npy(
                out / folder.name / path.name,
                image.with_pixels(pixels),
                {**read_sidecar(path), "pixel_spacing_mm": None},
            )


def accuracies(*args: str) -> dict[str, float]:
    result = subprocess.run(
        ["spectfsl", "-q", "proto", "evaluate", *args, "--split-by", "patient", "--baselines", "--format", "json"],
        check=True,
        capture_output=True,
        text=True,
    )
    return {method["name"]: method["accuracy"] for method in json.loads(result.stdout)["methods"]}


def main() -> None:
    train, test, work = (Path(a) for a in sys.argv[1:4])
    for name, (train_set, test_set) in {
        "fixed 128 mm window": (train, test),
        "stretched to the tissue": (work / "train-stretched", work / "test-stretched"),
    }.items():
        if not test_set.exists():
            stretch(train, train_set)
            stretch(test, test_set)
        bank = work / f"bank-{train_set.name}.safetensors"
        subprocess.run(
            [
                "spectfsl",
                "-q",
                "proto",
                "fit",
                str(train_set),
                "--out",
                str(bank),
                "--overwrite",
                "--weights",
                "random",
            ],
            check=True,
        )
        for backbone, source in (
            ("random, no fine-tuning", ["--weights", "random"]),
            ("fine-tuned 100 episodes", ["--bank", str(bank)]),
        ):
            line = {"geometry": name, "backbone": backbone, "accuracy": accuracies(str(test_set), *source)}
            append_result("crop-geometry", {**provenance(), **line})


if __name__ == "__main__":
    main()
