"""Reading DICOM: NM/SPECT files and series of single-frame files, into `SpectImage`s (writing: `dicom_writer`)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID, ExplicitVRLittleEndian

from spectfsl.core.files.guard import check_claimed_size, finite_float32, reading
from spectfsl.core.files.privacy import identity_of, pseudonym
from spectfsl.core.image import MAX_GATES, MIN_GATES, FileGeometry, GatedImage, SpectImage, as_volume
from spectfsl.errors import SpectfslError

_PIXEL_DATA_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
#: Slice positions along the normal may differ from evenly spaced by this fraction of the spacing.
SPACING_TOLERANCE = 0.01


def has_dicom_preamble(path: str | os.PathLike) -> bool:
    """True when the file carries the 'DICM' marker after its 128-byte preamble."""
    try:
        with open(path, "rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


def read_dicom(path: str | os.PathLike) -> SpectImage:
    """Read a single- or multi-frame DICOM image as a SpectImage in real-world units; a gated study
    as the sum of its gates (`as_volume`). See `read_dicom_study`."""
    return as_volume(read_dicom_study(path))


def read_dicom_study(path: str | os.PathLike) -> SpectImage | GatedImage:
    """Read a DICOM image, or an ECG-gated NM study (one volume per gate), in real-world units.

    Pixel values go through Rescale Slope/Intercept when present, else the Real World Value Mapping
    Sequence, else stay raw. Spacing in mm from PixelSpacing and |SpacingBetweenSlices| (else
    SliceThickness). A negative SpacingBetweenSlices means the file stores slices against the slice
    normal; they are reversed so that slice index always increases along the normal, and
    `frames` keeps each slice's index in the file (for a gated study: its Slice Vector number - 1).
    A file whose Image Type value 3 is GATED TOMO or RECON GATED TOMO is a gated study, its frames
    laid out by their Time Slot and Slice Vectors (`_gate_layout`); planar GATED is refused.
    """
    path = Path(path)
    with reading(path, "DICOM"):
        dataset = _read_dataset(path)
        layout = _gate_layout(dataset, path)
        raw = _decode_pixels(dataset, path)
        n_frames = _frame_count(dataset)
        if n_frames > 1 and raw.ndim == 2:
            raw = raw[np.newaxis]
        pixels = _real_world_values(dataset, raw)
        slice_spacing, reversed_order = _slice_spacing(dataset)
        pixel_spacing = _pixel_spacing(dataset)
        patient = _patient(dataset, path.stem)
        signed_spacing = None if slice_spacing is None else -slice_spacing if reversed_order else slice_spacing
        affine = _patient_affine(dataset, _position(dataset), pixel_spacing, signed_spacing)
    geometry = FileGeometry(affine=affine, space="LPS" if affine is not None else None)

    def image(stack: np.ndarray, gate: int | None = None) -> SpectImage:
        frames = tuple(range(stack.shape[0])) if stack.ndim == 3 else None
        if frames is not None and reversed_order:
            stack, frames = stack[::-1], frames[::-1]
        return SpectImage(
            pixels=finite_float32(path, stack),
            pixel_spacing_mm=pixel_spacing,
            slice_spacing_mm=slice_spacing if stack.ndim == 3 else None,
            source=str(path),
            patient=patient,
            frames=frames,
            geometry=geometry,
            gate=gate,
        )

    if layout is not None:
        gated = pixels[layout].sum(axis=2)  # (gates, slices, rows, cols), R-R windows summed
        return GatedImage(tuple(image(stack, number) for number, stack in enumerate(gated, start=1)))
    return image(pixels)


def dicom_is_gated(path: str | os.PathLike) -> bool:
    """Whether a DICOM file is a gated reconstruction (Image Type value 3 GATED TOMO or RECON GATED
    TOMO), from its header."""
    header = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["ImageType"], force=True)
    image_type = [str(value).strip().upper() for value in (header.get("ImageType") or [])]
    return len(image_type) > 2 and image_type[2] in GATED_TOMO


#: Image Type value 3 of an NM gated reconstruction (a gated study), and of planar gated images.
GATED_TOMO = ("GATED TOMO", "RECON GATED TOMO")
PLANAR_GATED = "GATED"


def _gate_layout(dataset: Dataset, path: Path) -> np.ndarray | None:
    """For a gated NM study, the file frame indices of each (gate, slice), summed over R-R interval
    windows: an int array (gates, slices, windows); None for any other file. The Time Slot and Slice
    Vectors (and the R-R Interval Vector, when there is one) say where each frame belongs; lengths
    that do not multiply to the frame count, a missing count or vector, or a place given twice are
    refused naming the attribute."""
    image_type = [str(value).strip().upper() for value in (dataset.get("ImageType") or [])]
    kind = image_type[2] if len(image_type) > 2 else ""
    if kind == PLANAR_GATED:
        raise SpectfslError(
            f"{path}: Image Type (0008,0008) says planar GATED images; spectfsl reads gated reconstructions "
            "(RECON GATED TOMO), not planar gated acquisitions"
        )
    if kind not in GATED_TOMO:
        return None
    frames = _frame_count(dataset)

    def count(keyword: str) -> int:
        value = dataset.get(keyword)
        if value in (None, "") or int(value) < 1:
            raise SpectfslError(f"{path}: a gated study (Image Type {kind}) needs {GATE_ATTRIBUTES[keyword]}")
        return int(value)

    def vector(keyword: str, size: int) -> np.ndarray:
        value = dataset.get(keyword)
        found = 0 if value is None else len(np.atleast_1d(value))
        if found != frames:
            raise SpectfslError(
                f"{path}: {GATE_ATTRIBUTES[keyword]} must give one value per frame ({frames}), it gives {found}"
            )
        numbers = np.atleast_1d(np.asarray(value, dtype=np.int64))
        if numbers.min() < 1 or numbers.max() > size:
            raise SpectfslError(f"{path}: {GATE_ATTRIBUTES[keyword]} has values outside 1-{size}")
        return numbers - 1

    gates = count("NumberOfTimeSlots")
    slices = count("NumberOfSlices")
    windows = int(dataset.get("NumberOfRRIntervals") or 1)
    if gates * slices * windows != frames:
        raise SpectfslError(
            f"{path}: Number of Time Slots {gates} x Number of Slices {slices} x Number of R-R Intervals {windows} "
            f"= {gates * slices * windows}, but the file has {frames} frames (Number of Frames)"
        )
    if not MIN_GATES <= gates <= MAX_GATES:
        raise SpectfslError(
            f"{path}: {GATE_ATTRIBUTES['NumberOfTimeSlots']} is {gates}; gated studies have {MIN_GATES}-{MAX_GATES}"
        )
    slot = vector("TimeSlotVector", gates)
    place = vector("SliceVector", slices)
    window = vector("RRIntervalVector", windows) if windows > 1 else np.zeros(frames, dtype=np.int64)
    layout = np.full((gates, slices, windows), -1, dtype=np.int64)
    layout[slot, place, window] = np.arange(frames)
    if (layout < 0).any():
        raise SpectfslError(
            f"{path}: Time Slot and Slice Vectors (0054,0070), (0054,0080) name some (time slot, slice) twice "
            "and leave others empty"
        )
    return layout


#: The gated layout's attributes as the DICOM standard names them, for error messages.
GATE_ATTRIBUTES = {
    "NumberOfTimeSlots": "Number of Time Slots (0054,0071)",
    "NumberOfSlices": "Number of Slices (0054,0081)",
    "TimeSlotVector": "Time Slot Vector (0054,0070)",
    "SliceVector": "Slice Vector (0054,0080)",
    "RRIntervalVector": "R-R Interval Vector (0054,0060)",
}


def _geometry_item(dataset: Dataset, keyword: str):
    """A geometry attribute at the top level, else in the first Detector Information item (NM)."""
    value = dataset.get(keyword)
    if value is None:
        for item in dataset.get("DetectorInformationSequence", []) or []:
            value = item.get(keyword)
            if value is not None:
                break
    return value


def _position(dataset: Dataset) -> np.ndarray | None:
    value = _geometry_item(dataset, "ImagePositionPatient")
    return None if value is None or len(value) != 3 else np.asarray(value, dtype=float)


def _patient_affine(
    dataset: Dataset, origin: np.ndarray | None, pixel_spacing: tuple[float, float] | None, slice_step: float | None
) -> np.ndarray | None:
    """4 x 4: file voxel (column, row, frame, 1) -> patient LPS mm, from ImageOrientationPatient and
    ImagePositionPatient (of frame 0), PixelSpacing and the signed step between frames along the
    slice normal; None when the file lacks any of them (a 2D image needs no step)."""
    orientation = _geometry_item(dataset, "ImageOrientationPatient")
    if orientation is None or len(orientation) != 6 or origin is None or pixel_spacing is None:
        return None
    along_row, along_column = np.asarray(orientation[:3], dtype=float), np.asarray(orientation[3:], dtype=float)
    affine = np.eye(4)
    affine[:3, 0] = along_row * pixel_spacing[1]
    affine[:3, 1] = along_column * pixel_spacing[0]
    affine[:3, 2] = np.cross(along_row, along_column) * (slice_step or 0.0)
    affine[:3, 3] = origin
    return affine


def _read_dataset(path: Path, header_only: bool = False) -> Dataset:
    """A DICOM file as a pydicom dataset; refuses what is not a readable DICOM image (exit 2)."""
    with_preamble = has_dicom_preamble(path)
    try:
        dataset = pydicom.dcmread(path, force=not with_preamble, stop_before_pixels=header_only)
    except InvalidDicomError as error:
        raise SpectfslError(f"{path}: not a readable DICOM file ({error})") from None
    if header_only:
        return dataset
    if not any(keyword in dataset for keyword in _PIXEL_DATA_KEYWORDS):
        if not with_preamble and "SOPClassUID" not in dataset:
            raise SpectfslError(f"{path}: not a DICOM file (no DICM preamble and no DICOM image elements)")
        raise SpectfslError(f"{path}: DICOM file has no pixel data")
    return dataset


def _patient(dataset: Dataset, fallback: str) -> str:
    """The patient's pseudonym (never the identity itself), or `fallback` when the file names nobody."""
    identity = identity_of(dataset)
    return pseudonym(identity) if identity else fallback


