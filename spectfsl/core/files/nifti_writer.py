"""NIfTI files on an input's own voxel grid: label maps that overlay the input, and any volume.

spectfsl's arrays may be flipped and their slices reordered against the file (see
`spectfsl.core.image.FileGeometry`); `file_order` undoes that, so voxel (i, j, k) of the label map
is voxel (i, j, k) of the input: NIfTI i, j, k; DICOM column, row, frame; NPY last, second-to-last
and first axes. The NIfTI affine is the input's (a NIfTI input), its DICOM geometry turned from LPS
to RAS (a DICOM input), or the voxel size alone where the file has no geometry.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from spectfsl.core.files.atomic import atomic_file
from spectfsl.core.image import GatedImage, SpectImage, file_order

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def nifti_affine(image: SpectImage) -> np.ndarray:
    """The affine of a label map in the file's voxel order: (i, j, k) = (column, row, frame) -> RAS mm."""
    affine = image.geometry.affine
    if affine is not None:
        return affine.copy() if image.geometry.space == "RAS" else LPS_TO_RAS @ affine
    row_mm, col_mm = image.pixel_spacing_mm or (1.0, 1.0)
    return np.diag([col_mm, row_mm, image.slice_spacing_mm or 1.0, 1.0])


def write_label_nifti(path: str | os.PathLike, image: SpectImage | GatedImage, label_ids: np.ndarray) -> None:
    """Write `label_ids` (uint8, on `image`'s array grid; for a gated study (gates, slices, rows, cols))
    as a NIfTI that overlays the input file (atomic): a gated study's map is 4D (i, j, k, gate)."""
    write_nifti_on_grid(path, image, label_ids, np.uint8)


def write_nifti_on_grid(
    path: str | os.PathLike, image: SpectImage | GatedImage, values: np.ndarray, dtype: type = np.float32
) -> None:
    """Write `values` (on `image`'s array grid; a gated study's (gates, slices, rows, cols)) as a NIfTI of
    `dtype` in the file's voxel order with its geometry (atomic); a gated study's is 4D (i, j, k, gate)."""
    import nibabel as nib

    if isinstance(image, GatedImage):
        gates = [file_order(gate, np.asarray(v).astype(dtype)).T for gate, v in zip(image.gates, values)]
        data, image = np.stack(gates, axis=-1), image.gates[0]  # (i, j, k, gate)
    else:
        data = file_order(image, np.asarray(values).astype(dtype)).T  # (i, j[, k])
    nifti = nib.Nifti1Image(np.ascontiguousarray(data), nifti_affine(image))
    nifti.header.set_data_dtype(dtype)
    save_nifti(path, nifti)


def save_nifti(path: str | os.PathLike, nifti) -> None:
    """Write a nibabel image atomically, gzipped (reproducibly: no time stamp) when `path` ends in .gz."""
    nifti.header.set_xyzt_units("mm")
    data = nifti.to_bytes()
    if str(path).lower().endswith(".gz"):
        data = gzip.compress(data, compresslevel=6, mtime=0)
    with atomic_file(path) as temporary:
        Path(temporary).write_bytes(data)
