"""Label maps as DICOM Segmentation objects referencing their source (NIfTI label maps:
`spectfsl.core.files.nifti_writer`)."""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from spectfsl.core.files.atomic import atomic_file
from spectfsl.core.image import SpectImage, file_order
from spectfsl.errors import SpectfslError

#: SNOMED CT codes of the classes spectfsl knows by name (others: "Tissue" with the class name as label).
_PROPERTY_CODES = {
    "myocardium": ("74281007", "Myocardium structure"),
    "ventricles": ("21814001", "Cardiac ventricular structure"),
    "cavity": ("21814001", "Cardiac ventricular structure"),
    "liver": ("10200004", "Liver structure"),
}


def write_dicom_seg(
    path: str | os.PathLike,
    image: SpectImage,
    label_ids: np.ndarray,
    classes: Sequence[tuple[int, str]],
    version: str,
    anonymous: bool = False,
) -> None:
    """A DICOM Segmentation (binary, one segment per class) referencing the DICOM input `image` (highdicom).

    DICOM requires a SEG to carry its source's patient and study, so by default it names the patient
    as the source does. `anonymous` writes the pseudonym as PatientID and PatientName and leaves out
    the birth date and other patient ids: for files that leave the hospital (the study and series
    UIDs still link it to its source)."""
    try:
        import highdicom as hd
        import pydicom
        from pydicom.dataset import Dataset
        from pydicom.sequence import Sequence as DicomSequence
        from pydicom.sr.codedict import codes
        from pydicom.sr.coding import Code
    except ImportError:
        raise SpectfslError(
            "{dicom_seg} needs highdicom: pip install 'spectfsl[dicom-seg]'", settings="dicom_seg"
        ) from None
    if image.geometry.space != "LPS" or image.geometry.affine is None or not Path(image.source).is_file():
        raise SpectfslError(
            f"{image.source}: {{dicom_seg}} takes a multi-frame DICOM file with its geometry", settings="dicom_seg"
        )
    source = pydicom.dcmread(image.source)
    if "FrameOfReferenceUID" not in source:
        raise SpectfslError(
            f"{image.source}: {{dicom_seg}} needs the source's Frame of Reference UID, and it has none",
            settings="dicom_seg",
        )
    source = _as_enhanced(copy.copy(source), image.geometry.affine, hd, Dataset, DicomSequence)
    labels = file_order(image, label_ids)
    if labels.ndim == 2:
        labels = labels[None]
    present = [(class_id, name) for class_id, name in classes if (labels == class_id).any()]
    if not present:
        raise SpectfslError(f"{image.source}: no voxel is labelled, so there is no segment to write as DICOM SEG")
    descriptions = []
    for number, (_, name) in enumerate(present, start=1):
        code, meaning = _PROPERTY_CODES.get(name, ("85756007", "Tissue"))
        descriptions.append(
            hd.seg.SegmentDescription(
                segment_number=number,
                segment_label=name,
                segmented_property_category=codes.SCT.Tissue,
                segmented_property_type=Code(code, "SCT", meaning),
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
                algorithm_identification=hd.AlgorithmIdentificationSequence(
                    name="spectfsl segment", version=version, family=codes.cid7162.ArtificialIntelligence
                ),
            )
        )
    masks = np.stack([labels == class_id for class_id, _ in present], axis=-1).astype(np.uint8)
    segmentation = hd.seg.Segmentation(
        source_images=[source],
        pixel_array=masks,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=9901,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="spectfsl",
        manufacturer_model_name="spectfsl segment",
        software_versions=version,
        device_serial_number="none",
    )
    if anonymous:
        _pseudonymise(segmentation, image.patient)
    with atomic_file(path) as temporary:
        segmentation.save_as(str(temporary))


#: Patient attributes `--dicom-seg-anonymous` leaves out of a SEG (PatientID and PatientName get the pseudonym).
IDENTIFYING = (
    "PatientBirthDate",
    "PatientBirthTime",
    "OtherPatientIDs",
    "OtherPatientIDsSequence",
    "OtherPatientNames",
)


def _pseudonymise(dataset, pseudonym: str) -> None:
    """PatientID and PatientName become the pseudonym; birth date and other ids are removed (type 2
    birth date: kept present and empty)."""
    dataset.PatientID = pseudonym
    dataset.PatientName = pseudonym
    for keyword in IDENTIFYING:
        if keyword in dataset:
            delattr(dataset, keyword)
    dataset.PatientBirthDate = ""


def _as_enhanced(source, affine: np.ndarray, hd, Dataset, DicomSequence):
    """The NM source as highdicom reads a multi-frame image: plane orientation and pixel measures
    shared, one plane position per frame, all from the geometry spectfsl read (the NM Detector
    Information Sequence, or the top level)."""
    frames = int(getattr(source, "NumberOfFrames", 1) or 1)
    columns, rows, step = (float(np.linalg.norm(affine[:3, axis])) for axis in range(3))
    shared = Dataset()
    shared.PlaneOrientationSequence = hd.PlaneOrientationSequence(
        hd.CoordinateSystemNames.PATIENT, [*(affine[:3, 0] / columns), *(affine[:3, 1] / rows)]
    )
    shared.PixelMeasuresSequence = hd.PixelMeasuresSequence(pixel_spacing=[rows, columns], slice_thickness=step)
    source.SharedFunctionalGroupsSequence = DicomSequence([shared])
    per_frame = []
    for frame in range(frames):
        item = Dataset()
        position = affine[:3, :3] @ np.array([0.0, 0.0, float(frame)]) + affine[:3, 3]
        item.PlanePositionSequence = hd.PlanePositionSequence(hd.CoordinateSystemNames.PATIENT, position)
        per_frame.append(item)
    source.PerFrameFunctionalGroupsSequence = DicomSequence(per_frame)
    return source
