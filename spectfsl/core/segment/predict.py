"""`segment predict`'s workflow: output names, collision checks, per-scan errors and writing, beside
`fit_segmenter` (as `proto predict`'s is `fewshot.workflows.predict_images`)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spectfsl.core.files.atomic import check_new_output
from spectfsl.core.files.loader import BadInput, Gate, expand_inputs, is_gated, iter_studies
from spectfsl.core.files.nifti_writer import write_label_nifti
from spectfsl.core.files.paths import output_stems
from spectfsl.core.image import GatedImage, SpectImage
from spectfsl.core.segment.gated import gated_volume_row, inconsistent_in_time, segment_gates
from spectfsl.core.segment.model_file import Segmenter
from spectfsl.core.segment.output import write_dicom_seg
from spectfsl.core.segment.plausibility import implausible
from spectfsl.core.segment.workflows import check_compatible, segment_image, volume_row
from spectfsl.errors import SpectfslError, SpectfslWarning

#: How a DICOM SEG names the patient: as its source does (DICOM's rule), or by pseudonym only.
SEG_IDENTITIES = ("source", "pseudonym")

#: Draws a scan's QC figure: (path, scan, class-id map, what to check) -> None.
QcDrawer = Callable[[Path, SpectImage, np.ndarray, list[str]], None]


@dataclass(frozen=True)
class PredictOutputs:
    """Where `segment predict` writes: label maps in `folder`; a DICOM SEG per scan when `seg_identity`
    is set (`SEG_IDENTITIES`); QC figures in `qc_folder` when set. `voxel_mm` replaces the scans'
    header spacing (a placeholder)."""

    folder: Path
    seg_identity: str | None = None
    qc_folder: Path | None = None
    drop_stray: bool = False
    voxel_mm: float | None = None

    def __post_init__(self) -> None:
        if self.seg_identity not in (None, *SEG_IDENTITIES):
            raise SpectfslError(f"seg_identity must be one of {', '.join(SEG_IDENTITIES)}, got '{self.seg_identity}'")

    def files(self, stem: str) -> list[Path]:
        """Every file a scan of output stem `stem` gets."""
        written = [self.folder / f"{stem}_labels.nii.gz"]
        if self.seg_identity is not None:
            written.append(self.folder / f"{stem}_seg.dcm")
        if self.qc_folder is not None:
            written.append(self.qc_folder / f"{stem}_qc.png")
        return written


def any_gated(specs: Iterable[str]) -> bool:
    """Whether any input is a whole gated study (from the headers; an input that cannot be listed is
    left to the run to report)."""
    for spec in specs:
        try:
            items = expand_inputs([spec])
        except SpectfslError:
            continue
        if any(is_gated(item, frame) for item, frame in items):
            return True
    return False


def output_names(specs: Iterable[str], skip_bad: bool = False) -> dict[str, str]:
    """Input source -> output stem (`output_stems`: inputs of one file stem are named apart by their
    parent folders); an input that cannot be listed is left out with `skip_bad` (it is reported
    where it is read), else its error is raised. Frames (`PATH@N`) are refused: whole scans only (a
    gate, `PATH@gN`, is a whole volume)."""
    sources: list[str] = []
    for spec in specs:
        try:
            items = expand_inputs([spec])
        except SpectfslError:
            if not skip_bad:
                raise
            continue
        for item, frame in items:
            if isinstance(frame, Gate):
                sources.append(f"{item}@g{frame.number}")
            elif frame is not None:
                raise SpectfslError(f"{spec}: segment takes whole scans; give the file, not PATH@N")
            else:
                sources.append(str(item))
    return output_stems(sources)


def prepare_outputs(outputs: PredictOutputs, names: dict[str, str], overwrite: bool = False) -> None:
    """Refuse (exit 2) a file that exists unless `overwrite`, then create the output folders."""
    for stem in names.values():
        for path in outputs.files(stem):
            check_new_output(path, overwrite)
    outputs.folder.mkdir(parents=True, exist_ok=True)
    if outputs.qc_folder is not None:
        outputs.qc_folder.mkdir(parents=True, exist_ok=True)


def prediction_columns(
    segmenter: Segmenter, outputs: PredictOutputs, skip_bad: bool = False, gated: bool = False
) -> list[str]:
    """`segment predict`'s columns: path, output[, dicom_seg], voxels and ml per class, [gates and each
    class's ml per gate, where an input is a gated study], ood[, qc][, error]."""
    columns = ["path", "output", *(["dicom_seg"] if outputs.seg_identity else [])]
    for _, name in segmenter.info.classes.foreground:
        columns += [f"{name}_voxels", f"{name}_ml"]
    if gated:
        columns += ["gates", *(f"{name}_ml_per_gate" for _, name in segmenter.info.classes.foreground)]
    return columns + ["ood", *(["qc"] if outputs.qc_folder else []), *(["error"] if skip_bad else [])]


