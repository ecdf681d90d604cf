"""The LV cavity of each gate as the volume its endocardial surface encloses, from the gate's wall map.

Along each polar ray (`polar`, from the summed study's LV axis) the endocardium is where the ray first
meets the gate's myocardium. A ray that meets none crosses a gap in the wall (a defect, the membranous
septum, a map open on one side): its endocardium is interpolated around its ring from the rays that
do, as the clinical packages close the endocardial surface. A ring of the cylinder where fewer than
`BASE_SHARE` of the rays meet the wall lies beyond this gate's base (the base descends in systole)
and encloses nothing. The volume is `edges.enclosed_ml` of the endocardial points.

Counting the voxels a map calls cavity reads a cavity left open at a gap, or split by a stray wall
voxel, as smaller than the wall encloses, and differently in each gate; the surface does not.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from spectfsl.core.quantify import polar
from spectfsl.core.quantify.axis import LVAxis
from spectfsl.core.quantify.edges import enclosed_ml
from spectfsl.core.quantify.geometry import ScanFrame

#: Share of a cylinder ring's rays that must meet the wall for the ring to lie within the LV.
BASE_SHARE = 0.5
#: Step along the rays (mm).
STEP_MM = 0.5


def enclosed_cavity_ml(walls: np.ndarray, reach_from: np.ndarray, frame: ScanFrame, axis: LVAxis) -> list[float]:
    """The cavity volume (ml) of each gate's wall map (`walls`: (gates, slice, row, col) booleans), on the
    rays of `axis`, as far as the summed study's myocardium `reach_from` reaches (see the module)."""
    origins, directions = polar.polar_rays(axis)
    distances = np.arange(0.0, polar.reach_mm(reach_from, frame, axis) + STEP_MM, STEP_MM)
    points = origins[:, :, None, :] + directions[:, :, None, :] * distances[None, None, :, None]
    positions = frame.to_array(points.reshape(-1, 3))[:, ::-1].T
    cylinder = (np.arange(polar.RINGS) + 0.5) / polar.RINGS >= polar.APICAL_SHARE
    volumes = []
    for wall in walls:
        met = ndimage.map_coordinates(wall.astype(np.float32), positions, order=1, mode="constant") >= 0.5
        met = met.reshape(points.shape[:3])
        endocardium = np.where(met.any(axis=2), distances[met.argmax(axis=2)], np.nan)
        share = np.isfinite(endocardium).mean(axis=1)
        endocardium = np.stack([_closed_ring(ring) for ring in endocardium])
        endocardium[cylinder & (share < BASE_SHARE)] = 0.0
        volumes.append(enclosed_ml(endocardium, axis))
    return volumes


def _closed_ring(ring: np.ndarray) -> np.ndarray:
    """One ring's endocardial distances with its gaps (NaN) interpolated around the ring; 0 where no
    ray of the ring met the wall."""
    known = np.isfinite(ring)
    if not known.any():
        return np.zeros_like(ring)
    if known.all():
        return ring
    sectors = np.arange(len(ring))
    closed = ring.copy()
    closed[~known] = np.interp(sectors[~known], sectors[known], ring[known], period=len(ring))
    return closed
