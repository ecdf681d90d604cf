"""Where an array position lies in the patient: LPS millimetres (x to the patient's left, y posterior,
z superior), whatever the file's own orientation, so that "anterior" and "the patient's right" mean
the same for every scan."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectfsl.core.image import SpectImage

#: Patient directions in LPS.
RIGHT = np.array([-1.0, 0.0, 0.0])
ANTERIOR = np.array([0.0, -1.0, 0.0])
SUPERIOR = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class ScanFrame:
    """Array positions (column, row, slice) to LPS mm: `matrix` (3 x 3, the LPS step of one voxel
    along each array axis) and `origin` (array position 0, 0, 0). `oriented` is False where the file
    says nothing of its orientation and a standard transaxial layout was assumed."""

    matrix: np.ndarray
    origin: np.ndarray
    oriented: bool

    def to_patient(self, positions: np.ndarray) -> np.ndarray:
        """(N, 3) array positions (column, row, slice) -> (N, 3) LPS mm."""
        return np.asarray(positions, dtype=np.float64) @ self.matrix.T + self.origin

    def to_array(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) LPS mm -> (N, 3) array positions (column, row, slice)."""
        return np.linalg.solve(self.matrix, (np.asarray(points, dtype=np.float64) - self.origin).T).T

    @property
    def voxel_ml(self) -> float:
        return abs(float(np.linalg.det(self.matrix))) / 1000.0


def scan_frame(image: SpectImage) -> ScanFrame:
    """The LPS frame of a volume: its file's orientation (DICOM LPS, NIfTI RAS turned to LPS) with the
    image's voxel spacing (which `--pixel-mm` may have replaced); without an orientation, a standard
    transaxial layout (columns to the patient's left, rows posterior, slices superior)."""
    spacing = np.array(
        [image.pixel_spacing_mm[1], image.pixel_spacing_mm[0], image.slice_spacing_mm or image.pixel_spacing_mm[0]]
        if image.pixel_spacing_mm
        else [1.0, 1.0, 1.0]
    )
    if image.geometry.affine is None or image.geometry.space not in ("LPS", "RAS"):
        return ScanFrame(np.diag(spacing), np.zeros(3), oriented=False)
    start = np.array(image.file_index(0.0, 0.0, 0.0))
    steps = np.stack([np.array(image.file_index(*unit)) - start for unit in np.eye(3)], axis=1)  # file per array
    linear = image.geometry.affine[:3, :3] @ steps
    origin = image.geometry.affine[:3, :3] @ start + image.geometry.affine[:3, 3]
    if image.geometry.space == "RAS":
        flip = np.diag([-1.0, -1.0, 1.0])
        linear, origin = flip @ linear, flip @ origin
    lengths = np.linalg.norm(linear, axis=0)
    linear = linear / np.where(lengths > 0, lengths, 1.0) * spacing  # directions from the file, sizes from the image
    return ScanFrame(linear, origin, oriented=True)
