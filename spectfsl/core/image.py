"""The one image type every later step takes, whatever file format it came from."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class SpectImage:
    """A 2D slice or 3D volume with its geometry and provenance.

    `pixels` is float32, (rows, cols) or (slices, rows, cols). Spacings are in mm, None when the file
    does not record them. `frame` is the file's 0-based frame index when this is one frame of a
    multi-frame file; `frames` gives, for a volume, the file frame index of each slice (slices may be
    reordered, see `spectfsl.core.files.dicom`). `normalisation` names the intensity normalisation already
    applied (None for raw counts).
    """

    pixels: np.ndarray
    pixel_spacing_mm: tuple[float, float] | None
    slice_spacing_mm: float | None
    source: str
    patient: str
    frame: int | None = None
    frames: tuple[int, ...] | None = None
    normalisation: str | None = None

    @property
    def is_volume(self) -> bool:
        return self.pixels.ndim == 3

    @property
    def n_frames(self) -> int:
        return self.pixels.shape[0] if self.is_volume else 1

    def slice_at(self, index: int) -> SpectImage:
        """The 2D image at array slice `index` of a volume (frame = its file frame index)."""
        if not self.is_volume:
            return self
        frame = self.frames[index] if self.frames is not None else index
        return replace(self, pixels=self.pixels[index], frame=frame, frames=None)

    def slices(self) -> Iterator[SpectImage]:
        """Every 2D image: the slices of a volume, in array order, or the image itself."""
        for index in range(self.n_frames):
            yield self.slice_at(index)

    def with_pixels(self, pixels: np.ndarray) -> SpectImage:
        """The same image (geometry, provenance) with other pixel values, as float32."""
        return replace(self, pixels=np.ascontiguousarray(pixels, dtype=np.float32))

    @property
    def label(self) -> str:
        """`source` or `source@frame`: how a user would name this image on the command line."""
        return self.source if self.frame is None else f"{self.source}@{self.frame}"
