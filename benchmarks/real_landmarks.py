"""Write POINTS.csv files (in each file's own voxel indices) for the real volumes, for 3D and 2D models.

- NIfTI patients (expert LV-wall masks): `lv_centre` (wall centroid), `apex` (the closed end of the
  wall along its long axis) and `lateral_wall` (`spectfsl.core.prnet.landmarks`).
- DICOM volumes (no masks): `lv_centre` only, found by spectfsl's heart finder
  (`spectfsl.core.processing.heart.find_heart`): **not expert-made**, an automatic estimate.

Usage: python benchmarks/real_landmarks.py ../shared/data/mps-physionet benchmarks/points
writes OUT_DIR/mps-physionet-{nifti-3d,dicom-3d,all-3d}.csv (`all`: both, so `lv_centre` is in all six
volumes), `all-2d` (the same points on the file's slice through each, for 2D models) and
`nifti-wall-2d` (the study-style landmarks: the 3D wall centroid's x, y and the lateral wall on the
slice through the centroid), image paths relative to the dataset folder, for
`spectfsl prnet evaluate --points OUT_DIR/mps-physionet-all-3d.csv --data-dir ../shared/data/mps-physionet`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from spectfsl.core.data.shared import physionet_wall_pairs
from spectfsl.core.files.points import write_points
from spectfsl.core.prnet.landmarks import (
    heart_landmark_rows,
    mask_landmark_rows,
    mask_slice_landmark_rows,
    slice_landmark_rows,
)


def nifti_pairs(folder: Path) -> tuple[list[str], list[Path]]:
    """The NIfTI images as named relative to the dataset folder, and their wall masks."""
    images, masks = physionet_wall_pairs(folder)
    return [f"{folder.name}/{image.name}" for image in images], masks


def nifti_rows(folder: Path) -> list[tuple]:
    return mask_landmark_rows(*nifti_pairs(folder))


def dicom_rows(folder: Path) -> list[tuple]:
    paths = sorted(folder.glob("*.dcm"))
    return heart_landmark_rows([f"{folder.name}/{path.name}" for path in paths], paths)


def main() -> None:
    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    files = {"nifti-3d": nifti_rows(data / "nifti"), "dicom-3d": dicom_rows(data / "dicom")}
    files["all-3d"] = files["nifti-3d"] + files["dicom-3d"]  # lv_centre in all 6 volumes: 30 ordered pairs
    files["all-2d"] = slice_landmark_rows(files["all-3d"])  # the same points on the slices through them
    files["nifti-wall-2d"] = mask_slice_landmark_rows(*nifti_pairs(data / "nifti"))  # the study-style 2D wall landmarks
    for kind, rows in files.items():
        path = out / f"{data.name}-{kind}.csv"
        write_points(path, rows)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
