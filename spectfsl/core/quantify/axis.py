"""The left ventricle's long axis, apex and base, and its short-axis directions, from a tissue map.

The long axis is the first principal axis of the LV (myocardium and cavity voxels, in mm). It points
from base to apex: the apex is the end where the wall closes beyond the cavity (the base is open),
and where the two ends tell nothing apart, the end towards the patient's anterior-left-inferior,
where a heart points. In the short-axis plane, the septum lies towards the right ventricle when the
map labels one, otherwise towards the patient's right; anterior is the patient's anterior, made
perpendicular to both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectfsl.core.quantify.geometry import ANTERIOR, RIGHT, SUPERIOR, ScanFrame
from spectfsl.errors import SpectfslError

#: Where a heart's apex points in LPS (anterior, left, inferior), used to break a tie.
TYPICAL_APEX = np.array([1.0, -1.0, -1.0]) / np.sqrt(3.0)
#: The wall must close this many mm further at one end than the other for the ends to be told apart.
CLOSED_END_MM = 2.0


@dataclass(frozen=True)
class LVAxis:
    """In LPS mm: the apex and the base-plane centre (on the axis, at the myocardium's ends); unit
    vectors `long` (base to apex), `septal` and `anterior` (the short-axis plane); `septum`: what
    placed the septum (`rv` or `patient right`)."""

    apex: np.ndarray
    base: np.ndarray
    long: np.ndarray
    septal: np.ndarray
    anterior: np.ndarray
    septum: str

    @property
    def length_mm(self) -> float:
        return float(np.linalg.norm(self.apex - self.base))


def voxel_points(frame: ScanFrame, mask: np.ndarray) -> np.ndarray:
    """(N, 3) LPS mm of the voxels of a (slice, row, col) mask."""
    slices, rows, cols = np.nonzero(mask)
    return frame.to_patient(np.stack([cols, rows, slices], axis=1))


def lv_axis(frame: ScanFrame, myocardium: np.ndarray, cavity: np.ndarray, rv: np.ndarray | None = None) -> LVAxis:
    """The LV's axis from its myocardium and cavity masks ((slice, row, col) booleans); `rv` (a mask
    of the right ventricle, optional) places the septum."""
    wall = voxel_points(frame, myocardium)
    if len(wall) < 10:
        raise SpectfslError("the map labels fewer than 10 myocardium voxels: there is no LV to quantify")
    inside = voxel_points(frame, cavity)
    lv = np.concatenate([wall, inside])
    centre = lv.mean(axis=0)
    _, _, components = np.linalg.svd(lv - centre, full_matrices=False)
    long = components[0]
    wall_along, inside_along = (wall - centre) @ long, (inside - centre) @ long
    closed = 0.0
    if len(inside):  # how much further the wall reaches beyond the cavity at the + end than at the - end
        closed = (wall_along.max() - inside_along.max()) - (inside_along.min() - wall_along.min())
    if closed < -CLOSED_END_MM or (abs(closed) <= CLOSED_END_MM and long @ TYPICAL_APEX < 0):
        long, wall_along = -long, -wall_along
    apex, base = centre + long * wall_along.max(), centre + long * wall_along.min()
    septum = "patient right"
    towards = RIGHT
    if rv is not None and rv.any():
        towards, septum = voxel_points(frame, rv).mean(axis=0) - centre, "rv"
    septal = _in_plane(towards, long)
    if septal is None:  # the axis runs along the patient's right-left: perpendicular to anterior
        front = _in_plane(ANTERIOR, long)
        septal = np.cross(long, front if front is not None else SUPERIOR)
        septal /= np.linalg.norm(septal)
    anterior = _in_plane(ANTERIOR - (ANTERIOR @ septal) * septal, long)
    if anterior is None:  # the patient's anterior lies along the axis or the septum: any perpendicular
        anterior = np.cross(long, septal)
    return LVAxis(apex, base, long, septal, anterior, septum)


def _in_plane(vector: np.ndarray, normal: np.ndarray) -> np.ndarray | None:
    """`vector` projected onto the plane perpendicular to `normal`, unit length; None when it is
    (nearly) along `normal`."""
    projected = vector - (vector @ normal) * normal
    length = np.linalg.norm(projected)
    return None if length < 1e-3 * max(np.linalg.norm(vector), 1e-12) else projected / length
