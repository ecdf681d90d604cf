"""Labelled scans for `segment fit` and `segment evaluate`: images with label maps, masks or a wall
mask to derive the cavity from, turned into class-index maps over one list of classes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spectfsl.core.data.datasets import classes_found, parse_classes
from spectfsl.core.data.prepare import labelled_scans
from spectfsl.core.files.loader import load_image
from spectfsl.core.image import SpectImage
from spectfsl.core.processing.preprocess import normalise_intensity
from spectfsl.core.segment.training import SupportScan
from spectfsl.errors import SpectfslError

#: The class `--derive-from` adds: the cavity enclosed by the wall (its ring outside is not a tissue).
DERIVED_CLASS = "ventricles"


@dataclass(frozen=True)
class SegmentClasses:
    """Class ids as written in label maps (background 0 first) and their names."""

    ids: tuple[int, ...]
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.ids[0] != 0 or len(set(self.ids)) != len(self.ids) or len(self.ids) != len(self.names):
            raise SpectfslError("segmentation classes: background (id 0) first, distinct ids, one name each")
        if len(set(self.names)) != len(self.names):
            raise SpectfslError(f"segmentation classes: names must differ, got {', '.join(self.names)}")
        if not all(0 <= i <= 255 for i in self.ids):
            raise SpectfslError("segmentation class ids must be 0-255 (label maps are uint8)")

    @property
    def foreground(self) -> list[tuple[int, str]]:
        return list(zip(self.ids[1:], self.names[1:]))

    def index_map(self, masks: dict[str, np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
        """Class indices (0 = background, position in `ids`) from per-class masks; later classes win overlaps."""
        indices = np.zeros(shape, dtype=np.uint8)
        for index, name in enumerate(self.names[1:], start=1):
            if name in masks:
                indices[masks[name]] = index
        return indices

    def ids_of(self, indices: np.ndarray) -> np.ndarray:
        """Class indices -> class ids as given at fit time (uint8)."""
        return np.asarray(self.ids, dtype=np.uint8)[indices]

    def indices_of(self, label_ids: np.ndarray) -> np.ndarray:
        """Class ids -> class indices (uint8); an id that is not a class is background (0)."""
        lookup = np.zeros(max(256, int(label_ids.max(initial=0)) + 1), dtype=np.uint8)
        lookup[list(self.ids)] = np.arange(len(self.ids), dtype=np.uint8)
        return lookup[np.clip(label_ids, 0, None).astype(np.int64)]


def voxel_spacing(image: SpectImage) -> tuple[float, ...] | None:
    """Voxel size in mm along the array's axes (slices, rows, cols) or (rows, cols); None if unknown."""
    if image.pixel_spacing_mm is None:
        return None
    if image.is_volume:
        return (image.slice_spacing_mm or image.pixel_spacing_mm[0], *image.pixel_spacing_mm)
    return tuple(image.pixel_spacing_mm)


def choose_classes(
    classes: str | None, labels: Sequence[Path], mask_names: Sequence[str], derive_from: str | None
) -> SegmentClasses:
    """The classes of a fit: --classes (or every id found in the label maps, named by the phantom's
    convention), then one id per --mask name, then the derived cavity."""
    named: dict[int, str] = {}
    if labels:
        named = parse_classes(classes) if classes else classes_found(load_image(path) for path in labels)
    elif classes:
        raise SpectfslError(
            "{classes} names the ids of {labels} maps; give {labels}, or name masks with {mask}",
            settings=("classes", "labels", "mask"),
        )
    if 0 in named:
        raise SpectfslError("class id 0 is the background; give the tissue classes ids from 1")
    for name in [*mask_names, *([DERIVED_CLASS] if derive_from else [])]:
        if name in named.values():
            raise SpectfslError(
                f"class '{name}' is given twice (in {{classes}} and by {{mask}} or {{derive_from}})",
                settings=("classes", "mask", "derive_from"),
            )
        named[max(named, default=0) + 1] = name
    if not named:
        raise SpectfslError("no classes: give {labels} maps or {mask} NAME=PATH", settings=("labels", "mask"))
    return SegmentClasses((0, *named), ("background", *named.values()))


def load_labelled(
    images: Sequence[Path],
    labels: Sequence[Path],
    classes: SegmentClasses,
    masks: dict[str, list[Path]],
    derive_from: str | None,
) -> Iterator[tuple[SpectImage, np.ndarray]]:
    """Each image (raw counts) with its class-index map, lazily; each gate of a gated study with its
    4D label map is one (`labelled_scans`)."""
    elsewhere = set(masks) | ({DERIVED_CLASS} if derive_from else set())
    from_labels = {i: name for i, name in classes.foreground if name not in elsewhere}
    inputs = [(Path(path), None) for path in images]
    for scan in labelled_scans(inputs, list(labels), from_labels or None, masks, derive_from, gates=True):
        yield scan.image, classes.index_map(scan.masks, scan.image.pixels.shape)


def support_scan(image: SpectImage, indices: np.ndarray) -> SupportScan:
    """A labelled image as the training loop takes it (normalised intensities)."""
    return SupportScan(normalise_intensity(image.pixels), indices, image.source)
