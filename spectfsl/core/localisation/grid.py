"""The PRNet grid: images normalised like `prepare` and resampled to the model's pixel size.

Points are (x, y) in pixels (x = column, y = row, 0-based); `GridImage` converts between the
source image's pixels and the model grid's, and patches are cut from the grid bilinearly.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from spectfsl.core.files.loader import BadInput, load_plane
from spectfsl.core.image import SpectImage
from spectfsl.core.imaging.preprocess import normalised, resample_plane
from spectfsl.errors import SpectfslError

#: Normalised intensity above which a pixel is inside the body (training pairs, locate's starts).
BODY_THRESHOLD = 0.1


@dataclass
class GridImage:
    """A 2D image on the model grid: normalised pixels at `pixel_mm`, and how source pixels map to it."""

    pixels: np.ndarray
    source: SpectImage
    scale: tuple[float, float]  # model pixels per source pixel, (row, col)

    def to_model(self, xy: np.ndarray) -> np.ndarray:
        """Source pixel (x, y) -> model pixel (x, y) (pixel centres map exactly)."""
        xy = np.asarray(xy, dtype=np.float64)
        factor = np.array([self.scale[1], self.scale[0]])
        return (xy + 0.5) * factor - 0.5

    def to_source(self, xy: np.ndarray) -> np.ndarray:
        """Model pixel (x, y) -> source pixel (x, y)."""
        factor = np.array([self.scale[1], self.scale[0]])
        return (np.asarray(xy, dtype=np.float64) + 0.5) / factor - 0.5

    def source_mm(self, xy: np.ndarray) -> np.ndarray | None:
        """Source pixel (x, y) -> mm from the image's first pixel centre, or None when spacing is unknown."""
        spacing = self.source.pixel_spacing_mm
        if spacing is None:
            return None
        return np.asarray(xy, dtype=np.float64) * np.array([spacing[1], spacing[0]])


def to_grid(plane: SpectImage, pixel_mm: float) -> GridImage:
    """Resample a normalised 2D image to `pixel_mm` (unknown spacing: taken as already `pixel_mm`)."""
    if plane.pixel_spacing_mm is None:
        return GridImage(plane.pixels.astype(np.float32), plane, (1.0, 1.0))
    pixels, _ = resample_plane(plane.pixels, plane.pixel_spacing_mm, pixel_mm)
    scale = (pixels.shape[0] / plane.pixels.shape[0], pixels.shape[1] / plane.pixels.shape[1])
    return GridImage(pixels, plane, scale)


def grid_images(images: Iterable[SpectImage], pixel_mm: float) -> list[GridImage]:
    """Every 2D slice of `images`, normalised per scan and resampled to the model grid."""
    return [to_grid(plane, pixel_mm) for image in images for plane in normalised(image).slices()]


def grid_entries(
    images: Iterable[SpectImage | BadInput], pixel_mm: float, skip_bad: bool = False
) -> Iterator[GridImage | BadInput]:
    """Every 2D slice of `images` on the model grid, lazily, with bad inputs (`--skip-bad`) kept in
    their place; with `skip_bad`, an image that cannot be put on the grid becomes one too (else its
    error stops the run)."""
    for image in images:
        if isinstance(image, BadInput):
            yield image
            continue
        try:
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


def stack(grids: list[GridImage]) -> torch.Tensor:
    """(N, 1, H, W) tensor of grid images, zero-padded at the bottom and right to a common size."""
    height = max(g.pixels.shape[0] for g in grids)
    width = max(g.pixels.shape[1] for g in grids)
    batch = torch.zeros(len(grids), 1, height, width)
    for index, grid in enumerate(grids):
        rows, cols = grid.pixels.shape
        batch[index, 0, :rows, :cols] = torch.from_numpy(grid.pixels)
    return batch


def extract_patches(images: torch.Tensor, centres: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, 1, H, W) images and (B, 2) centres (x, y, model pixels, fractional) -> (B, 1, P, P) patches.

    Bilinear sampling; outside the image is zero.
    """
    _, _, height, width = images.shape
    offsets = torch.arange(patch, dtype=centres.dtype, device=centres.device) - (patch - 1) / 2
    xs = centres[:, 0, None] + offsets  # (B, P)
    ys = centres[:, 1, None] + offsets
    grid_x = (2 * xs + 1) / width - 1
    grid_y = (2 * ys + 1) / height - 1
    grid = torch.stack(torch.broadcast_tensors(grid_x[:, None, :], grid_y[:, :, None]), dim=-1)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
