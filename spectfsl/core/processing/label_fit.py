"""Label maps on their scan: in the file's own voxel order, and checked to fit it.

A label map given as a plain array (`.npy`, PNG) is in its scan file's own voxel order, the order
pydicom (frame, row, column as stored) and nibabel (i, j, k, transposed to k, j, i) return, the same
convention as points; spectfsl may reorder a scan internally (negative slice spacing, L,P,I NIfTI)
and moves the map with it. A NIfTI or DICOM label map is placed by its own geometry, as its scan is.

A map that does not fit its scan is not read out silently: the LV wall it labels must be brighter
than the voxels around it (`WALL_CONTRAST` times their mean), and no simple reordering of the map
(slices reversed, rows or columns flipped, rows and columns swapped) may fit the scan far better
(`BETTER_FIT` times), as it does when a map was saved in another order than its scan's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage

from spectfsl.core.image import SpectImage, array_order
from spectfsl.core.processing.preprocess import normalise_intensity
from spectfsl.errors import SpectfslError

#: Suffixes of label maps that carry no geometry: plain arrays in their scan file's voxel order.
PLAIN_ARRAYS = (".npy", ".png")
#: Class names that mean the LV wall, whose contrast with its surroundings tells whether a map fits.
WALL_NAMES = ("myocardium", "lv_myocardium", "wall")
#: Fewer wall voxels than this are too few to judge a fit by (no LV wall is this small).
MIN_WALL_VOXELS = 50
#: Below this ratio of mean wall intensity to the mean around it, the map is refused.
WALL_CONTRAST = 1.0
#: A reordering of the map whose contrast is this many times the map's own names the map unfit: set
#: between correct real maps and reversed phantom maps (`benchmarks/readout_checks.py`).
BETTER_FIT = 1.3


def labels_on_scan(scan: SpectImage, labels: SpectImage) -> np.ndarray:
    """The label map's values on `scan`'s array grid (see the module)."""
    if Path(labels.source).name.lower().endswith(PLAIN_ARRAYS):
        return array_order(scan, labels.pixels)
    return labels.pixels


def wall_contrast(normalised: np.ndarray, wall: np.ndarray, labelled: np.ndarray) -> float:
    """Mean normalised intensity in `wall` over the mean in the two voxels around it that no class
    labels; NaN where there is no wall or nothing around it."""
    around = ndimage.binary_dilation(wall, iterations=2) & ~labelled
    if not wall.any() or not around.any():
        return float("nan")
    return float(normalised[wall].mean() / max(float(normalised[around].mean()), 1e-6))


def reorderings(array: np.ndarray) -> dict[str, np.ndarray]:
    """The simple reorderings a map saved in another order than its scan's shows: a volume's slices
    reversed, rows or columns flipped, and rows and columns swapped where they are as many."""
    out = {"with its rows flipped": array[..., ::-1, :], "with its columns flipped": array[..., ::-1]}
    if array.ndim == 3:
        out["with its slices reversed"] = array[::-1]
    if array.shape[-1] == array.shape[-2]:
        out["with rows and columns swapped"] = np.swapaxes(array, -1, -2)
    return out


def check_fit(scan: SpectImage, label_ids: np.ndarray, wall_id: int, name: str) -> str | None:
    """Refuse (exit 2) a label map (`name`, for messages) whose wall (id `wall_id`) is no brighter than
    its surroundings in `scan`; a warning (or None) when a reordering of it fits the scan far better.
    A wall of fewer than `MIN_WALL_VOXELS` voxels is not judged."""
    if int((label_ids == wall_id).sum()) < MIN_WALL_VOXELS:
        return None
    normalised = normalise_intensity(scan.pixels)
    given = wall_contrast(normalised, label_ids == wall_id, label_ids > 0)
    if not np.isfinite(given):
        return None
    others = {how: wall_contrast(normalised, ids == wall_id, ids > 0) for how, ids in reorderings(label_ids).items()}
    how, best = max(others.items(), key=lambda item: item[1] if np.isfinite(item[1]) else -1.0)
    better = f"; it fits the scan far better {how} (contrast {best:.2f}): is it in the scan file's own voxel order?"
    fits_better = np.isfinite(best) and best > BETTER_FIT * given
    if given < WALL_CONTRAST:
        raise SpectfslError(
            f"{name}: its LV wall is no brighter than its surroundings in {scan.label} (contrast {given:.2f}): "
            f"the label map does not fit the scan{better if fits_better else ''}"
        )
    if fits_better:
        return f"{name}: its LV wall shows a contrast of {given:.2f} in {scan.label}, but {better[2:]}"
    return None


def warn_if_unfit(scan: SpectImage, label_ids: np.ndarray, classes: dict[int, str], name: str) -> None:
    """`check_fit` for a volume's label map whose classes (`{id: name}`) name an LV wall; its warning as
    a SpectfslWarning. Maps of other classes, and 2D ones, are not checked."""
    import warnings

    from spectfsl.errors import SpectfslWarning

    wall = next((i for i, class_name in classes.items() if class_name.lower() in WALL_NAMES), None)
    if wall is None or scan.pixels.ndim != 3 or label_ids.shape != scan.pixels.shape:
        return
    note = check_fit(scan, label_ids, wall, name)
    if note:
        warnings.warn(note, SpectfslWarning, stacklevel=3)