def predict_scans(
    segmenter: Segmenter,
    specs: Iterable[str],
    names: dict[str, str],
    outputs: PredictOutputs,
    version: str,
    skip_bad: bool = False,
    draw_qc: QcDrawer | None = None,
) -> Iterator[dict[str, Any]]:
    """One row per scan, in input order, each scan read, labelled and written in turn (flat memory).

    `ood` is true where the map is implausible (`plausibility.implausible`), the scan is outside
    the voxel sizes the model was made for, or a gated study's maps disagree over the cycle
    (`gated.inconsistent_in_time`); a SpectfslWarning then says what to check. A gated study is
    labelled gate by gate into one 4D label map. With `skip_bad`, a scan that cannot be read or
    labelled gives a row with its `path` and `error`.
    """
    for image in iter_studies(specs, skip_bad):
        if isinstance(image, BadInput):
            yield {"path": image.path, "error": image.error}
            continue
        try:
            yield _predict_one(segmenter, image.with_voxel_mm(outputs.voxel_mm), names, outputs, version, draw_qc)
        except SpectfslError as error:
            if not skip_bad:
                raise
            yield {"path": image.source, "error": str(error)}


def _predict_one(segmenter, image: SpectImage | GatedImage, names, outputs: PredictOutputs, version: str, draw_qc):
    if isinstance(image, GatedImage):
        return _predict_gated(segmenter, image, names, outputs, draw_qc)
    note = check_compatible(segmenter, image)
    stem = names[image.label]
    classes = segmenter.info.classes
    label_ids = segment_image(segmenter, image, outputs.drop_stray)
    nifti = outputs.folder / f"{stem}_labels.nii.gz"
    write_label_nifti(nifti, image, label_ids)
    row: dict[str, Any] = {"path": image.source, "output": str(nifti)}
    if outputs.seg_identity is not None:
        seg = outputs.folder / f"{stem}_seg.dcm"
        anonymous = outputs.seg_identity == "pseudonym"
        write_dicom_seg(seg, image, label_ids, classes.foreground, version, anonymous=anonymous)
        row["dicom_seg"] = str(seg)
    reasons = _reasons(segmenter, note, image, label_ids)
    _report(row, image.label, image, label_ids, reasons, outputs.qc_folder and outputs.qc_folder / f"{stem}_qc.png",
            draw_qc)  # fmt: skip
    return {**row, **volume_row(image, label_ids, classes), "ood": bool(reasons)}


def _reasons(segmenter: Segmenter, note: str | None, image: SpectImage, label_ids: np.ndarray) -> list[str]:
    """What to check in a map: voxels unlike the model's (`note`), and what makes it implausible."""
    classes = segmenter.info.classes
    return ([note.split(": ", 1)[-1]] if note else []) + implausible(
        image, label_ids, classes, segmenter.info.support_profiles
    )


def _report(row, label: str, image, label_ids, reasons: list[str], qc: Path | None, draw_qc) -> None:
    """One warning line naming what to check, and the QC figure (its path in the row)."""
    if reasons:
        placeholder = any("placeholder spacing" in reason for reason in reasons)
        hint = "; give {pixel_mm} with the true voxel size" if placeholder else ""
        message = SpectfslWarning(f"{label}: check this map: {'; '.join(reasons)}{hint}", settings="pixel_mm")
        warnings.warn(message, stacklevel=4)
    if qc is not None and draw_qc is not None:
        row["qc"] = str(qc)
        draw_qc(qc, image, label_ids, reasons)


def _predict_gated(segmenter, study: GatedImage, names, outputs: PredictOutputs, draw_qc) -> dict[str, Any]:
    """A gated study's row: every gate labelled, one 4D label map, volumes per gate; no DICOM SEG (a
    warning says so: the 4D NIfTI holds every gate); the QC figure shows end-diastole's gate."""
    note = check_compatible(segmenter, study.gates[0])
    stem = names[study.source]
    classes = segmenter.info.classes
    label_ids = segment_gates(segmenter, study, outputs.drop_stray)
    nifti = outputs.folder / f"{stem}_labels.nii.gz"
    write_label_nifti(nifti, study, label_ids)
    row: dict[str, Any] = {"path": study.source, "output": str(nifti)}
    if outputs.seg_identity is not None:
        warnings.warn(
            f"{study.source}: no DICOM SEG for a gated study (its 4D label map {nifti.name} holds every gate)",
            SpectfslWarning,
            stacklevel=3,
        )
    largest = int(np.argmax([(gate > 0).sum() for gate in label_ids]))
    ed_image, ed_labels = study.gates[largest], label_ids[largest]
    reasons = _reasons(segmenter, note, ed_image, ed_labels) + inconsistent_in_time(label_ids, classes)
    _report(row, study.source, ed_image, ed_labels, reasons, outputs.qc_folder and outputs.qc_folder / f"{stem}_qc.png",
            draw_qc)  # fmt: skip
    return {**row, **gated_volume_row(study, label_ids, classes), "ood": bool(reasons)}
