"""The intensity-threshold baseline: myocardium = the largest connected region above a fraction of
the 99.5th percentile (tuned on the support scans); cavity = the convex hull of that region, slice
by slice, minus the region (as `--derive-from` makes it from an expert wall)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from spectfsl.core.processing.masks import derive_from_wall
from spectfsl.core.segment.metrics import dice

#: Fractions of the normalised intensity (1 = the 99.5th percentile) tried when tuning.
FRACTIONS = tuple(round(f, 2) for f in np.arange(0.20, 0.91, 0.05))


def threshold_wall(pixels: np.ndarray, fraction: float) -> np.ndarray:
    """The largest connected region of normalised `pixels` at or above `fraction`."""
    above = pixels >= fraction
    regions, count = ndimage.label(above)
    if count == 0:
        return above
    sizes = np.bincount(regions.ravel())[1:]
    return regions == 1 + int(np.argmax(sizes))


def tune_fraction(scans: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
    """The fraction whose wall has the best mean Dice against the support scans' (pixels, wall mask)."""
    scores = [np.mean([dice(threshold_wall(pixels, f), wall) for pixels, wall in scans]) for f in FRACTIONS]
    return FRACTIONS[int(np.argmax(scores))]


def threshold_cavity(wall: np.ndarray, spacing_mm: tuple[float, float]) -> np.ndarray:
    """The convex hull of the wall, slice by slice, minus the wall."""
    field = np.ones_like(wall, dtype=bool)
    return derive_from_wall(wall, field, spacing_mm)["ventricles"]
