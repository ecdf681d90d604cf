"""The one image type every later step takes, whatever file format it came from."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from spectfsl.errors import SpectfslWarning


@dataclass(frozen=True)
class FileGeometry:
    """How an image's array maps to its file's own voxel indices, and those to patient coordinates.

    A file's voxel index is (x, y, z): DICOM column, row, frame; NIfTI i, j, k as stored; NumPy the
    array's last, second-to-last and first axes. spectfsl's array is (slices, rows, cols) with rows
    and cols possibly flipped against the file's y and x (NIfTI files are flipped towards L, P, S
    so that anatomy faces the same way as in DICOM), and slices mapped to file frames by
    `SpectImage.frames`. `affine` (4 x 4) maps a file voxel index (x, y, z, 1) to patient coordinates
    in mm in `space`: "LPS" for DICOM, "RAS" (the NIfTI scanner space) for NIfTI; None where the file
    does not say.
    """

    flip_x: bool = False
    flip_y: bool = False
    affine: np.ndarray | None = None
    space: str | None = None


@dataclass(frozen=True)
class SpectImage:
    """A 2D slice or 3D volume with its geometry and provenance.

    `pixels` is float32, (rows, cols) or (slices, rows, cols). Spacings are in mm, None when the file
    does not record them. `frame` is the file's 0-based frame index when this is one frame of a
    multi-frame file; `frames` gives, for a volume, the file frame index of each slice (slices may be
    reordered, see `spectfsl.core.files.dicom`). `normalisation` names the intensity normalisation already
    applied (None for raw counts). `gate` is the 1-based gate (time slot) when this volume is one gate
    of an ECG-gated study (`GatedImage`).
    """

    pixels: np.ndarray
    pixel_spacing_mm: tuple[float, float] | None
    slice_spacing_mm: float | None
    source: str
    patient: str
    frame: int | None = None
    frames: tuple[int, ...] | None = None
    normalisation: str | None = None
    geometry: FileGeometry = FileGeometry()
    gate: int | None = None

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

    def with_voxel_mm(self, mm: float | None) -> SpectImage:
        """The same image with cubic voxels of `mm` (a file whose header spacing is a placeholder);
        itself when `mm` is None. The file geometry (for outputs that overlay it) is kept."""
        if mm is None:
            return self
        return replace(self, pixel_spacing_mm=(mm, mm), slice_spacing_mm=mm if self.is_volume else None)

    def with_pixels(self, pixels: np.ndarray) -> SpectImage:
        """The same image (geometry, provenance) with other pixel values, as float32."""
        return replace(self, pixels=np.ascontiguousarray(pixels, dtype=np.float32))

    def file_index(self, column: float, row: float, slice_index: float | None = None) -> tuple[float, float, float]:
        """Array position (column, row[, slice]) -> the file's own voxel index (x, y, z). For a 2D
        image z is its file frame (0 for a 2D file); for a volume, `slice_index` is required."""
        rows, cols = self.pixels.shape[-2:]
        x = cols - 1 - column if self.geometry.flip_x else column
        y = rows - 1 - row if self.geometry.flip_y else row
        if self.is_volume:
            if slice_index is None:
                raise ValueError("a volume position needs its slice index")
            return x, y, self._frame_at(slice_index)
        return x, y, float(self.frame or 0)

    def array_index(self, x: float, y: float, z: float | None = None) -> tuple[float, float, float | None]:
        """The file's voxel index (x, y[, z]) -> array position (column, row, slice); slice is None for a
        2D image."""
        rows, cols = self.pixels.shape[-2:]
        column = cols - 1 - x if self.geometry.flip_x else x
        row = rows - 1 - y if self.geometry.flip_y else y
        if not self.is_volume:
            return column, row, None
        if z is None:
            raise ValueError("a volume position needs its z")
        frames = self.frames or (0,)
        step = frames[1] - frames[0] if len(frames) > 1 else 1
        return column, row, (z - frames[0]) / step

    def _frame_at(self, slice_index: float) -> float:
        """The file frame of array slice `slice_index` (fractional between slices); frames are evenly
        numbered, forwards or backwards."""
        frames = self.frames or tuple(range(self.n_frames))
        step = frames[1] - frames[0] if len(frames) > 1 else 1
        return frames[0] + slice_index * step

    def file_mm(self, x: float, y: float, z: float | None = None) -> tuple[float | None, ...]:
        """A file voxel index in mm from the centre of the file's first voxel (index 0) along the file's
        own axes; None per axis where the spacing is unknown."""
        row_mm, col_mm = self.pixel_spacing_mm or (None, None)
        values = [x * col_mm if col_mm else None, y * row_mm if row_mm else None]
        if z is not None:
            values.append(z * self.slice_spacing_mm if self.slice_spacing_mm else None)
        return tuple(values)

    def patient_mm(self, x: float, y: float, z: float = 0.0) -> tuple[float, float, float] | None:
        """A file voxel index in patient coordinates (mm, in `geometry.space`), or None when unknown."""
        if self.geometry.affine is None:
            return None
        point = self.geometry.affine @ np.array([x, y, z, 1.0])
        return float(point[0]), float(point[1]), float(point[2])

    @property
    def label(self) -> str:
        """`source`, `source@frame` or `source@gN`: how a user would name this image on the command line."""
        if self.gate is not None:
            return f"{self.source}@g{self.gate}"
        return self.source if self.frame is None else f"{self.source}@{self.frame}"


#: Gates an ECG-gated study may have (scanners use 8 or 16; a 4th axis outside this is not gates).
MIN_GATES, MAX_GATES = 4, 32


@dataclass(frozen=True)
class GatedImage:
    """An ECG-gated study: one volume per gate (time slot of the cardiac cycle), all on one grid.

    `gates[n - 1]` is gate n (1-based, as scanners number time slots), a volume whose `gate` is n and
    whose geometry and spacing are the study's. Counts are per gate; `summed()` is the study's
    perfusion image (what clinicians read perfusion from).
    """

    gates: tuple[SpectImage, ...]

    def __post_init__(self) -> None:
        shapes = {gate.pixels.shape for gate in self.gates}
        if len(shapes) != 1 or not self.gates[0].is_volume:
            raise ValueError("a gated study's gates must be volumes of one shape")

    @property
    def n_gates(self) -> int:
        return len(self.gates)

    @property
    def source(self) -> str:
        return self.gates[0].source

    @property
    def label(self) -> str:
        return self.source

    @property
    def patient(self) -> str:
        return self.gates[0].patient

    def gate(self, number: int) -> SpectImage:
        """Gate `number` (1-based) as a plain volume."""
        if not 1 <= number <= self.n_gates:
            raise IndexError(number)
        return self.gates[number - 1]

    def summed(self) -> SpectImage:
        """The sum of the gates: the study's ungated perfusion volume (counts)."""
        total = np.sum([gate.pixels for gate in self.gates], axis=0, dtype=np.float64)
        return replace(self.gates[0], pixels=total.astype(np.float32), gate=None)

    def with_voxel_mm(self, mm: float | None) -> GatedImage:
        """Every gate with cubic voxels of `mm` (see `SpectImage.with_voxel_mm`)."""
        return self if mm is None else GatedImage(tuple(gate.with_voxel_mm(mm) for gate in self.gates))


