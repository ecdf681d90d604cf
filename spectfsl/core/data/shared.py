"""Where the real SPECT data live: one environment variable for every user of them (the demo, the
tests, the benchmarks), with the layout CI uses as the fallback."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

#: The environment variable naming the real-data folder (holding mps-physionet/, lvseg-mtu/, seed-slice/).
DATA_ENV = "SPECTFSL_DATA"
#: The PhysioNet folder's name, in a real-data folder and inside the package.
PHYSIONET = "mps-physionet"


def packaged_physionet() -> Path:
    """The PhysioNet volumes shipped inside the package (CC BY 4.0, with their citation in README.md)."""
    return Path(str(resources.files("spectfsl") / "sample_data" / PHYSIONET))


def physionet_folder(data: Path | None = None) -> Path:
    """The PhysioNet folder (dicom/, nifti/): `data`/mps-physionet when the real-data folder `data`
    holds one, else the copy shipped inside the package."""
    if data is not None and (Path(data) / PHYSIONET).is_dir():
        return Path(data) / PHYSIONET
    return packaged_physionet()


def data_candidates(repository: Path | None = None) -> list[Path]:
    """Where to look, in order: $SPECTFSL_DATA, ../shared/data from the working folder, and
    `repository`/../shared/data (a checkout beside the shared folder, as in CI)."""
    candidates = [os.environ.get(DATA_ENV), Path.cwd().parent / "shared" / "data"]
    if repository is not None:
        candidates.append(repository.parent / "shared" / "data")
    return [Path(candidate) for candidate in candidates if candidate]


def find_data(repository: Path | None = None) -> Path | None:
    """The first existing folder of `data_candidates`, or None."""
    return next((path for path in data_candidates(repository) if path.is_dir()), None)


def physionet_wall_pairs(folder: Path) -> tuple[list[Path], list[Path]]:
    """The PhysioNet NIfTI patients of `folder` (mps-physionet/nifti): images (`patient001_0000.nii.gz`,
    nnU-Net's naming) and their LV-wall masks (`patient001.nii.gz`), in the same order."""
    masks = sorted(path for path in Path(folder).glob("*.nii.gz") if "_" not in path.name)
    return [mask.with_name(mask.name.replace(".nii.gz", "_0000.nii.gz")) for mask in masks], masks


def lvseg_pairs(folder: Path) -> tuple[list[Path], list[Path]]:
    """lvseg-mtu's scans of `folder` (rest first, then stress) and their expert label maps
    (`P005024_rest_labels.nii.gz`: 1 LV myocardium, 2 LV cavity), in the same order."""
    folder = Path(folder)
    scans = sorted(folder.glob("*_rest.nii.gz")) + sorted(folder.glob("*_stress.nii.gz"))
    return scans, [scan.with_name(scan.name.replace(".nii.gz", "_labels.nii.gz")) for scan in scans]


def lvseg_gated_studies(folder: Path) -> tuple[list[Path], list[Path]]:
    """lvseg-mtu-gated's 4D studies of `folder` (rest first, then stress) and their expert label maps
    (`P005024_rest_gated_labels.nii.gz`: 1 LV myocardium, 2 LV cavity, every gate), in the same order;
    the expert volumes and LVEF are in `folder/expert_volumes.json`."""
    folder = Path(folder)
    studies = sorted(folder.glob("*_rest_gated.nii.gz")) + sorted(folder.glob("*_stress_gated.nii.gz"))
    return studies, [study.with_name(study.name.replace(".nii.gz", "_labels.nii.gz")) for study in studies]
