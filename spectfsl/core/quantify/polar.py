"""The polar map ("bullseye") of myocardial uptake and its 17 AHA segments.

Rays leave the LV's axis and cross the myocardium; each ray's value is the maximum (or mean) of the
counts it meets inside the myocardium (trilinear samples every `SAMPLE_MM`). A ray that meets no
myocardium (the map ends short of the base, or leaves a gap in the wall) takes the maximum count
along it where its ring's other rays met the wall (the whole map's range for a ring that met none),
the clinical packages' max-count search; the map marks those cells `filled`. The apical part is
sampled on a hemisphere: rays from a centre on the axis, `APICAL_SHARE` of the LV's length from the
apex, fanning from straight at the apex to perpendicular to the axis; the rest on a cylinder: rays
perpendicular to the axis from points along it, to the base. On the map, the polar radius runs from
the apex (0) to the base (1) and the angle is as on a standard bullseye: anterior at the top,
septal on the left, inferior at the bottom, lateral on the right. The map is normalised to its
maximum (100%).

Segments (AHA 17-segment model): polar radius below 0.12 is the apex (17); 0.12-0.40 the apical
ring (13 anterior, 14 septal, 15 inferior, 16 lateral, 90 degrees each); 0.40-0.70 the mid ring and
0.70-1 the basal ring (60 degrees each: 7/1 anterior, 8/2 anteroseptal, 9/3 inferoseptal,
10/4 inferior, 11/5 inferolateral, 12/6 anterolateral). Walls (coronary territories, roughly): anterior
(LAD) segments 1, 7, 13; septal (LAD) 2, 3, 8, 9, 14; inferior (RCA) 4, 10, 15; lateral (LCx) 5, 6, 11,
12, 16; each wall's value is the mean of its segments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from spectfsl.core.quantify.axis import LVAxis, voxel_points
from spectfsl.core.quantify.geometry import ScanFrame
from spectfsl.errors import SpectfslError

RINGS, SECTORS = 40, 72
SAMPLE_MM = 1.0
APICAL_SHARE = 0.3
#: Polar radius where the apex (17) ends and the apical, mid and basal rings begin.
RING_EDGES = (0.12, 0.40, 0.70)
SAMPLINGS = ("max", "mean")
WALLS = {
    "anterior": (1, 7, 13),
    "septal": (2, 3, 8, 9, 14),
    "inferior": (4, 10, 15),
    "lateral": (5, 6, 11, 12, 16),
}


@dataclass(frozen=True)
class PolarMap:
    """`values` (RINGS x SECTORS): uptake in % of the map's maximum (NaN where nothing was sampled);
    ring i spans polar radius i/RINGS to (i+1)/RINGS (apex to base), sector j the angle
    j * 360/SECTORS to (j+1) * 360/SECTORS degrees, counter-clockwise from lateral (anterior at 90).
    `filled`: the cells whose ray met no myocardium and took the max-count search's value (None: none)."""

    values: np.ndarray
    filled: np.ndarray | None = None

    @property
    def filled_pct(self) -> float:
        """The share of the map (%) filled in by the max-count search."""
        return 0.0 if self.filled is None else float(self.filled.mean() * 100)

    def segments(self) -> dict[int, float | None]:
        """The 17 AHA segments' mean uptake (%) over the cells whose ray met the wall, or over the filled-in
        cells for a segment that has none; None for a segment with no value at all."""
        labels = segment_grid()
        measured = np.isfinite(self.values) if self.filled is None else np.isfinite(self.values) & ~self.filled
        means = {}
        for segment in range(1, 18):
            inside = labels == segment
            cells = self.values[inside & measured] if (inside & measured).any() else self.values[inside]
            cells = cells[np.isfinite(cells)]
            means[segment] = float(cells.mean()) if len(cells) else None
        return means

    def walls(self) -> dict[str, float | None]:
        """Mean of each wall's segments (%)."""
        segments = self.segments()
        out = {}
        for wall, members in WALLS.items():
            values = [segments[m] for m in members if segments[m] is not None]
            out[wall] = float(np.mean(values)) if values else None
        return out

    def extent_below(self, threshold_pct: float) -> float:
        """The share of the map (% of the cells whose ray met the myocardium, not those filled in by
        the max-count search, which lie beyond the wall) below `threshold_pct` of the maximum."""
        measured = np.isfinite(self.values) if self.filled is None else np.isfinite(self.values) & ~self.filled
        reached = self.values[measured]
        return float((reached < threshold_pct).mean() * 100) if len(reached) else float("nan")


