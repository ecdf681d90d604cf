"""2D datasets from scans: labelled tissue crops, unlabelled slices, sidecars and a manifest.

Layout written by `prepare_dataset` (and read back by the classifiers):
    DIR/<class>/<id>.npy   one crop per class per slice where the class has >= min_pixels pixels
    DIR/slices/<id>.npy    unlabelled 2D slices (whole, or cropped around the heart)
    DIR/manifest.csv       one row per written image (see MANIFEST_COLUMNS)

Geometry: every image is resampled to a common pixel size (`spacing_mm`), so tissue keeps its
physical size across scanners. A tissue crop is a fixed window of `size` x `spacing_mm` mm
(128 mm by default) centred on the centre of the tissue's bounding box in that slice; it is never
stretched to fit the tissue, because absolute size is a strong cue between classes. Images whose
pixel size is unknown are not resampled: their window is `size` source pixels.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from spectfsl.core.data.patients import DEFAULT_PATIENT_FROM, carries_no_patient, check_pattern
from spectfsl.core.files.dicom import DicomSeries
from spectfsl.core.files.formats import save_npy
from spectfsl.core.files.loader import expand_inputs, load_image
from spectfsl.core.files.paths import check_under
from spectfsl.core.image import SpectImage
from spectfsl.core.processing.heart import DEFAULT_CROP_MM, find_heart
from spectfsl.core.processing.preprocess import (
    NORMALISATION,
    centred_window,
    intensity_scale,
    normalise_intensity,
    normalised,
    sample_window,
    window_px,
)
from spectfsl.errors import SpectfslError, SpectfslWarning

SLICES_FOLDER = "slices"
MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = (
    "path",
    "class",
    "source",
    "patient",
    "frame",
    "x0",
    "y0",
    "width",
    "height",
    "row_mm",
    "col_mm",
    "patient_from",
)
STYLES = ("masked", "patch")
CROPS = ("none", "auto")


@dataclass(frozen=True)
class PrepareSettings:
    """How `prepare` cuts images: sizes in pixels, spacings and windows in mm."""

    size: int = 64
    spacing_mm: float = 2.0
    min_pixels: int = 20
    style: str = "masked"
    crop: str = "none"
    crop_mm: float = DEFAULT_CROP_MM
    slices: bool = True
    #: How the patient of a file without a DICOM patient is read from its path (`data.patients`).
    patient_from: str = DEFAULT_PATIENT_FROM

    def __post_init__(self) -> None:
        check_pattern(self.patient_from)
        if self.style not in STYLES:
            raise SpectfslError(f"{{style}} must be one of {', '.join(STYLES)}, got '{self.style}'", settings="style")
        if self.crop not in CROPS:
            raise SpectfslError(f"{{crop}} must be one of {', '.join(CROPS)}, got '{self.crop}'", settings="crop")
        if self.size < 8 or self.spacing_mm <= 0 or self.crop_mm <= 0 or self.min_pixels < 1:
            raise SpectfslError(
                "{size} must be >= 8, {spacing_mm} and {crop_mm} > 0, {min_pixels} >= 1",
                settings=("size", "spacing_mm", "crop_mm", "min_pixels"),
            )


@dataclass(frozen=True)
class LabelledScan:
    """An image and, per class name, a boolean mask of the same shape (empty for unlabelled scans)."""

    image: SpectImage
    masks: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, mask in self.masks.items():
            if mask.shape != self.image.pixels.shape:
                raise SpectfslError(
                    f"{self.image.source}: mask for '{name}' has shape {mask.shape}, "
                    f"the image {self.image.pixels.shape}"
                )


@dataclass(frozen=True)
class ManifestRow:
    """One written image: path relative to the dataset folder; crop box in source pixels; source spacing in mm."""

    path: str
    class_name: str
    source: str
    patient: str
    frame: int | None
    x0: int
    y0: int
    width: int
    height: int
    row_mm: float | None
    col_mm: float | None
    #: `DICOM` (the pseudonym of the DICOM patient) or the pattern the patient was read from the path with
    patient_from: str = "DICOM"

    def as_csv(self) -> list[str]:
        values = asdict(self)
        return ["" if values[key] is None else str(values[key]) for key in values]


def parse_classes(text: str) -> dict[int, str]:
    """'1=myocardium,2=ventricles' -> {1: 'myocardium', 2: 'ventricles'}."""
    classes: dict[int, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        label, sep, name = item.partition("=")
        if not sep or not label.strip().isdigit() or not name.strip():
            raise SpectfslError(
                f"{{classes}}: '{item}' is not of the form ID=NAME (for example 1=myocardium)", settings="classes"
            )
        classes[int(label)] = check_class_name(name.strip())
    if not classes:
        raise SpectfslError("{classes} names no class", settings="classes")
    return classes


def check_class_name(name: str) -> str:
    """A class name becomes a folder name: letters, digits, '-', '_' and '.', and not 'slices'."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name) or name == SLICES_FOLDER:
        raise SpectfslError(f"class name '{name}' must be letters, digits, '.', '_' or '-' (and not '{SLICES_FOLDER}')")
    return name


