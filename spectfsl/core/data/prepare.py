"""Pair scans with their label maps or masks, as `prepare` receives them, and prepare datasets from them."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from spectfsl.core.data.datasets import (
    LabelledScan,
    ManifestRow,
    PrepareSettings,
    check_class_name,
    check_classes_present,
    classes_found,
    label_ids,
    masks_from_labels,
    parse_classes,
    prepare_dataset,
    unnamed_ids_warning,
)
from spectfsl.core.data.patients import DEFAULT_PATIENT_FROM, carries_no_patient, patient_from_path
from spectfsl.core.files.atomic import write_text_atomic
from spectfsl.core.files.dicom import patient_identities
from spectfsl.core.files.loader import expand_inputs, load_gated_labels, load_image, load_study
from spectfsl.core.image import GatedImage, SpectImage, placeholder_note
from spectfsl.core.processing.label_fit import labels_on_scan, warn_if_unfit
from spectfsl.core.processing.masks import derive_from_wall
from spectfsl.errors import SpectfslError, SpectfslWarning


def parse_mask_options(options: Sequence[str]) -> dict[str, list[Path]]:
    """['heart=a.png', 'liver=b.png', 'heart=c.png'] -> {'heart': [a.png, c.png], 'liver': [b.png]}."""
    masks: dict[str, list[Path]] = {}
    for option in options:
        name, sep, path = option.partition("=")
        if not sep or not path:
            raise SpectfslError(f"{{masks}}: '{option}' is not of the form NAME=PATH", settings="masks")
        masks.setdefault(check_class_name(name.strip()), []).append(Path(path))
    return masks


def labelled_scans(
    inputs: Sequence[tuple[Path, int | None]],
    labels: Sequence[Path],
    classes: dict[int, str] | None,
    masks: dict[str, list[Path]],
    derive_from: str | None = None,
    patient_from: str = DEFAULT_PATIENT_FROM,
    gates: bool = False,
) -> Iterator[LabelledScan]:
    """Load each input with its masks, lazily; label maps and masks pair with inputs in order.

    `derive_from` names a wall class whose mask yields the `ventricles` and `extracardiac` classes
    (see `spectfsl.core.processing.masks`). A file without a DICOM patient takes the patient
    `patient_from` reads from its path (`data.patients`). With `gates`, a gated study with its 4D
    label map gives one labelled scan per gate (each gate's image named `PATH@gN`); without, a gated
    study is read as the sum of its gates (`as_volume`).
    """
    if labels and len(labels) != len(inputs):
        raise SpectfslError(
            f"{{labels}}: {len(labels)} label maps for {len(inputs)} images; give one per image, in order",
            settings="labels",
        )
    for name, paths in masks.items():
        if len(paths) != len(inputs):
            raise SpectfslError(
                f"{{masks}} {name}: {len(paths)} masks for {len(inputs)} images; give one per image, in order",
                settings="masks",
            )
    present: set[int] = set()
    for index, (path, frame) in enumerate(inputs):
        study = load_study(path, frame) if gates else load_image(path, frame)
        if isinstance(study, GatedImage):
            for gate, label_map in _gated_pairs(study, labels[index] if labels else None, classes, masks, derive_from):
                present |= label_ids(label_map)
                if carries_no_patient(gate.source):
                    gate = replace(gate, patient=patient_from_path(gate.source, patient_from))
                yield LabelledScan(gate, masks_from_labels(label_map, classes))
            continue
        image = study
        if carries_no_patient(image.source):
            image = replace(image, patient=patient_from_path(image.source, patient_from))
        scan_masks: dict[str, np.ndarray] = {}
        if labels and classes:
            label_map = load_image(labels[index], frame)
            present |= label_ids(label_map)
            label_map = label_map.with_pixels(labels_on_scan(image, label_map))
            _check_shape(labels[index], label_map.pixels, image.pixels, image.source)
            scan_masks.update(masks_from_labels(label_map, classes))
            warn_if_unfit(image, np.rint(label_map.pixels).astype(np.int64), classes, str(labels[index]))
        for name, paths in masks.items():
            mask = labels_on_scan(image, load_image(paths[index], frame))
            _check_shape(paths[index], mask, image.pixels, image.source)
            scan_masks[name] = mask > 0
            warn_if_unfit(image, scan_masks[name].astype(np.int64), {1: name}, str(paths[index]))
        if derive_from is not None:
            if derive_from not in scan_masks:
                raise SpectfslError(
                    f"{{derive_from}} {derive_from}: no class of that name among the labels or masks",
                    settings="derive_from",
                )
            scan_masks.update(derive_from_wall(scan_masks[derive_from], image.pixels > 0, image.pixel_spacing_mm))
        yield LabelledScan(image, scan_masks)
    if labels and classes:
        check_classes_present(classes, present, [str(p) for p in labels])
        unnamed = unnamed_ids_warning(classes, present)
        if unnamed:
            warnings.warn(unnamed, SpectfslWarning, stacklevel=2)


def _gated_pairs(
    study: GatedImage, labels: Path | None, classes: dict[int, str] | None, masks: dict, derive_from: str | None
) -> Iterator[tuple[SpectImage, SpectImage]]:
    """(gate, its label map) for every gate of a gated study labelled by a 4D label map of as many
    gates; masks and a derived cavity are refused (they label one volume)."""
    if masks or derive_from or labels is None or not classes:
        raise SpectfslError(
            f"{study.source}: a gated study is labelled by a 4D label map with a label per gate, not by masks "
            "or a wall to derive the cavity from"
        )
    for gate, label_map in zip(study.gates, load_gated_labels(labels, study).gates):
        _check_shape(labels, label_map.pixels, gate.pixels, gate.label)
        yield gate, label_map


def _check_shape(mask_path: Path, mask: np.ndarray, pixels: np.ndarray, source: str) -> None:
    if mask.shape != pixels.shape:
        raise SpectfslError(f"{mask_path}: shape {mask.shape} differs from its image {source} {pixels.shape}")


def prepare(
    images: Sequence[str | Path],
    out: str | Path,
    labels: Sequence[str | Path] = (),
    classes: dict[int, str] | str | None = None,
    masks: dict[str, Sequence[str | Path]] | None = None,
    derive_from: str | None = None,
    settings: PrepareSettings | None = None,
    on_scan: Callable[[int, int], None] | None = None,
    patient_map: str | Path | None = None,
) -> list[ManifestRow]:
    """`spectfsl prepare` from Python: scans (+ label maps or {class: [mask per scan]}) -> dataset in `out`.
    `classes` names the label maps' ids (default: every id found, `classes_found`).

    `on_scan(done, total)` reports progress in scans. DICOM patients are named by pseudonyms, other
    files' patients read from their paths (`settings.patient_from`); with
    `patient_map`, a CSV (pseudonym,patient_id) links them back (the only file that names patients).
    """
    inputs = expand_inputs(images)
    class_map = None
    if labels:
        if classes is None:
            class_map = classes_found(load_image(path) for path in labels)
        else:
            class_map = parse_classes(classes) if isinstance(classes, str) else classes
    mask_paths = {name: [Path(p) for p in paths] for name, paths in (masks or {}).items()}
    settings = settings or PrepareSettings()
    scans = labelled_scans(inputs, [Path(p) for p in labels], class_map, mask_paths, derive_from, settings.patient_from)
    done = 0

    def report(_image) -> None:
        nonlocal done
        done += 1
        if on_scan is not None:
            on_scan(done, len(inputs))

    rows = prepare_dataset(_placeholders_said(scans), out, settings, report)
    if patient_map is not None:
        identities = patient_identities([item for item, _ in inputs])
        lines = ["pseudonym,patient_id"] + [f"{name},{_csv_cell(identity)}" for name, identity in identities.items()]
        write_text_atomic(patient_map, "\n".join(lines) + "\n")
    return rows


def _placeholders_said(scans: Iterator[LabelledScan]) -> Iterator[LabelledScan]:
    """The scans, with a warning for each whose voxel size looks like a placeholder (crops are cut in mm)."""
    for scan in scans:
        note = placeholder_note(scan.image, "crops cut in mm from it cover more than they should; fix its header")
        if note:
            warnings.warn(note, SpectfslWarning, stacklevel=2)
        yield scan


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text
