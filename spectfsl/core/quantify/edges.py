"""The classical baseline for LV function: count-based endocardial edges along the polar rays, gate by
gate, as the clinical packages (QGS, Emory Cardiac Toolbox) find them.

The rays are the polar map's (`polar`), from the LV axis of the summed study. In each gate every ray's
count profile peaks at mid-wall (the myocardium's maximum count, searched within a voxel of the summed
study's myocardium). Partial volume makes a wall's peak count grow with its thickness, so each ray's
wall is taken as `WALL_MM` thick on average over the cycle, thicker or thinner in proportion to its
peak in that gate; the endocardium lies half a wall inside the peak. The cavity's volume is the
volume the endocardial points enclose: a cone of solid angle per ray of the apical hemisphere and a
wedge per ray of the cylinder, from the apex to the summed study's base.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from spectfsl.core.image import GatedImage
from spectfsl.core.quantify import polar
from spectfsl.core.quantify.axis import LVAxis
from spectfsl.core.quantify.geometry import ScanFrame

#: The LV wall's mean thickness over the cycle (mm), the count-based methods' nominal thickness.
WALL_MM = 10.0


def count_based_cavity_ml(study: GatedImage, myocardium: np.ndarray, frame: ScanFrame, axis: LVAxis) -> list[float]:
    """The LV cavity's volume (ml) in each gate from count-based edges (see the module); `myocardium`
    (the summed study's, (slice, row, col)), `frame` and `axis` place the rays."""
    origins, directions = polar.polar_rays(axis)
    reach = polar.reach_mm(myocardium, frame, axis)
    distances = np.arange(0.0, reach + polar.SAMPLE_MM, polar.SAMPLE_MM)
    points = origins[:, :, None, :] + directions[:, :, None, :] * distances[None, None, :, None]
    positions = frame.to_array(points.reshape(-1, 3))[:, ::-1].T
    shape = points.shape[:3]
    near = ndimage.binary_dilation(myocardium)
    window = ndimage.map_coordinates(near.astype(np.float64), positions, order=1, mode="constant") >= 0.5
    window = window.reshape(shape)
    peaks, where = [], []
    for gate in study.gates:
        profile = ndimage.map_coordinates(gate.pixels.astype(np.float64), positions, order=1, mode="constant")
        masked = np.where(window, profile.reshape(shape), -np.inf)
        peaks.append(masked.max(axis=2))
        where.append(distances[masked.argmax(axis=2)])
    peaks, where = np.array(peaks), np.array(where)  # (gates, rings, sectors)
    reached = np.isfinite(peaks).all(axis=0) & (peaks > 0).all(axis=0)
    mean_peak = np.where(reached, peaks, 1.0).mean(axis=0)
    volumes = []
    for gate_peak, gate_where in zip(peaks, where):
        endocardium = gate_where - 0.5 * WALL_MM * np.where(reached, gate_peak, mean_peak) / mean_peak
        endocardium = np.where(reached, np.clip(endocardium, 0.0, None), 0.0)
        volumes.append(enclosed_ml(endocardium, axis))
    return volumes


def enclosed_ml(distances_mm: np.ndarray, axis: LVAxis) -> float:
    """The volume (ml) enclosed by points at `distances_mm` (rings, sectors) along the polar rays: each
    apical ray's cone (r^3 / 3 times its solid angle), each cylinder ray's wedge (r^2 / 2 times its
    angle times its length along the axis)."""
    rings, sectors = distances_mm.shape
    sector_angle = 2 * np.pi / sectors
    ring_edges = np.arange(rings + 1) / rings
    volume = 0.0
    for ring in range(rings):
        low, high = ring_edges[ring], ring_edges[ring + 1]
        if (low + high) / 2 < polar.APICAL_SHARE:
            tilt_low, tilt_high = (edge / polar.APICAL_SHARE * np.pi / 2 for edge in (low, high))
            solid_angle = (np.cos(tilt_low) - np.cos(tilt_high)) * sector_angle
            volume += float((distances_mm[ring] ** 3 / 3).sum()) * solid_angle
        else:
            volume += float((distances_mm[ring] ** 2 / 2).sum()) * sector_angle * (high - low) * axis.length_mm
    return volume / 1000.0