def masks_from_labels(labels: SpectImage, classes: dict[int, str]) -> dict[str, np.ndarray]:
    """Per-class boolean masks from an integer label map."""
    values = np.rint(labels.pixels).astype(np.int64)
    return {name: values == label for label, name in classes.items()}


def label_ids(labels: SpectImage) -> set[int]:
    """The integer ids that occur in a label map; refuses (exit 2) an image that is no label map."""
    values = np.unique(labels.pixels)
    if len(values) > MAX_LABEL_IDS or not np.array_equal(values, np.rint(values)) or values.min(initial=0) < 0:
        kind = "non-integer values" if not np.array_equal(values, np.rint(values)) else f"{len(values)} distinct values"
        if values.min(initial=0) < 0 and len(values) <= MAX_LABEL_IDS:
            kind = "negative values"
        raise SpectfslError(
            f"{labels.source}: not a label map ({kind}; a label map holds a few non-negative integer class ids, "
            "0 = background): is it a scan given as labels?"
        )
    return {int(v) for v in values}


#: More distinct values than this and an image is no label map (a scan, a probability map).
MAX_LABEL_IDS = 64
#: Names of label ids when none are given: the phantom's convention, then `class<ID>`.
CONVENTIONAL_NAMES = {1: "myocardium", 2: "ventricles", 3: "liver"}


def classes_found(label_maps: Iterable[SpectImage]) -> dict[int, str]:
    """Every non-zero id in the label maps, named by CONVENTIONAL_NAMES: the default `--classes`."""
    found = sorted(set().union(*(label_ids(labels) for labels in label_maps)) - {0})
    if not found:
        raise SpectfslError("the label maps hold no class (every voxel is 0, background)")
    return {i: CONVENTIONAL_NAMES.get(i, f"class{i}") for i in found}


def unnamed_ids_warning(classes: dict[int, str], present: set[int]) -> SpectfslWarning | None:
    """One line for label ids found in the maps that `--classes` does not name (they become background)."""
    unnamed = sorted(present - set(classes) - {0})
    if not unnamed:
        return None
    return SpectfslWarning(
        f"label id {', '.join(map(str, unnamed))} occurs in the label maps but not in {{classes}} "
        f"({', '.join(f'{i}={n}' for i, n in classes.items())}): treated as background",
        settings="classes",
    )


def check_classes_present(classes: dict[int, str], present: set[int], sources: list[str]) -> None:
    """Refuse a class id of --classes that occurs in none of the label maps (a typo, usually)."""
    missing = sorted(set(classes) - present)
    if missing:
        found = ", ".join(str(v) for v in sorted(present - {0})) or "none"
        raise SpectfslError(
            f"{{classes}}: class id {', '.join(map(str, missing))} does not occur in {', '.join(sources)} "
            f"(ids found: {found})",
            settings="classes",
        )


