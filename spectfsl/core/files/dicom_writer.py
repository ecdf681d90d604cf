"""Writing DICOM: NM multi-frame RECON TOMO volumes and RECON GATED TOMO studies (the phantom's), with
stable UIDs."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, NuclearMedicineImageStorage


def write_nm_volume(
    path: str | os.PathLike,
    counts: np.ndarray,
    voxel_mm: float,
    patient_id: str,
    description: str = "spectfsl phantom",
) -> None:
    """Write a (slices, rows, cols) uint16 count volume as an NM multi-frame RECON TOMO file, or a
    (gates, slices, rows, cols) gated study as RECON GATED TOMO (frames gate by gate, each gate's
    slices in order, laid out by the R-R Interval, Time Slot and Slice Vectors).

    `voxel_mm` is the isotropic voxel size in mm. UIDs derive from `patient_id`, so the same phantom
    gives the same file.
    """
    if counts.ndim not in (3, 4):
        raise ValueError("counts must be a (slices, rows, cols) volume or (gates, slices, rows, cols) gates")
    volume = np.ascontiguousarray(counts, dtype=np.uint16)
    n_gates = volume.shape[0] if volume.ndim == 4 else None
    n_slices, rows, cols = volume.shape[-3:]
    n_frames = n_slices * (n_gates or 1)

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = NuclearMedicineImageStorage
    meta.MediaStorageSOPInstanceUID = _uid(patient_id, "instance")
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = _uid("spectfsl", "implementation")
    meta.ImplementationVersionName = "SPECTFSL"

    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "RECON GATED TOMO" if n_gates else "RECON TOMO", "EMISSION"]
    ds.SOPClassUID = NuclearMedicineImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    # A fixed date keeps phantom files byte-identical across runs with the same seed.
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20260101"
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "120000"
    ds.AccessionNumber = ""
    ds.Modality = "NM"
    ds.Manufacturer = "spectfsl"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "Myocardial perfusion phantom"
    ds.SeriesDescription = description
    ds.PatientName = f"Phantom^{patient_id}"
    ds.PatientID = patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.SliceThickness = f"{voxel_mm:.4f}"
    ds.SpacingBetweenSlices = f"{voxel_mm:.4f}"
    ds.StudyInstanceUID = _uid(patient_id, "study")
    ds.SeriesInstanceUID = _uid(patient_id, "series")
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.BodyPartExamined = "HEART"
    ds.InstanceNumber = 1
    ds.PatientOrientation = ["L", "P"]
    ds.FrameOfReferenceUID = _uid(patient_id, "frame-of-reference")
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.NumberOfFrames = n_frames
    if n_gates:
        vectors = ("RRIntervalVector", "TimeSlotVector", "SliceVector")
        ds.FrameIncrementPointer = [pydicom.tag.Tag(name) for name in vectors]
    else:
        ds.FrameIncrementPointer = pydicom.tag.Tag("SliceVector")
    ds.Rows = rows
    ds.Columns = cols
    ds.PixelSpacing = [f"{voxel_mm:.4f}", f"{voxel_mm:.4f}"]
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.SliceVector = list(range(1, n_slices + 1)) * (n_gates or 1)
    ds.NumberOfSlices = n_slices
    if n_gates:
        ds.RRIntervalVector = [1] * n_frames
        ds.NumberOfRRIntervals = 1
        ds.TimeSlotVector = [gate for gate in range(1, n_gates + 1) for _ in range(n_slices)]
        ds.NumberOfTimeSlots = n_gates
        ds.TriggerSourceOrType = "EKG"
        ds.BeatRejectionFlag = "N"
        ds.GatedInformationSequence = [_gated_information(n_gates)]
    ds.CountsAccumulated = int(volume.sum(dtype=np.uint64))

    window = Dataset()
    window.EnergyWindowRangeSequence = [Dataset()]
    window.EnergyWindowRangeSequence[0].EnergyWindowLowerLimit = "126.45"
    window.EnergyWindowRangeSequence[0].EnergyWindowUpperLimit = "154.55"
    window.EnergyWindowName = "Tc99m"
    ds.EnergyWindowInformationSequence = [window]
    ds.NumberOfEnergyWindows = 1
    isotope = Dataset()
    isotope.RadionuclideCodeSequence = [_code("44588005", "SCT", "Technetium^99m^")]
    ds.RadiopharmaceuticalInformationSequence = [isotope]
    detector = Dataset()
    detector.ImagePositionPatient = [f"{-voxel_mm * cols / 2:.3f}", f"{-voxel_mm * rows / 2:.3f}", "0"]
    detector.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    detector.CollimatorType = "PARA"
    ds.DetectorInformationSequence = [detector]
    ds.NumberOfDetectors = 1
    rotation = Dataset()
    rotation.StartAngle = "0"
    rotation.AngularStep = "6"
    rotation.RotationDirection = "CW"
    rotation.ScanArc = "180"
    rotation.ActualFrameDuration = 20000
    rotation.NumberOfFramesInRotation = 30
    rotation.TableHeight = "0"
    rotation.TableTraverse = "0"
    ds.RotationInformationSequence = [rotation]
    ds.NumberOfRotations = 1
    ds.PatientOrientationCodeSequence = [_code("102538003", "SCT", "recumbent")]
    ds.PatientOrientationCodeSequence[0].PatientOrientationModifierCodeSequence = [_code("40199007", "SCT", "supine")]
    ds.PatientGantryRelationshipCodeSequence = [_code("126830", "SCT", "headfirst")]
    ds.CorrectedImage = ["DECY", "ATTN", "SCAT"]
    ds.PixelData = volume.tobytes()
    ds["PixelData"].VR = "OW"
    ds.save_as(path, enforce_file_format=True)


#: The phantom's heartbeat (ms): a 75 beats-per-minute R-R interval.
NOMINAL_RR_MS = 800


def _gated_information(gates: int) -> Dataset:
    """The NM Multi-gated Acquisition module's one R-R window: its frame time (ms, the R-R interval
    shared by the gates) and nominal interval."""
    frame_ms = NOMINAL_RR_MS // gates
    data = Dataset()
    data.FrameTime = frame_ms
    data.NominalInterval = NOMINAL_RR_MS
    data.IntervalsAcquired = 0
    data.IntervalsRejected = 0
    window = Dataset()
    window.DataInformationSequence = [data]
    return window


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def _uid(*parts: str) -> UID:
    """A deterministic UID under the 2.25 (UUID-derived) root."""
    digest = hashlib.sha256("/".join(("spectfsl",) + parts).encode()).digest()
    return UID(f"2.25.{int.from_bytes(digest[:16], 'big')}")