def patient_identities(items: Sequence[Path | DicomSeries]) -> dict[str, str]:
    """pseudonym -> identity for the DICOM inputs among `items` (other files name no patient)."""
    identities = {}
    for item in items:
        path = item.files[0] if isinstance(item, DicomSeries) else item
        if path.suffix.lower() == ".dcm" or (path.suffix == "" and has_dicom_preamble(path)):
            with reading(path, "DICOM"):
                identity = identity_of(_read_dataset(path, header_only=True))
            if identity:
                identities[pseudonym(identity)] = identity
    return identities


@dataclass(frozen=True)
class DicomSeries:
    """Single-frame DICOM files of one series (one SeriesInstanceUID), read together as one volume.

    `label` names it on the command line: the folder, or `folder#k` for the k-th series (1-based,
    in order of first file) of a folder that holds several.
    """

    label: str
    uid: str
    files: tuple[Path, ...]

    def __str__(self) -> str:
        return self.label


def group_series(files: Sequence[Path]) -> list[Path | DicomSeries]:
    """`files` in order, with the single-frame DICOM files of each series of two or more files
    replaced by one `DicomSeries` (at the place of its first file). Files whose header cannot be
    read stay as they are, so that reading them reports the problem."""
    uids: dict[Path, str] = {}
    for path in files:
        if path.suffix.lower() == ".dcm" or (path.suffix == "" and has_dicom_preamble(path)):
            try:
                with warnings.catch_warnings():  # what is wrong with the file is said when it is read
                    warnings.simplefilter("ignore")
                    header = pydicom.dcmread(
                        path, stop_before_pixels=True, specific_tags=["SeriesInstanceUID", "NumberOfFrames"]
                    )
                    uid, frames = str(header.get("SeriesInstanceUID", "") or ""), _frame_count(header)
            except Exception:  # an unreadable header is reported when the file itself is read
                continue
            if uid and frames == 1:
                uids[path] = uid
    members: dict[str, list[Path]] = {}
    for path, uid in uids.items():
        members.setdefault(uid, []).append(path)
    series = {uid: paths for uid, paths in members.items() if len(paths) > 1}
    by_folder: dict[Path, list[str]] = {}
    for uid, paths in series.items():
        by_folder.setdefault(paths[0].parent, []).append(uid)
    grouped: list[Path | DicomSeries] = []
    for path in files:
        uid = uids.get(path, "")
        if uid not in series:
            grouped.append(path)
        elif path == series[uid][0]:
            siblings = by_folder[path.parent]
            label = str(path.parent) if len(siblings) == 1 else f"{path.parent}#{siblings.index(uid) + 1}"
            grouped.append(DicomSeries(label, uid, tuple(series[uid])))
    return grouped