def prepare_dataset(
    scans: Iterable[LabelledScan],
    out_dir: str | Path,
    settings: PrepareSettings,
    on_scan: Callable[[SpectImage], None] | None = None,
) -> list[ManifestRow]:
    """Write crops, slices, sidecars and manifest.csv for `scans` into `out_dir`; returns the manifest."""
    out_dir = Path(out_dir)
    rows: list[ManifestRow] = []
    used_ids: Counter[str] = Counter()
    for scan in scans:
        scale = intensity_scale(scan.image.pixels)
        normalised = normalise_intensity(scan.image.pixels, scale)
        extra = {"intensity_scale": scale}
        for folder, item_id, image, box in _cut(scan, normalised, settings):
            unique_id = _unique(f"{folder}/{item_id}", used_ids)
            relative = f"{unique_id}.npy"
            save_npy(
                out_dir / relative,
                image,
                {**extra, "class": None if folder == SLICES_FOLDER else folder, "box_xywh": list(box)},
            )
            spacing = scan.image.pixel_spacing_mm or (None, None)
            rows.append(
                ManifestRow(
                    relative,
                    "" if folder == SLICES_FOLDER else folder,
                    scan.image.source,
                    scan.image.patient,
                    image.frame,
                    *box,
                    spacing[0],
                    spacing[1],
                    settings.patient_from if carries_no_patient(scan.image.source) else "DICOM",
                )
            )
        if on_scan is not None:
            on_scan(scan.image)
    write_manifest(out_dir / MANIFEST, rows)
    return rows