#: A scan this small with exactly 1 mm voxels probably carries a placeholder spacing.
PLACEHOLDER_MATRIX = 64


def placeholder_spacing(image: SpectImage) -> bool:
    """Whether the image's voxel size looks like a placeholder: exactly 1 mm on a small matrix (a heart
    crop of 32 voxels cannot be 32 mm across)."""
    spacing = [*(image.pixel_spacing_mm or ()), *([image.slice_spacing_mm] if image.is_volume else [])]
    known = image.pixel_spacing_mm is not None
    return known and all(s in (None, 1.0) for s in spacing) and max(image.pixels.shape) <= PLACEHOLDER_MATRIX


def placeholder_note(
    image: SpectImage, remedy: str = "give {pixel_mm} with the true voxel size"
) -> SpectfslWarning | None:
    """One line naming a file whose voxel size looks like a placeholder, and what to do (`remedy` may
    name the `{pixel_mm}` setting); None otherwise."""
    if not placeholder_spacing(image):
        return None
    shape = " x ".join(str(n) for n in image.pixels.shape)
    return SpectfslWarning(
        f"{image.source}: 1 mm voxels on a {shape} scan look like a placeholder spacing: sizes in mm and ml "
        f"from it are not physical; {remedy}",
        settings="pixel_mm",
    )


def file_order(image: SpectImage, array: np.ndarray) -> np.ndarray:
    """An array on `image`'s array grid -> the same values in the file's own voxel order ((frames,)
    rows, cols): DICOM frame, row, column as stored; NIfTI k, j, i (nibabel's array transposed)."""
    out = array[..., ::-1] if image.geometry.flip_x else array
    out = out[..., ::-1, :] if image.geometry.flip_y else out
    if image.is_volume and image.frames is not None:
        ordered = np.empty_like(out)
        ordered[np.asarray(image.frames) - min(image.frames)] = out
        out = ordered
    return np.ascontiguousarray(out)


def array_order(image: SpectImage, array: np.ndarray) -> np.ndarray:
    """An array in the file's own voxel order (as `file_order` gives it, as pydicom and nibabel return
    a file's voxels) -> `image`'s array grid: the inverse of `file_order`."""
    if array.shape != image.pixels.shape:
        return array  # a shape mismatch is reported where the two are paired
    out = array
    if image.is_volume and image.frames is not None:
        out = out[np.asarray(image.frames) - min(image.frames)]
    out = out[..., ::-1, :] if image.geometry.flip_y else out
    out = out[..., ::-1] if image.geometry.flip_x else out
    return np.ascontiguousarray(out)


def as_volume(study: SpectImage | GatedImage) -> SpectImage:
    """An image as one volume: a gated study as the sum of its gates, said once on stderr (a
    SpectfslWarning naming the file); any other image as it is."""
    if not isinstance(study, GatedImage):
        return study
    warnings.warn(
        f"{study.source}: a gated study of {study.n_gates} gates, read as their sum "
        f"(name one gate as {Path(study.source).name}@gN)",
        SpectfslWarning,
        stacklevel=2,
    )
    return study.summed()