def read_dicom_series(series: DicomSeries) -> SpectImage:
    """One volume from the single-frame files of a series, sorted along the slice normal.

    Positions come from ImagePositionPatient projected on the normal of ImageOrientationPatient
    (else InstanceNumber order and SpacingBetweenSlices/SliceThickness); every file must share the
    matrix, pixel spacing and orientation, and slices must be evenly spaced (within 1%), as
    dcm2niix requires. Slice k of the volume (`label@k`) is the k-th along the normal.
    """
    with reading(series.label, "DICOM series"):
        return _read_series(series)


def _read_series(series: DicomSeries) -> SpectImage:
    datasets = []
    for path in series.files:
        with reading(path, "DICOM"):
            datasets.append(_read_dataset(path))
    first = datasets[0]
    for path, dataset in zip(series.files[1:], datasets[1:]):
        for keyword in ("Rows", "Columns"):
            if dataset.get(keyword) != first.get(keyword):
                raise SpectfslError(f"{path}: {keyword} differs from the rest of series {series.label}")
        if not _close(_pixel_spacing(dataset), _pixel_spacing(first)):
            raise SpectfslError(f"{path}: PixelSpacing differs from the rest of series {series.label}")
        if not _close(_orientation(dataset), _orientation(first), 1e-4):
            raise SpectfslError(f"{path}: ImageOrientationPatient differs from the rest of series {series.label}")
    order, slice_spacing = _series_order(series, datasets)
    planes = []
    for i in order:
        with reading(series.files[i], "DICOM"):
            planes.append(_real_world_values(datasets[i], _decode_pixels(datasets[i], series.files[i])))
    if any(plane.ndim != 2 for plane in planes):
        raise SpectfslError(f"{series.label}: a series of single-frame files must hold 2D grey images")
    pixel_spacing = _pixel_spacing(first)
    affine = _patient_affine(datasets[order[0]], _position(datasets[order[0]]), pixel_spacing, slice_spacing)
    return SpectImage(
        pixels=finite_float32(series.label, np.stack(planes)),
        pixel_spacing_mm=pixel_spacing,
        slice_spacing_mm=slice_spacing,
        source=series.label,
        patient=_patient(first, Path(series.label).name),
        frames=tuple(range(len(planes))),
        geometry=FileGeometry(affine=affine, space="LPS" if affine is not None else None),
    )