def write_manifest(path: Path, rows: list[ManifestRow]) -> None:
    """manifest.csv with MANIFEST_COLUMNS."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(MANIFEST_COLUMNS)
        writer.writerows(row.as_csv() for row in rows)


def _unique(name: str, used: Counter[str]) -> str:
    used[name] += 1
    return name if used[name] == 1 else f"{name}_{used[name]}"


def _item_id(image: SpectImage) -> str:
    safe_patient = re.sub(r"[^A-Za-z0-9._-]", "_", image.patient) or "image"
    return safe_patient if image.frame is None else f"{safe_patient}_{image.frame:03d}"


def _cut(
    scan: LabelledScan, normalised: np.ndarray, settings: PrepareSettings
) -> Iterator[tuple[str, str, SpectImage, tuple[int, int, int, int]]]:
    """(folder, id, image, box x0,y0,width,height) for every crop and slice of one scan."""
    source = scan.image.with_pixels(normalised)
    for name, mask in scan.masks.items():
        for index, plane in enumerate(source.slices()):
            tissue = mask[index] if source.is_volume else mask
            if int(tissue.sum()) < settings.min_pixels:
                continue
            rows, cols = np.nonzero(tissue)
            centre = ((rows.min() + rows.max()) / 2, (cols.min() + cols.max()) / 2)
            window = window_px(plane.pixel_spacing_mm, settings.size * settings.spacing_mm, settings.size)
            top_left = (int(round(centre[0] - (window[0] - 1) / 2)), int(round(centre[1] - (window[1] - 1) / 2)))
            pixels = plane.pixels * tissue if settings.style == "masked" else plane.pixels
            crop = _resampled(plane, pixels, top_left, window, (settings.size, settings.size))
            yield name, _item_id(plane), crop, (top_left[1], top_left[0], window[1], window[0])
    if settings.slices:
        yield from _slices(source, settings)


def _slices(
    source: SpectImage, settings: PrepareSettings
) -> Iterator[tuple[str, str, SpectImage, tuple[int, int, int, int]]]:
    planes = list(range(source.n_frames))
    shape = source.pixels.shape[-2:]
    top_left, window = (0, 0), shape
    if settings.crop == "auto":
        box = find_heart(source, settings.crop_mm).bounds(source.pixels.shape)
        planes = list(range(*box[0]))
        top_left = (box[1][0], box[2][0])
        window = (box[1][1] - box[1][0], box[2][1] - box[2][0])
    for index in planes:
        plane = source.slice_at(index)
        if not np.any(plane.pixels > 0):
            continue
        if plane.pixel_spacing_mm is None:
            out_shape = window
        else:
            out_shape = tuple(
                max(1, int(round(n * s / settings.spacing_mm))) for n, s in zip(window, plane.pixel_spacing_mm)
            )
        image = _resampled(plane, plane.pixels, top_left, window, out_shape)
        yield SLICES_FOLDER, _item_id(plane), image, (top_left[1], top_left[0], window[1], window[0])


def _resampled(
    plane: SpectImage,
    pixels: np.ndarray,
    top_left: tuple[int, int],
    window: tuple[int, int],
    out_shape: tuple[int, int],
) -> SpectImage:
    resampled = sample_window(pixels, top_left, window, out_shape)
    spacing = None
    if plane.pixel_spacing_mm is not None:
        spacing = tuple(w * s / n for w, s, n in zip(window, plane.pixel_spacing_mm, out_shape))
    return SpectImage(resampled, spacing, None, plane.source, plane.patient, plane.frame, normalisation=NORMALISATION)


@dataclass
class LabelledImages:
    """A DATASET in memory: (N, size, size) normalised images with class names and patients."""

    images: np.ndarray
    labels: list[str]
    patients: list[str]
    paths: list[str]
    spacing_mm: float | None

    @property
    def classes(self) -> list[str]:
        """Class names in first-seen order."""
        return list(dict.fromkeys(self.labels))

    @property
    def size(self) -> int:
        return int(self.images.shape[-1])

    def subset(self, indices: Iterable[int]) -> LabelledImages:
        chosen = list(indices)
        return LabelledImages(
            self.images[chosen],
            [self.labels[i] for i in chosen],
            [self.patients[i] for i in chosen],
            [self.paths[i] for i in chosen],
            self.spacing_mm,
        )


def class_folders(folder: str | Path) -> list[Path]:
    """The class subfolders of a DATASET (every subfolder but `slices` and hidden ones), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SpectfslError(f"{folder}: no such dataset folder")
    folders = sorted(
        p for p in folder.iterdir() if p.is_dir() and p.name != SLICES_FOLDER and not p.name.startswith(".")
    )
    for class_folder in folders:
        check_under(folder, class_folder, folder)
    if not folders:
        raise SpectfslError(f"{folder}: no class subfolders (expected DATASET/<class>/*, as `spectfsl prepare` writes)")
    return folders


def read_dataset(folder: str | Path, size: int | None = None, spacing_mm: float | None = None) -> LabelledImages:
    """Load every image of a DATASET folder, normalised and fitted to (size, size) at `spacing_mm`.

    Size and spacing default to those of the first image (a prepared dataset keeps its crops as they are).
    """
    images, labels, patients, paths = [], [], [], []
    for class_folder in class_folders(folder):
        try:
            files = expand_inputs([class_folder])
        except SpectfslError:
            raise SpectfslError(
                f"{class_folder}: class '{class_folder.name}' is empty (no supported image files)"
            ) from None
        for path, frame in files:
            for member in path.files if isinstance(path, DicomSeries) else [path]:
                check_under(folder, member, folder)
            for plane in normalised(load_image(path, frame)).slices():
                if size is None:
                    size = max(plane.pixels.shape)
                    spacing_mm = plane.pixel_spacing_mm[0] if plane.pixel_spacing_mm else None
                images.append(centred_window(plane, size, spacing_mm))
                labels.append(class_folder.name)
                patients.append(plane.patient)
                paths.append(str(path))
    return LabelledImages(np.stack(images).astype(np.float32), labels, patients, paths, spacing_mm)
