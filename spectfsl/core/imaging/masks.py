"""Classes derived from a left-ventricular wall mask, for data labelled with the wall alone.

Expert LV-wall masks are often horseshoes open at the base, so filling holes finds almost nothing.
Per slice: `ventricles` is the convex hull of the wall minus the wall (the cavity the wall
encloses); `extracardiac` is the ring 10-30 mm outside that hull, inside the field of view
(lung, liver, chest wall and blood-pool background around the heart).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.morphology import convex_hull_image

from spectfsl.core.image import SpectImage
from spectfsl.errors import SpectfslError

SURROUND_MM = (10.0, 30.0)


def derive_from_wall(
    wall: np.ndarray, field_of_view: np.ndarray, pixel_spacing_mm: tuple[float, float] | None
) -> dict[str, np.ndarray]:
    """`ventricles` and `extracardiac` masks (same shape as `wall`, 2D or 3D), slice by slice."""
    if pixel_spacing_mm is None:
        raise SpectfslError("deriving classes from a wall mask needs the image's pixel size in mm")
    planes = wall[np.newaxis] if wall.ndim == 2 else wall
    fov = field_of_view[np.newaxis] if wall.ndim == 2 else field_of_view
    cavity = np.zeros_like(planes, dtype=bool)
    surround = np.zeros_like(planes, dtype=bool)
    for index, plane in enumerate(planes):
        if not plane.any():
            continue
        hull = convex_hull_image(plane) | plane
        cavity[index] = hull & ~plane
        distance = ndimage.distance_transform_edt(~hull, sampling=pixel_spacing_mm)
        surround[index] = (distance > SURROUND_MM[0]) & (distance <= SURROUND_MM[1]) & fov[index]
    if wall.ndim == 2:
        cavity, surround = cavity[0], surround[0]
    return {"ventricles": cavity, "extracardiac": surround}


def wall_landmarks(wall: np.ndarray) -> tuple[int, dict[str, tuple[float, float]]]:
    """Landmarks of a 3D LV-wall mask, on the slice through the wall's centroid: (slice, {name: (x, y)}).

    `lv_wall_centroid`: the 3D centroid's (x, y) (x = column, y = row, pixels).
    `lateral_wall`: the centroid of that slice's wall pixels on the patient's left of it (larger x).
    """
    if wall.ndim != 3 or not wall.any():
        raise SpectfslError("wall landmarks need a non-empty 3D wall mask")
    z, y, x = (float(c) for c in np.argwhere(wall).mean(axis=0))
    index = int(round(z))
    rows, cols = np.nonzero(wall[index])
    lateral = cols > x
    if not lateral.any():
        raise SpectfslError(f"the wall mask has no pixels lateral to its centroid on slice {index}")
    return index, {
        "lv_wall_centroid": (x, y),
        "lateral_wall": (float(cols[lateral].mean()), float(rows[lateral].mean())),
    }


def wall_landmark_points(mask: SpectImage) -> tuple[int, dict[str, tuple[float, float]]]:
    """`wall_landmarks` of a loaded 3D wall mask in its file's own indices: (the file's slice N,
    {name: (x, y)}), so that `IMAGE@N` and the points name the same voxels in the matching image."""
    index, points = wall_landmarks(mask.pixels > 0)
    frame = int(round(mask.file_index(0, 0, index)[2]))
    return frame, {name: mask.file_index(x, y, index)[:2] for name, (x, y) in points.items()}