def _series_order(series: DicomSeries, datasets: list[Dataset]) -> tuple[list[int], float | None]:
    """The order of the files along the slice normal, and the slice spacing in mm."""
    orientation = _orientation(datasets[0])
    positions = [d.get("ImagePositionPatient") for d in datasets]
    if orientation is None or any(p is None or len(p) != 3 for p in positions):
        order = sorted(range(len(datasets)), key=lambda i: int(datasets[i].get("InstanceNumber", i) or i))
        return order, _slice_spacing(datasets[0])[0]
    normal = np.cross(orientation[:3], orientation[3:])
    along = np.array([float(np.dot(normal, np.asarray(p, dtype=float))) for p in positions])
    order = [int(i) for i in np.argsort(along, kind="stable")]
    gaps = np.diff(along[order])
    spacing = float(np.median(gaps))
    if spacing <= 0 or np.abs(gaps - spacing).max() > SPACING_TOLERANCE * spacing:
        raise SpectfslError(
            f"{series.label}: slices are not evenly spaced along the normal "
            f"(gaps {gaps.min():.3g}-{gaps.max():.3g} mm); spectfsl reads a series only as a regular volume"
        )
    return order, spacing


def _orientation(dataset: Dataset) -> np.ndarray | None:
    value = dataset.get("ImageOrientationPatient")
    return None if value is None or len(value) != 6 else np.asarray(value, dtype=float)


def _close(a, b, tolerance: float = 1e-3) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return bool(np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), atol=tolerance))


def _frame_count(dataset: Dataset) -> int:
    return int(dataset.get("NumberOfFrames", 1) or 1)


