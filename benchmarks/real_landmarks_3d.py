"""Write 3D POINTS.csv files (image,name,x,y,z in each file's own voxel indices) for the real volumes.

- NIfTI patients (expert LV-wall masks): `lv_centre` (wall centroid), `apex` (the closed end of the
  wall along its long axis) and `lateral_wall`, from `spectfsl.core.imaging.masks.wall_landmarks_3d`.
- DICOM volumes (no masks): `lv_centre` only, found by spectfsl's heart finder
  (`spectfsl.core.imaging.heart.find_heart`): **not expert-made**, an automatic estimate.

Usage: python benchmarks/real_landmarks_3d.py ../shared/data/mps-physionet benchmarks/points
writes OUT_DIR/mps-physionet-{nifti,dicom,all}-3d.csv (`all`: both, so `lv_centre` is in all six
volumes) with image paths relative to the dataset folder, for
`spectfsl prnet evaluate --points OUT_DIR/mps-physionet-nifti-3d.csv --data-dir ../shared/data/mps-physionet`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from spectfsl.core.files.loader import load_image
from spectfsl.core.files.points import write_points
from spectfsl.core.imaging.heart import find_heart
from spectfsl.core.imaging.masks import wall_landmark_points_3d


def nifti_rows(folder: Path) -> list[tuple]:
    rows = []
    for mask in sorted(p for p in folder.glob("*.nii.gz") if "_" not in p.name):
        image = mask.name.replace(".nii.gz", "_0000.nii.gz")
        for name, (x, y, z) in wall_landmark_points_3d(load_image(mask)).items():
            rows.append((f"{folder.name}/{image}", name, round(x, 3), round(y, 3), round(z, 3)))
    return rows


def dicom_rows(folder: Path) -> list[tuple]:
    rows = []
    for path in sorted(folder.glob("*.dcm")):
        volume = load_image(path)
        slice_index, row, column = find_heart(volume).centre
        x, y, z = volume.file_index(column, row, slice_index)
        rows.append((f"{folder.name}/{path.name}", "lv_centre", round(x, 3), round(y, 3), round(z, 3)))
    return rows


def main() -> None:
    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    files = {"nifti": nifti_rows(data / "nifti"), "dicom": dicom_rows(data / "dicom")}
    files["all"] = files["nifti"] + files["dicom"]  # lv_centre in all 6 volumes: 30 ordered pairs
    for kind, rows in files.items():
        path = out / f"{data.name}-{kind}-3d.csv"
        write_points(path, rows)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
