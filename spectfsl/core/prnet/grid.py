"""The PRNet grid: images normalised like `prepare` and resampled to the model's pixel size.

A grid image is 2D (rows, cols) or, for 3D models, a volume (slices, rows, cols) with cubic voxels.
Points are (x, y) or (x, y, z) array positions (x = column, y = row, z = slice, 0-based); `GridImage`
converts between the source image's array positions and the model grid's, and patches are cut from
the grid (bi- or trilinearly).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from spectfsl.core.files.loader import BadInput, load_image, load_plane
from spectfsl.core.image import SpectImage
from spectfsl.core.processing.preprocess import normalised, resample_plane
from spectfsl.errors import SpectfslError

#: Normalised intensity above which a pixel is inside the body (training pairs, locate's starts).
BODY_THRESHOLD = 0.1


@dataclass
class GridImage:
    """A 2D image or 3D volume on the model grid: normalised pixels at `pixel_mm`, and how source
    array positions map to it."""

    pixels: np.ndarray
    source: SpectImage
    scale: tuple[float, ...]  # model pixels per source pixel, per array axis ([slice,] row, col)

    @property
    def dims(self) -> int:
        return self.pixels.ndim

    def _factor(self) -> np.ndarray:
        return np.array(self.scale[::-1])  # (x, y[, z]) order

    def to_model(self, xy: np.ndarray) -> np.ndarray:
        """Source position (x, y[, z]) -> model position (pixel centres map exactly)."""
        return (np.asarray(xy, dtype=np.float64) + 0.5) * self._factor() - 0.5

    def to_source(self, xy: np.ndarray) -> np.ndarray:
        """Model position (x, y[, z]) -> source position."""
        return (np.asarray(xy, dtype=np.float64) + 0.5) / self._factor() - 0.5

    def source_mm(self, xy: np.ndarray) -> np.ndarray | None:
        """Source position -> mm from the array's first voxel centre, or None when spacing is unknown."""
        spacing = self.source.pixel_spacing_mm
        if spacing is None or (self.dims == 3 and self.source.slice_spacing_mm is None):
            return None
        along = [spacing[1], spacing[0]] + ([self.source.slice_spacing_mm] if self.dims == 3 else [])
        return np.asarray(xy, dtype=np.float64) * np.array(along)


def reference_level(grid: GridImage, xy) -> float:
    """The normalised intensity at a point (the file's voxel indices x, y[, z]) of a grid image's
    source: below BODY_THRESHOLD the point lies in background."""
    position = grid.source.array_index(*xy)[: grid.dims]  # (column, row[, slice])
    index = tuple(int(np.clip(round(v), 0, n - 1)) for v, n in zip(position[::-1], grid.source.pixels.shape))
    return float(grid.source.pixels[index])


def to_grid(plane: SpectImage, pixel_mm: float) -> GridImage:
    """Resample a normalised 2D image to `pixel_mm` (unknown spacing: taken as already `pixel_mm`)."""
    if plane.pixel_spacing_mm is None:
        return GridImage(plane.pixels.astype(np.float32), plane, (1.0, 1.0))
    pixels, _ = resample_plane(plane.pixels, plane.pixel_spacing_mm, pixel_mm)
    scale = (pixels.shape[0] / plane.pixels.shape[0], pixels.shape[1] / plane.pixels.shape[1])
    return GridImage(pixels, plane, scale)


def to_grid_volume(volume: SpectImage, pixel_mm: float) -> GridImage:
    """Resample a normalised volume to cubic `pixel_mm` voxels (trilinear; outside is 0). A volume
    without spacing is taken as already on the grid."""
    from scipy import ndimage

    if not volume.is_volume:
        raise SpectfslError(f"{volume.label}: a 3D model needs a volume, not a 2D image")
    if volume.pixel_spacing_mm is None or volume.slice_spacing_mm is None:
        return GridImage(volume.pixels.astype(np.float32), volume, (1.0, 1.0, 1.0))
    spacing = (volume.slice_spacing_mm, *volume.pixel_spacing_mm)
    shape = [max(1, int(round(n * s / pixel_mm))) for n, s in zip(volume.pixels.shape, spacing)]
    zoom = [out / n for out, n in zip(shape, volume.pixels.shape)]
    pixels = ndimage.zoom(volume.pixels, zoom, order=1, mode="grid-constant", grid_mode=True)
    return GridImage(pixels.astype(np.float32), volume, tuple(zoom))


