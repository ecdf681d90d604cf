"""`spectfsl quantify`: one scan's read-out (LV axis, polar map, 17 segments, walls, defect extent,
volumes), rest/stress differences, and per-segment z-scores against a normal-limits file."""

from __future__ import annotations

import csv
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from spectfsl.core.image import GatedImage, SpectImage, placeholder_note
from spectfsl.core.processing.label_fit import WALL_NAMES, labels_on_scan, warn_if_unfit
from spectfsl.core.quantify.axis import LVAxis, lv_axis
from spectfsl.core.quantify.function import LVFunction, lv_function
from spectfsl.core.quantify.geometry import ScanFrame, scan_frame
from spectfsl.core.quantify.polar import WALLS, PolarMap, polar_map
from spectfsl.core.quantify.surface import enclosed_cavity_ml
from spectfsl.errors import SpectfslError, SpectfslWarning

#: Default `--defect-threshold` (% of the map's maximum): see the docs' quantify page for how it was chosen.
DEFECT_THRESHOLD = 60.0
SEGMENTS = tuple(range(1, 18))
#: Class names that mean each LV class in a label map or model (the first found is used).
MYOCARDIUM_NAMES = WALL_NAMES
CAVITY_NAMES = ("cavity", "lv_cavity", "ventricles", "blood")
RV_NAMES = ("rv", "right_ventricle", "rv_myocardium")


#: The columns a gated study adds (then its cavity volume per gate).
FUNCTION_COLUMNS = (
    "gates", "edv_ml", "esv_ml", "sv_ml", "lvef_pct", "lvef_fit_pct", "ed_gate", "es_gate", "volume_curve"
)  # fmt: skip


def columns(rest: bool = False, normal_limits: bool = False, gates: int = 0, per_gate_list: bool = False) -> list[str]:
    """The row's columns (rest and z-score columns when asked for; with `gates`, the LV function of
    gated studies and their cavity volume per gate: one list column, `cavity_ml_per_gate`, with
    `per_gate_list` (JSON), else one column per gate, `cavity_ml_g1`...)."""
    out = ["path", "lv_cavity_ml", "myocardium_ml"]
    if gates:
        out += [*FUNCTION_COLUMNS]
        out += ["cavity_ml_per_gate"] if per_gate_list else [f"cavity_ml_g{g}" for g in range(1, gates + 1)]
    out += [f"{point}_{axis}" for point in ("apex", "base") for axis in "xyz"]
    out += ["septum", *(f"seg{s}" for s in SEGMENTS), *WALLS, "defect_extent_pct", "polar_filled_pct", "polar"]
    if rest:
        out += ["rest_path", *(f"rest_seg{s}" for s in SEGMENTS), *(f"diff_seg{s}" for s in SEGMENTS)]
        out += ["rest_defect_extent_pct"]
    if normal_limits:
        out += [f"z_seg{s}" for s in SEGMENTS]
    return out + ["space", *(f"{point}_patient_{axis}" for point in ("apex", "base") for axis in "xyz")]


@dataclass
class Readout:
    """One scan's quantification: its row, polar map, axis and frame (for figures and outputs)."""

    row: dict[str, Any]
    polar: PolarMap
    axis: LVAxis
    frame: ScanFrame
    warnings: list[str] = field(default_factory=list)
    #: a gated study's LV function (None for a static scan)
    function: LVFunction | None = None
    #: the LV myocardium the read-out sampled ((slice, row, col), its largest piece)
    myocardium: np.ndarray | None = None

    def gate_cells(self) -> dict[str, float]:
        """The cavity volume per gate as one column per gate (`cavity_ml_g1`...), for CSV and tables."""
        volumes = self.row.get("cavity_ml_per_gate") or []
        return {f"cavity_ml_g{gate}": value for gate, value in enumerate(volumes, start=1)}


