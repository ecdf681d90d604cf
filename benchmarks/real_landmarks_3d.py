"""Write 3D POINTS.csv files (image,name,x,y,z in each file's own voxel indices) for the real volumes.

- NIfTI patients (expert LV-wall masks): `lv_centre` (wall centroid), `apex` (the closed end of the
  wall along its long axis) and `lateral_wall`, from `spectfsl.core.imaging.masks.wall_landmarks_3d`.
- DICOM volumes (no masks): `lv_centre` only, found by spectfsl's heart finder
  (`spectfsl.core.imaging.heart.find_heart`): **not expert-made**, an automatic estimate.

Usage: python benchmarks/real_landmarks_3d.py ../shared/data/mps-physionet OUT_DIR
writes OUT_DIR/nifti/points3d.csv and OUT_DIR/dicom/points3d.csv, image paths relative to each
CSV's folder (as `prnet evaluate --points` requires), so OUT_DIR/nifti and OUT_DIR/dicom link to the
data folders rather than copying them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from spectfsl.core.files.loader import load_image
from spectfsl.core.files.points import write_points
from spectfsl.core.imaging.heart import find_heart
from spectfsl.core.imaging.masks import wall_landmark_points_3d


def _linked_folder(source: Path, folder: Path) -> Path:
    """`folder` holding a symbolic link `data` to `source`, so points can name files inside it."""
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "data"
    if not link.exists():
        os.symlink(source.resolve(), link)
    return folder


def nifti_rows(folder: Path) -> list[tuple]:
    rows = []
    for mask in sorted(p for p in folder.glob("*.nii.gz") if "_" not in p.name):
        image = mask.name.replace(".nii.gz", "_0000.nii.gz")
        for name, (x, y, z) in wall_landmark_points_3d(load_image(mask)).items():
            rows.append((f"data/{image}", name, round(x, 3), round(y, 3), round(z, 3)))
    return rows


def dicom_rows(folder: Path) -> list[tuple]:
    rows = []
    for path in sorted(folder.glob("*.dcm")):
        volume = load_image(path)
        slice_index, row, column = find_heart(volume).centre
        x, y, z = volume.file_index(column, row, slice_index)
        rows.append((f"data/{path.name}", "lv_centre", round(x, 3), round(y, 3), round(z, 3)))
    return rows


def main() -> None:
    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    for kind, rows_of in (("nifti", nifti_rows), ("dicom", dicom_rows)):
        folder = _linked_folder(data / kind, out / kind)
        write_points(folder / "points3d.csv", rows_of(data / kind))
        print(f"wrote {folder / 'points3d.csv'}")


if __name__ == "__main__":
    main()
