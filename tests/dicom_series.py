"""Writes single-frame DICOM series for tests, as a scanner's export folder would hold them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

#: A recognisable fake identity: none of it may appear in anything spectfsl writes.
FAKE_IDENTITY = {"PatientID": "1459844077", "PatientName": "Doe^Jane", "PatientBirthDate": "19700101"}


def write_series(
    folder: Path,
    volume: np.ndarray,
    pixel_mm: float = 4.0,
    slice_mm: float = 4.0,
    order: list[int] | None = None,
    gaps_mm: list[float] | None = None,
    identity: dict[str, str] = FAKE_IDENTITY,
    uid: str | None = None,
    prefix: str = "IM",
) -> list[Path]:
    """Slice k of `volume` (slice, row, col) as file `<prefix>_<order[k]>.dcm` at z = k * slice_mm (or the
    cumulative `gaps_mm`), axial orientation, one SeriesInstanceUID; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    uid = uid or generate_uid()
    order = order if order is not None else list(range(len(volume)))
    z = np.concatenate([[0.0], np.cumsum(gaps_mm)]) if gaps_mm is not None else np.arange(len(volume)) * slice_mm
    paths = []
    for k, plane in enumerate(volume):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = SecondaryCaptureImageStorage, meta.MediaStorageSOPInstanceUID
        ds.Modality, ds.SeriesInstanceUID, ds.StudyInstanceUID = "NM", uid, generate_uid()
        for keyword, value in identity.items():
            setattr(ds, keyword, value)
        ds.InstanceNumber = order[k] + 1
        ds.ImagePositionPatient = [0.0, 0.0, float(z[k])]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [pixel_mm, pixel_mm]
        ds.SliceThickness = slice_mm
        ds.Rows, ds.Columns = plane.shape
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = np.ascontiguousarray(plane, dtype=np.uint16).tobytes()
        path = folder / f"{prefix}_{order[k]:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