#: Luminance weights (ITU-R BT.601) that turn an RGB or YBR colour image into one grey channel.
LUMINANCE = np.array([0.299, 0.587, 0.114])


def _decode_pixels(dataset: Dataset, path: Path) -> np.ndarray:
    """The stored pixel values, (rows, cols) or (frames, rows, cols); colour images as their luminance.

    What the header claims (Rows x Columns x NumberOfFrames) is checked against the size limit first.
    """
    rows, columns = int(dataset.get("Rows", 0) or 0), int(dataset.get("Columns", 0) or 0)
    samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    check_claimed_size(path, (_frame_count(dataset), rows, columns, samples), "its DICOM header")
    photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2")).strip()
    if photometric == "PALETTE COLOR" or samples not in (1, 3):
        raise SpectfslError(
            f"{path}: {photometric} images with {samples} samples per pixel are not supported "
            "(spectfsl reads grey images, and RGB or YBR colour ones as their luminance)"
        )
    transfer_syntax = UID(dataset.file_meta.get("TransferSyntaxUID", ExplicitVRLittleEndian))
    if transfer_syntax.is_compressed and not _decoder_available(transfer_syntax):
        raise SpectfslError(_missing_decoder_message(path, transfer_syntax))
    pixels = dataset.pixel_array
    if samples == 3:  # pydicom returns YBR colour as RGB: (rows, cols, 3) or (frames, rows, cols, 3)
        pixels = pixels.astype(np.float64) @ LUMINANCE
    if pixels.ndim not in (2, 3):
        raise SpectfslError(f"{path}: pixel data of shape {pixels.shape} is not a 2D image or a volume")
    return pixels


def _decoder_available(transfer_syntax: UID) -> bool:
    from pydicom.pixels import get_decoder

    try:
        return get_decoder(transfer_syntax).is_available
    except NotImplementedError:
        return False


def _missing_decoder_message(path: Path, transfer_syntax: UID) -> str:
    from pydicom.pixels import get_decoder

    try:
        options = get_decoder(transfer_syntax).missing_dependencies
    except NotImplementedError:
        options = []
    hint = "; ".join(options) if options else "no decoder is known to pydicom for it"
    return (
        f"{path}: compressed transfer syntax '{transfer_syntax.name}' ({transfer_syntax}) "
        f"cannot be decoded here; install a decoder: {hint}"
    )


def _real_world_values(dataset: Dataset, raw: np.ndarray) -> np.ndarray:
    if "RescaleSlope" in dataset or "RescaleIntercept" in dataset:
        slope = float(dataset.get("RescaleSlope", 1.0) or 1.0)
        intercept = float(dataset.get("RescaleIntercept", 0.0) or 0.0)
        return raw.astype(np.float64) * slope + intercept
    mappings = dataset.get("RealWorldValueMappingSequence")
    if mappings:
        mapping = mappings[0]
        if "RealWorldValueSlope" in mapping:
            slope = float(mapping.RealWorldValueSlope)
            intercept = float(mapping.get("RealWorldValueIntercept", 0.0))
            return raw.astype(np.float64) * slope + intercept
        if "RealWorldValueLUTData" in mapping:
            table = np.asarray(mapping.RealWorldValueLUTData, dtype=np.float64)
            first = int(mapping.get("RealWorldValueFirstValueMapped", 0))
            return table[np.clip(raw.astype(np.int64) - first, 0, len(table) - 1)]
    return raw


def _pixel_spacing(dataset: Dataset) -> tuple[float, float] | None:
    spacing = dataset.get("PixelSpacing")
    if spacing is None:
        for item in dataset.get("DetectorInformationSequence", []) or []:
            spacing = item.get("PixelSpacing")
            if spacing is not None:
                break
    if spacing is None or len(spacing) != 2:
        return None
    return (float(spacing[0]), float(spacing[1]))


def _slice_spacing(dataset: Dataset) -> tuple[float | None, bool]:
    """(slice spacing in mm, whether the file's slices run against the normal)."""
    between = dataset.get("SpacingBetweenSlices")
    if between not in (None, ""):
        value = float(between)
        if value != 0:
            return abs(value), value < 0
    thickness = dataset.get("SliceThickness")
    if thickness not in (None, "") and float(thickness) > 0:
        return float(thickness), False
    return None, False
