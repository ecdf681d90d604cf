"""Write POINTS.csv for the real NIfTI patients: LV-wall centroid and lateral wall on the slice through
the centroid (see spectfsl.core.imaging.masks.wall_landmarks).

Usage: python benchmarks/real_points.py ../shared/data/mps-physionet/nifti OUT.csv
"""

from __future__ import annotations

import sys
from pathlib import Path

from spectfsl.core.files.loader import load_image
from spectfsl.core.files.points import write_points
from spectfsl.core.imaging.masks import wall_landmark_points


def main() -> None:
    folder, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
    rows = []
    for mask in sorted(p for p in folder.glob("*.nii.gz") if "_" not in p.name):
        image = mask.with_name(mask.name.replace(".nii.gz", "_0000.nii.gz"))
        index, points = wall_landmark_points(load_image(mask))
        rows += [(f"{image}@{index}", name, round(x, 3), round(y, 3)) for name, (x, y) in points.items()]
    write_points(out, rows)


if __name__ == "__main__":
    main()
