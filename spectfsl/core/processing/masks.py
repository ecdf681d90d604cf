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


def largest_component(wall: np.ndarray) -> np.ndarray:
    """The largest 26-connected (8-connected in 2D) part of a wall mask: the LV wall is one shell, and
    an expert mask can carry islands away from it (one of the PhysioNet patients' masks has two, 618
    and 68 voxels beside 3,024), which would pull the centroid and tilt the long axis."""
    labels, count = ndimage.label(wall, structure=np.ones((3,) * wall.ndim))
    if count <= 1:
        return wall.astype(bool)
    sizes = np.bincount(labels.ravel())[1:]
    return labels == int(np.argmax(sizes)) + 1


def wall_landmarks(wall: np.ndarray) -> tuple[int, dict[str, tuple[float, float]]]:
    """Landmarks of a 3D LV-wall mask (its largest connected part), on the slice through the wall's
    centroid: (slice, {name: (x, y)}).

    `lv_wall_centroid`: the 3D centroid's (x, y) (x = column, y = row, pixels).
    `lateral_wall`: the centroid of that slice's wall pixels on the patient's left of it (larger x).
    """
    if wall.ndim != 3 or not wall.any():
        raise SpectfslError("wall landmarks need a non-empty 3D wall mask")
    wall = largest_component(wall)
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


#: How far (mm) from each end of the wall along the long axis `wall_landmarks_3d` looks to tell the
#: closed apex (wall near the axis) from the open base (a ring around it).
END_MM = 10.0


def wall_landmarks_3d(wall: np.ndarray, spacing_mm: tuple[float, float, float]) -> dict[str, tuple[float, ...]]:
    """3D landmarks of an LV-wall mask (its largest connected part; (slices, rows, cols) array of an
    axial scan, voxel spacing in mm along those axes), as array positions (column, row, slice):

    - `lv_centre`: the wall's centroid.
    - `apex`: the wall voxel farthest along the LV long axis (the wall's first principal axis in mm)
      from the base. The apex is the closed end: within END_MM of it the wall lies near the axis (a
      cap), while at the open base it is a ring around the axis; the end whose wall voxels lie closer
      to the axis is the apex. (No anatomical direction is assumed, so short-axis reorientations and
      any file orientation work.)
    - `lateral_wall`: the centroid of the wall voxels within one slice of the centroid's slice and on
      the patient's left of it (larger column).
    """
    if wall.ndim != 3 or not wall.any():
        raise SpectfslError("3D wall landmarks need a non-empty 3D wall mask")
    voxels = np.argwhere(largest_component(wall)).astype(np.float64)  # (slice, row, col)
    centroid = voxels.mean(axis=0)
    in_mm = (voxels - centroid) * np.asarray(spacing_mm)
    axis = np.linalg.svd(in_mm, full_matrices=False)[2][0]
    along = in_mm @ axis
    radial = np.linalg.norm(in_mm - along[:, None] * axis, axis=1)
    near_max, near_min = along >= along.max() - END_MM, along <= along.min() + END_MM
    if radial[near_min].mean() < radial[near_max].mean():
        along = -along
    apex = voxels[int(np.argmax(along))]
    near = np.abs(voxels[:, 0] - centroid[0]) <= 1
    lateral = voxels[near & (voxels[:, 2] > centroid[2])]
    if not len(lateral):
        raise SpectfslError("the wall mask has no voxels lateral to its centroid")
    lateral_point = lateral.mean(axis=0)
    return {
        name: (float(point[2]), float(point[1]), float(point[0]))
        for name, point in (("lv_centre", centroid), ("apex", apex), ("lateral_wall", lateral_point))
    }


def wall_landmark_points_3d(mask: SpectImage) -> dict[str, tuple[float, float, float]]:
    """`wall_landmarks_3d` of a loaded wall mask in its file's own voxel indices (x, y, z)."""
    spacing = (mask.slice_spacing_mm or 1.0, *(mask.pixel_spacing_mm or (1.0, 1.0)))
    points = wall_landmarks_3d(mask.pixels > 0, spacing)
    return {name: mask.file_index(*position) for name, position in points.items()}
