"""How often `proto predict` flags `ood`: held-out patients' crops (false alarms), whole slices,
blank and uniform-noise images (detections), over leave-patients-out folds.

Data: the phantom (12 patients: fit on 4, predict the other 8, three folds), and when found under
--data-dir, the PhysioNet NIfTI volumes (classes derived from the expert wall mask; fit on two
patients, predict the third) and lvseg-mtu (myocardium and cavity; fit on three patients' rest and
stress scans, predict the fourth's). Banks: random initialisation, --episodes 30, --support 3.

Usage:
  python benchmarks/proto_ood.py [--data-dir DIR] [--work DIR]

Appends one line per fold to `benchmarks/results/proto-ood.jsonl` (provenance, data, patients,
counts and flagged fraction per group, and accuracy on the held-out crops).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from provenance import append_result, provenance

from spectfsl.core.data.datasets import PrepareSettings, read_dataset
from spectfsl.core.data.phantom import write_phantom
from spectfsl.core.data.prepare import prepare
from spectfsl.core.data.shared import find_data, lvseg_pairs, physionet_wall_pairs
from spectfsl.core.files.loader import load_image
from spectfsl.core.processing.preprocess import centred_window, normalised
from spectfsl.core.proto.episodes import FineTuneSettings
from spectfsl.core.proto.ood import CropProfile
from spectfsl.core.proto.workflows import FitSettings, fit_bank

EPISODES, SUPPORT, NOISE_IMAGES = 30, 3, 10


def whole_slices(paths: list[Path], size: int, spacing_mm: float | None) -> np.ndarray:
    """Every slice of the volumes, cut to the bank's window as `proto predict` does."""
    planes = [plane for path in paths for plane in normalised(load_image(path)).slices()]
    return np.stack([centred_window(plane, size, spacing_mm) for plane in planes])


def measure(name: str, dataset: Path, fit_patients, volumes: list[Path], seed: int) -> None:
    data = read_dataset(dataset)
    fit = data.subset(i for i, p in enumerate(data.patients) if p in fit_patients)
    held = data.subset(i for i, p in enumerate(data.patients) if p not in fit_patients)
    settings = FitSettings(weights="random", shots=SUPPORT, fine_tune=FineTuneSettings(episodes=EPISODES), seed=seed)
    classifier, info, _ = fit_bank(fit, settings)
    profile = CropProfile.from_dict(info.crop_profile)
    rng = np.random.default_rng(seed)
    groups = {
        "held_out_crops": held.images,
        "whole_slices": whole_slices(volumes, info.size, info.spacing_mm),
        "blank": np.zeros((NOISE_IMAGES, info.size, info.size), np.float32),
        "noise": rng.uniform(0, 1, (NOISE_IMAGES, info.size, info.size)).astype(np.float32),
    }
    predicted = classifier.predict(held.images).probabilities.argmax(dim=1).numpy()
    accuracy = float((np.array(info.classes)[predicted] == np.array(held.labels)).mean())
    append_result(
        "proto-ood",
        {
            **provenance(),
            "data": name,
            "seed": seed,
            "fit_patients": sorted(set(fit.patients)),
            "held_out_patients": sorted(set(held.patients)),
            "settings": {"episodes": EPISODES, "support": SUPPORT, "weights": "random"},
            "held_out_accuracy": round(accuracy, 4),
            "flagged": {
                group: {"images": len(images), "fraction": round(float(profile.outside(images).mean()), 4)}
                for group, images in groups.items()
            },
        },
    )


def phantom(work: Path) -> None:
    root = work / "phantom"
    patients = [f"P{i:03d}" for i in range(1, 13)]
    if not root.exists():
        write_phantom(root, 12, seed=0)
    dataset = work / "phantom-crops"
    if not dataset.exists():
        prepare(
            [root / p / "spect.dcm" for p in patients],
            dataset,
            labels=[root / p / "labels.npy" for p in patients],
            classes={1: "myocardium", 2: "ventricles", 3: "liver"},
            settings=PrepareSettings(slices=False),
        )
    pseudonyms = {load_image(root / p / "spect.dcm").patient: root / p / "spect.dcm" for p in patients}
    ordered = list(pseudonyms)
    for fold in range(3):
        fit = ordered[4 * fold : 4 * fold + 4]
        volumes = [pseudonyms[p] for p in ordered if p not in fit][:3]
        measure("phantom", dataset, fit, volumes, fold)


def physionet_nifti(work: Path, data_dir: Path) -> None:
    scans, masks = physionet_wall_pairs(data_dir / "mps-physionet" / "nifti")
    if not masks:
        return
    dataset = work / "nifti-crops"
    if not dataset.exists():
        prepare(
            scans,
            dataset,
            masks={"myocardium": masks},
            derive_from="myocardium",
            settings=PrepareSettings(min_pixels=10, slices=False),
        )
    patients = sorted(set(read_dataset(dataset).patients))
    for fold, (held, scan) in enumerate(zip(patients, scans)):
        measure("physionet-nifti", dataset, [p for p in patients if p != held], [scan], fold)


def lvseg(work: Path, data_dir: Path) -> None:
    scans, labels = lvseg_pairs(data_dir / "lvseg-mtu")
    if not scans:
        return
    dataset = work / "lvseg-crops"
    if not dataset.exists():
        prepare(
            scans,
            dataset,
            labels=labels,
            classes={1: "myocardium", 2: "cavity"},
            settings=PrepareSettings(slices=False),
        )
    stems = sorted(set(read_dataset(dataset).patients))  # P005024_rest, P005024_stress, ...
    for fold, patient in enumerate(sorted({stem.split("_")[0] for stem in stems})):
        fit = [stem for stem in stems if not stem.startswith(patient)]
        measure("lvseg-mtu", dataset, fit, [s for s in scans if s.name.startswith(patient)], fold)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=find_data(), help="default: $SPECTFSL_DATA or ../shared/data")
    parser.add_argument("--work", type=Path, help="folder for the phantom and crops (default: a temporary one)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="proto-ood-"))
    phantom(work)
    if args.data_dir is not None:
        physionet_nifti(work, args.data_dir)
        lvseg(work, args.data_dir)


if __name__ == "__main__":
    main()