def grid_volumes(images: Iterable[SpectImage], pixel_mm: float) -> list[GridImage]:
    """Every volume of `images`, normalised and resampled to cubic voxels (3D models)."""
    return [to_grid_volume(normalised(image), pixel_mm) for image in images]


def grid_images(images: Iterable[SpectImage], pixel_mm: float) -> list[GridImage]:
    """Every 2D slice of `images`, normalised per scan and resampled to the model grid."""
    return [to_grid(plane, pixel_mm) for image in images for plane in normalised(image).slices()]


def grid_entries(
    images: Iterable[SpectImage | BadInput], pixel_mm: float, skip_bad: bool = False, dims: int = 2
) -> Iterator[GridImage | BadInput]:
    """Every 2D slice of `images` (or, with `dims` 3, every volume) on the model grid, lazily, with
    bad inputs (`--skip-bad`) kept in their place; with `skip_bad`, an image that cannot be put on
    the grid becomes one too (else its error stops the run)."""
    for image in images:
        if isinstance(image, BadInput):
            yield image
            continue
        try:
            if dims == 3:
                planes = [to_grid_volume(normalised(image), pixel_mm)]
            else:
                planes = [to_grid(plane, pixel_mm) for plane in normalised(image).slices()]
        except SpectfslError as error:
            if not skip_bad:
                raise
            yield BadInput(image.source, str(error))
            continue
        yield from planes


def load_grid(spec: str | os.PathLike, pixel_mm: float) -> GridImage:
    """Load one 2D image (`PATH@N` for a frame of a volume) onto the model grid."""
    return to_grid(normalised(load_plane(spec)), pixel_mm)


def load_grid_volume(spec: str | os.PathLike, pixel_mm: float) -> GridImage:
    """Load one volume onto the cubic model grid (3D models)."""
    return to_grid_volume(normalised(load_image(spec)), pixel_mm)


def stack(grids: list[GridImage]) -> torch.Tensor:
    """(N, 1, *spatial) tensor of grid images, zero-padded at the far end of each axis to a common size."""
    shape = [max(g.pixels.shape[axis] for g in grids) for axis in range(grids[0].dims)]
    batch = torch.zeros(len(grids), 1, *shape)
    for index, grid in enumerate(grids):
        batch[(index, 0, *(slice(0, n) for n in grid.pixels.shape))] = torch.from_numpy(grid.pixels)
    return batch


def extract_patches(images: torch.Tensor, centres: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, 1, H, W) images and (B, 2) centres (x, y), or (B, 1, D, H, W) volumes and (B, 3) centres
    (x, y, z), in model pixels (fractional) -> (B, 1, P, P[, P]) patches.

    Bi- or trilinear sampling; outside the image is zero.
    """
    dims = images.ndim - 2
    sizes = images.shape[2:][::-1]  # (W, H[, D]): the order of the centres' coordinates
    offsets = torch.arange(patch, dtype=centres.dtype, device=centres.device) - (patch - 1) / 2
    axes = []
    for axis in range(dims):
        normalised_positions = (2 * (centres[:, axis, None] + offsets) + 1) / sizes[axis] - 1  # (B, P)
        view = [len(centres)] + [1] * dims
        view[dims - axis] = patch  # x varies along the last patch axis, z along the first
        axes.append(normalised_positions.view(view))
    grid = torch.stack(torch.broadcast_tensors(*axes), dim=-1)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