def class_masks(label_ids: np.ndarray, classes: dict[int, str]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(myocardium, cavity, rv or None) masks from a class-id map and {id: name}; ids not named are
    background. A map without a myocardium or cavity class is refused."""

    def find(names: tuple[str, ...]) -> int | None:
        return next((i for i, name in classes.items() if name.lower() in names), None)

    wall, cavity, rv = find(MYOCARDIUM_NAMES), find(CAVITY_NAMES), find(RV_NAMES)
    if wall is None or cavity is None:
        named = ", ".join(f"{i}={n}" for i, n in classes.items())
        raise SpectfslError(
            f"quantify needs an LV myocardium and an LV cavity class (named {MYOCARDIUM_NAMES[0]} and "
            f"{CAVITY_NAMES[0]}), got {named}: give {{classes}} 1=myocardium,2=cavity",
            settings="classes",
        )
    return label_ids == wall, label_ids == cavity, (label_ids == rv) if rv is not None else None


def quantify(
    image: SpectImage, label_ids: np.ndarray, classes: dict[int, str], sampling: str = "max",
    defect_threshold: float = DEFECT_THRESHOLD,
) -> Readout:  # fmt: skip
    """The read-out of one volume from its class-id map (same grid): see `polar` and `axis`."""
    if not image.is_volume or label_ids.shape != image.pixels.shape:
        raise SpectfslError(f"{image.label}: quantify takes a volume and a label map of the same shape")
    myocardium, cavity, rv = class_masks(label_ids, classes)
    myocardium, cavity = largest_lv(myocardium, cavity)
    frame = scan_frame(image)
    axis = lv_axis(frame, myocardium, cavity, rv)
    polar = polar_map(image.pixels, myocardium, frame, axis, sampling)
    row: dict[str, Any] = {
        "path": image.source,
        "lv_cavity_ml": round(float(cavity.sum()) * frame.voxel_ml, 2),
        "myocardium_ml": round(float(myocardium.sum()) * frame.voxel_ml, 2),
    }
    for name, point in (("apex", axis.apex), ("base", axis.base)):
        column, row_index, slice_index = frame.to_array(point[None])[0]
        x, y, z = image.file_index(column, row_index, slice_index)
        row.update({f"{name}_x": round(float(x), 2), f"{name}_y": round(float(y), 2), f"{name}_z": round(float(z), 2)})
    row["septum"] = axis.septum
    row.update({f"seg{s}": _rounded(v) for s, v in polar.segments().items()})
    row.update({wall: _rounded(v) for wall, v in polar.walls().items()})
    row["defect_extent_pct"] = round(polar.extent_below(defect_threshold), 1)
    row["polar_filled_pct"] = round(polar.filled_pct, 1)
    row["polar"] = None
    row["space"] = "LPS"
    for name, point in (("apex", axis.apex), ("base", axis.base)):
        row.update({f"{name}_patient_{a}": round(float(v), 2) for a, v in zip("xyz", point)})
    warnings = [] if frame.oriented else [
        f"{image.label}: the file gives no orientation: taken as standard transaxial (columns to the patient's "
        "left, rows posterior, slices superior); the septum and walls may be wrong"
    ]  # fmt: skip
    return Readout(row, polar, axis, frame, warnings, myocardium=myocardium)


def largest_lv(myocardium: np.ndarray, cavity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The myocardium and cavity of the largest connected piece of their union: the LV is one piece,
    and a predicted map's stray islands (in the RV, liver or gut) would tilt its axis."""
    pieces, count = ndimage.label(myocardium | cavity, structure=np.ones((3, 3, 3)))
    if count <= 1:
        return myocardium, cavity
    largest = np.argmax(np.bincount(pieces.ravel())[1:]) + 1
    return myocardium & (pieces == largest), cavity & (pieces == largest)


def rest_scan_of(path: str | os.PathLike) -> Path:
    """The rest file of a stress file, by name: 'stress' replaced by 'rest' in its file name (any case);
    refused (exit 2) when the name has no 'stress' or the rest file is missing."""
    path = Path(path)

    def rest(match: re.Match) -> str:
        word = match.group()
        return "rest" if word.islower() else "REST" if word.isupper() else "Rest"

    renamed = re.sub("stress", rest, path.name, flags=re.IGNORECASE)
    if renamed == path.name:
        raise SpectfslError(
            f"{path}: {{rest}} auto pairs files by name, and this one has no 'stress' in its name", settings="rest"
        )
    if not path.with_name(renamed).exists():
        raise SpectfslError(
            f"{path}: {{rest}} auto looked for {path.with_name(renamed)}, which does not exist", settings="rest"
        )
    return path.with_name(renamed)


def add_rest(stress: Readout, rest: Readout, defect_threshold: float = DEFECT_THRESHOLD) -> None:
    """Per-segment rest values and stress - rest differences (percentage points) in the stress row."""
    stress.row["rest_path"] = rest.row["path"]
    for s in SEGMENTS:
        stress.row[f"rest_seg{s}"] = rest.row[f"seg{s}"]
        both = stress.row[f"seg{s}"], rest.row[f"seg{s}"]
        stress.row[f"diff_seg{s}"] = None if None in both else round(both[0] - both[1], 1)
    stress.row["rest_defect_extent_pct"] = round(rest.polar.extent_below(defect_threshold), 1)


def read_normal_limits(path: str | os.PathLike) -> dict[int, tuple[float, float]]:
    """A normal-limits CSV (`segment,mean,sd`: segments 1-17, uptake in % of the maximum, as this
    tool measures it) -> {segment: (mean, sd)}; refused (exit 2) when malformed."""
    limits: dict[int, tuple[float, float]] = {}
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                segment, mean, sd = int(row["segment"]), float(row["mean"]), float(row["sd"])
                if segment not in SEGMENTS or sd <= 0:
                    raise ValueError(f"segment {segment}: segments are 1-17 and sd must be positive")
                limits[segment] = (mean, sd)
    except (OSError, KeyError, ValueError) as error:
        raise SpectfslError(f"{path}: not a normal-limits file (columns segment,mean,sd): {error}") from None
    missing = sorted(set(SEGMENTS) - set(limits))
    if missing:
        raise SpectfslError(f"{path}: no normal limits for segment(s) {', '.join(map(str, missing))}")
    return limits


def add_z_scores(readout: Readout, limits: dict[int, tuple[float, float]]) -> None:
    """z = (value - normal mean) / normal sd per segment (negative: below normal)."""
    for s in SEGMENTS:
        value = readout.row[f"seg{s}"]
        mean, sd = limits[s]
        readout.row[f"z_seg{s}"] = None if value is None else round((value - mean) / sd, 2)


def short_axis_volume(
    image: SpectImage, readout: Readout, step_mm: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The counts resampled into short-axis slices (apex to base), anterior up and septum left in
    each slice: (array (slices, rows, cols), 4 x 4 RAS affine of its (col, row, slice) voxels)."""
    axis, frame = readout.axis, readout.frame
    step = step_mm or float(np.linalg.norm(frame.matrix, axis=0).min())
    half = float(np.linalg.norm(axis.apex - axis.base)) * 0.75 + 20.0
    side = int(np.ceil(2 * half / step)) + 1
    depth = int(np.ceil((axis.length_mm + 2 * step) / step)) + 1
    columns_dir, rows_dir, slices_dir = -axis.septal, -axis.anterior, -axis.long
    middle = (axis.apex + axis.base) / 2
    corner = middle - (side - 1) / 2 * step * (columns_dir + rows_dir) - (depth - 1) / 2 * step * slices_dir
    k, j, i = np.meshgrid(np.arange(depth), np.arange(side), np.arange(side), indexing="ij")
    points = corner + step * (i[..., None] * columns_dir + j[..., None] * rows_dir + k[..., None] * slices_dir)
    positions = frame.to_array(points.reshape(-1, 3))[:, ::-1].T
    volume = ndimage.map_coordinates(image.pixels.astype(np.float32), positions, order=1, mode="constant")
    lps = np.eye(4)
    lps[:3, 0], lps[:3, 1], lps[:3, 2], lps[:3, 3] = step * columns_dir, step * rows_dir, step * slices_dir, corner
    ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps
    return volume.reshape(depth, side, side).astype(np.float32), ras


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class ScanReader:
    """`quantify`'s reading of scans: each scan (with `voxel_mm` replacing a placeholder spacing, which
    is otherwise named in a warning) read out from its label map (ids named by `classes`), or from the
    map of the segmentation `model` (opened on first use, on `device`: a name such as `auto`, or a
    `torch.device`) when it has none."""

    def __init__(
        self,
        classes: dict[int, str],
        model: str = "builtin",
        device: Any = "auto",
        sampling: str = "max",
        defect_threshold: float = DEFECT_THRESHOLD,
        voxel_mm: float | None = None,
    ) -> None:
        self.classes, self.model, self.device = classes, model, device
        self.sampling, self.defect_threshold, self.voxel_mm = sampling, defect_threshold, voxel_mm
        self._segmenter = None

    def read(self, scan: str | os.PathLike, label_map: str | os.PathLike | None = None) -> tuple[SpectImage, Readout]:
        """(the scan as read out, its read-out); warnings (placeholder spacing, no orientation, voxels
        unlike the model's) as SpectfslWarnings."""
        from spectfsl.core.data.datasets import label_ids
        from spectfsl.core.files.loader import load_image, load_study

        study = load_study(scan)
        if isinstance(study, GatedImage):
            return self._read_gated(study, label_map)
        image = study
        note = placeholder_note(image) if self.voxel_mm is None else None
        if note:
            warnings.warn(note, SpectfslWarning, stacklevel=2)
        image = image.with_voxel_mm(self.voxel_mm)
        if label_map is not None:
            labels = load_image(label_map)
            label_ids(labels)  # refuses what is no label map
            ids, classes = np.rint(labels_on_scan(image, labels)).astype(int), self.classes
            warn_if_unfit(image, ids, classes, str(label_map))
        else:
            ids, classes = self._segment(image)
        readout = quantify(image, ids, classes, self.sampling, self.defect_threshold)
        for line in readout.warnings:
            warnings.warn(line, SpectfslWarning, stacklevel=2)
        return image, readout

    def _read_gated(self, study: GatedImage, label_map: str | os.PathLike | None) -> tuple[SpectImage, Readout]:
        """A gated study: the perfusion read-out of the summed gates (on the map most gates agree on),
        and the LV function: from the cavity each gate's wall encloses (`surface`, on the summed study's
        rays) where a model labelled the gates, from the labelled cavity where `label_map` gives it."""
        from spectfsl.core.data.datasets import label_ids
        from spectfsl.core.files.loader import load_gated_labels

        note = placeholder_note(study.gates[0]) if self.voxel_mm is None else None
        if note:
            warnings.warn(note, SpectfslWarning, stacklevel=3)
        study = study.with_voxel_mm(self.voxel_mm)
        if label_map is not None:
            labels = load_gated_labels(label_map, study)
            for gate in labels.gates:
                label_ids(gate)  # refuses what is no label map
            ids, classes = np.stack([gate.pixels.astype(int) for gate in labels.gates]), self.classes
        else:
            ids, classes = self._segment_gates(study)
        if ids.shape[1:] != study.gates[0].pixels.shape:
            raise SpectfslError(f"{study.source}: quantify takes a study and a label map of the same shape")
        summed, agreed = study.summed(), agreed_labels(ids)
        if label_map is not None:
            warn_if_unfit(summed, agreed, classes, str(label_map))
        readout = quantify(summed, agreed, classes, self.sampling, self.defect_threshold)
        lv = [largest_lv(*class_masks(gate_ids, classes)[:2]) for gate_ids in ids]
        if label_map is not None:  # the contours given define the cavity, as an expert's do
            cavity = [float(gate_cavity.sum()) * readout.frame.voxel_ml for _, gate_cavity in lv]
        else:
            walls = np.stack([wall for wall, _ in lv])
            cavity = enclosed_cavity_ml(walls, readout.myocardium, readout.frame, readout.axis)
        readout.function = lv_function(cavity)
        readout.row.update(readout.function.row())
        for line in readout.warnings:
            warnings.warn(line, SpectfslWarning, stacklevel=3)
        return summed, readout

    def _model(self):
        from spectfsl.core.device import pick_device
        from spectfsl.core.segment.model_file import open_segmenter

        if self._segmenter is None:
            device = pick_device(self.device) if isinstance(self.device, str) else self.device
            self._segmenter = open_segmenter(self.model, device)
        return self._segmenter

    def _segment(self, image: SpectImage) -> tuple[np.ndarray, dict[int, str]]:
        from spectfsl.core.segment.workflows import check_compatible, segment_image

        segmenter = self._model()
        note = check_compatible(segmenter, image)
        if note:
            warnings.warn(note, SpectfslWarning, stacklevel=3)
        return segment_image(segmenter, image), dict(segmenter.info.classes.foreground)

    def _segment_gates(self, study: GatedImage) -> tuple[np.ndarray, dict[int, str]]:
        from spectfsl.core.segment.gated import segment_gates
        from spectfsl.core.segment.workflows import check_compatible

        segmenter = self._model()
        note = check_compatible(segmenter, study.gates[0])
        if note:
            warnings.warn(note, SpectfslWarning, stacklevel=4)
        return segment_gates(segmenter, study), dict(segmenter.info.classes.foreground)


def classical_function(study: GatedImage, readout: Readout) -> LVFunction:
    """The clinical packages' way to LV function, as a baseline beside the learned one: count-based
    endocardial edges gate by gate (`edges`) on the rays of the study's read-out (`ScanReader`)."""
    from spectfsl.core.quantify.edges import count_based_cavity_ml

    return lv_function(count_based_cavity_ml(study, readout.myocardium, readout.frame, readout.axis))


def agreed_labels(per_gate: np.ndarray) -> np.ndarray:
    """The label most gates give each voxel ((gates, ...) class ids -> (...)): the map of the summed
    gates, from which perfusion is read."""
    ids = np.unique(per_gate)
    votes = np.stack([(per_gate == i).sum(axis=0) for i in ids])
    return ids[votes.argmax(axis=0)]


def write_readout_files(paths: dict[str, Path], image: SpectImage, readout: Readout) -> None:
    """The polar map (`.npy`, float32, atomic) and the short-axis volume (NIfTI) of `stem_outputs`."""
    import nibabel as nib

    from spectfsl.core.files.atomic import atomic_file
    from spectfsl.core.files.nifti_writer import save_nifti

    with atomic_file(paths["polar_npy"]) as temporary, open(temporary, "wb") as handle:
        np.save(handle, readout.polar.values.astype(np.float32))
    volume, affine = short_axis_volume(image, readout)
    save_nifti(paths["short_axis"], nib.Nifti1Image(np.ascontiguousarray(volume.transpose(2, 1, 0)), affine))


def stem_outputs(folder: Path, stem: str, gated: bool = False) -> dict[str, Path]:
    """The files `--out` writes for a scan of output stem `stem` (and the volume curve of a gated study)."""
    paths = {
        "polar_png": folder / f"{stem}_polar.png",
        "polar_npy": folder / f"{stem}_polar.npy",
        "short_axis": folder / f"{stem}_short_axis.nii.gz",
    }
    if gated:
        paths["volume_curve"] = folder / f"{stem}_volume_curve.png"
    return paths
