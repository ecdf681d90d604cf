"""Intensity normalisation and resampling shared by `prepare`, the classifiers and PRNet.

Intensities: SPECT counts vary by orders of magnitude between scans, so each scan is divided by the
99.5th percentile of its non-zero voxels (that value maps to 1), negatives are set to 0 and values
are clipped at 2 (saturated or hot edge pixels). Geometry: images are resampled to a common pixel
size in mm so that tissue keeps its physical size across scanners.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import ndimage

from spectfsl.core.image import SpectImage

NORMALISATION = "p99.5-nonzero"
NORMALISATION_PERCENTILE = 99.5
NORMALISED_MAX = 2.0


def intensity_scale(pixels: np.ndarray) -> float:
    """The value that maps to 1: the 99.5th percentile of the non-zero (positive) voxels."""
    positive = pixels[pixels > 0]
    if positive.size == 0:
        return 1.0
    scale = float(np.percentile(positive, NORMALISATION_PERCENTILE))
    return scale if scale > 0 else 1.0


def normalise_intensity(pixels: np.ndarray, scale: float | None = None) -> np.ndarray:
    """Counts -> unitless intensities: divide by `scale` (default `intensity_scale`), clip to [0, 2]."""
    scale = intensity_scale(pixels) if scale is None else scale
    return np.clip(pixels / scale, 0.0, NORMALISED_MAX).astype(np.float32)


def sample_window(
    plane: np.ndarray,
    top_left: tuple[float, float],
    window: tuple[float, float],
    out_shape: tuple[int, int],
    order: int = 1,
) -> np.ndarray:
    """Resample the window (row0, col0, height, width, in source pixels) of a 2D plane onto `out_shape`.

    Pixel centres are mapped exactly (no half-pixel shift); outside the plane is zero-padded. A window
    at whole-pixel offsets and of the output's size is copied, not interpolated (the same values, 10x
    faster: a `prepare` crop read back at its own size and spacing takes this path).
    """
    if tuple(window) == tuple(out_shape) and all(float(t).is_integer() for t in top_left):
        return _shifted_copy(plane, (int(top_left[0]), int(top_left[1])), out_shape)
    rows = top_left[0] + (np.arange(out_shape[0]) + 0.5) * window[0] / out_shape[0] - 0.5
    cols = top_left[1] + (np.arange(out_shape[1]) + 0.5) * window[1] / out_shape[1] - 0.5
    grid = np.meshgrid(rows, cols, indexing="ij")
    return ndimage.map_coordinates(plane, grid, order=order, mode="constant", cval=0.0).astype(np.float32)


def _shifted_copy(plane: np.ndarray, top_left: tuple[int, int], out_shape: tuple[int, int]) -> np.ndarray:
    """plane[row0 : row0 + height, col0 : col0 + width] as float32, zero where it falls outside the plane."""
    out = np.zeros(out_shape, dtype=np.float32)
    (row0, col0), (rows, cols) = top_left, plane.shape
    source_rows = slice(max(row0, 0), min(row0 + out_shape[0], rows))
    source_cols = slice(max(col0, 0), min(col0 + out_shape[1], cols))
    if source_rows.start < source_rows.stop and source_cols.start < source_cols.stop:
        out[source_rows.start - row0 : source_rows.stop - row0, source_cols.start - col0 : source_cols.stop - col0] = (
            plane[source_rows, source_cols]
        )
    return out


def resample_plane(
    plane: np.ndarray, spacing_mm: tuple[float, float], target_mm: float, order: int = 1
) -> tuple[np.ndarray, tuple[float, float]]:
    """Resample a whole 2D plane to `target_mm` pixels; returns it and its exact spacing in mm."""
    out_shape = tuple(max(1, int(round(n * s / target_mm))) for n, s in zip(plane.shape, spacing_mm))
    resampled = sample_window(plane, (0.0, 0.0), plane.shape, out_shape, order=order)
    exact = tuple(n * s / m for n, s, m in zip(plane.shape, spacing_mm, out_shape))
    return resampled, exact


def window_px(spacing_mm: tuple[float, float] | None, window_mm: float, size: int) -> tuple[int, int]:
    """A window of `window_mm` per side in source pixels, or `size` pixels when the spacing is unknown."""
    if spacing_mm is None:
        return (size, size)
    return tuple(max(1, int(round(window_mm / s))) for s in spacing_mm)


def normalised(image: SpectImage) -> SpectImage:
    """`image` with normalised intensities (whole volume at once), unless it already is normalised."""
    if image.normalisation is not None:
        return image
    return replace(image.with_pixels(normalise_intensity(image.pixels)), normalisation=NORMALISATION)


def centred_window(plane: SpectImage, size: int, spacing_mm: float | None) -> np.ndarray:
    """The central `size` x `spacing_mm` mm window of a 2D image, resampled to (size, size) pixels.

    Without a target spacing (or a known image spacing) the window is `size` source pixels. A crop
    written by `prepare` with the same size and spacing comes back unchanged.
    """
    known = plane.pixel_spacing_mm if spacing_mm is not None else None
    window = window_px(known, size * (spacing_mm or 0.0), size)
    rows, cols = plane.pixels.shape
    top_left = ((rows - window[0]) / 2, (cols - window[1]) / 2)
    return sample_window(plane.pixels, top_left, window, (size, size))