def segment_grid(rings: int = RINGS, sectors: int = SECTORS) -> np.ndarray:
    """(rings, sectors) AHA segment numbers of the polar grid's cells."""
    radius = (np.arange(rings) + 0.5) / rings
    angle = (np.arange(sectors) + 0.5) * 360.0 / sectors
    r, a = np.meshgrid(radius, angle, indexing="ij")
    six = ((a - 60.0) % 360.0 // 60.0).astype(int)  # 0 anterior ... 5 anterolateral
    four = ((a - 45.0) % 360.0 // 90.0).astype(int)  # 0 anterior, 1 septal, 2 inferior, 3 lateral
    labels = np.where(r < RING_EDGES[0], 17, 0)
    labels = np.where((r >= RING_EDGES[0]) & (r < RING_EDGES[1]), 13 + four, labels)
    labels = np.where((r >= RING_EDGES[1]) & (r < RING_EDGES[2]), 7 + six, labels)
    return np.where(r >= RING_EDGES[2], 1 + six, labels)


def polar_map(
    counts: np.ndarray, myocardium: np.ndarray, frame: ScanFrame, axis: LVAxis, sampling: str = "max"
) -> PolarMap:
    """Sample `counts` ((slice, row, col)) along rays through the `myocardium` mask (see the module)."""
    if sampling not in SAMPLINGS:
        raise SpectfslError(f"sampling must be one of {', '.join(SAMPLINGS)}, got '{sampling}'")
    origins, directions = polar_rays(axis)
    reach = reach_mm(myocardium, frame, axis)
    distances = np.arange(0.0, reach + SAMPLE_MM, SAMPLE_MM)
    points = origins[:, :, None, :] + directions[:, :, None, :] * distances[None, None, :, None]
    positions = frame.to_array(points.reshape(-1, 3))[:, ::-1].T  # (slice, row, col) for map_coordinates
    values = ndimage.map_coordinates(counts.astype(np.float64), positions, order=1, mode="constant", cval=0.0)
    inside = ndimage.map_coordinates(myocardium.astype(np.float64), positions, order=1, mode="constant") >= 0.5
    shape = points.shape[:3]
    values, inside = values.reshape(shape), inside.reshape(shape)
    met = inside.any(axis=2)
    if not met.any():
        raise SpectfslError("no ray met the myocardium: the map cannot be quantified")
    if sampling == "max":
        raw = np.where(inside, values, -np.inf).max(axis=2)
    else:
        with np.errstate(invalid="ignore"):
            raw = np.where(inside, values, 0.0).sum(axis=2) / inside.sum(axis=2)
    raw = np.where(met, raw, _searched(values, inside, met))
    peak = np.nanmax(raw) if np.isfinite(raw).any() else np.nan
    if not np.isfinite(peak) or peak <= 0:
        raise SpectfslError("no ray met the myocardium with counts above 0: the map cannot be quantified")
    return PolarMap(raw / peak * 100.0, filled=~met)


def _searched(values: np.ndarray, inside: np.ndarray, met: np.ndarray) -> np.ndarray:
    """(rings, sectors): each ray's maximum count between the nearest and farthest sample at which its
    ring's rays met the myocardium (where no ray of the ring met it, the whole map's range)."""
    samples = np.arange(values.shape[2])
    first = np.where(met, inside.argmax(axis=2), samples[-1])
    last = np.where(met, samples[-1] - inside[..., ::-1].argmax(axis=2), 0)
    everywhere = (first[met].min(), last[met].max())
    searched = np.empty(met.shape)
    for ring in range(met.shape[0]):
        low, high = (first[ring, met[ring]].min(), last[ring, met[ring]].max()) if met[ring].any() else everywhere
        searched[ring] = values[ring, :, low : high + 1].max(axis=1)
    return searched


def polar_rays(axis: LVAxis, rings: int = RINGS, sectors: int = SECTORS) -> tuple[np.ndarray, np.ndarray]:
    """(rings, sectors, 3) origins and unit directions in LPS mm (see the module)."""
    radius = (np.arange(rings) + 0.5) / rings
    angle = np.radians((np.arange(sectors) + 0.5) * 360.0 / sectors)
    lateral = -axis.septal
    around = np.cos(angle)[:, None] * lateral + np.sin(angle)[:, None] * axis.anterior  # (sectors, 3)
    centre = axis.apex - axis.long * APICAL_SHARE * axis.length_mm
    origins = np.empty((rings, sectors, 3))
    directions = np.empty((rings, sectors, 3))
    for ring, r in enumerate(radius):
        if r < APICAL_SHARE:  # hemisphere: from straight at the apex (r = 0) to perpendicular
            tilt = r / APICAL_SHARE * np.pi / 2
            origins[ring] = centre
            directions[ring] = np.cos(tilt) * axis.long + np.sin(tilt) * around
        else:  # cylinder: perpendicular to the axis, from apex-side to base
            origins[ring] = axis.apex - axis.long * r * axis.length_mm
            directions[ring] = around
    return origins, directions


def reach_mm(myocardium: np.ndarray, frame: ScanFrame, axis: LVAxis) -> float:
    """How far a ray must go to leave the myocardium: its farthest voxel from the apical centre, plus
    a margin of two voxels."""
    points = voxel_points(frame, myocardium)
    centre = axis.apex - axis.long * APICAL_SHARE * axis.length_mm
    margin = 2 * float(np.linalg.norm(frame.matrix, axis=0).max())
    return float(np.linalg.norm(points - centre, axis=1).max()) + margin
