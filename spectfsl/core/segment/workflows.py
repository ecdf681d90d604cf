"""`segment fit`, `segment predict` and `segment evaluate` as library calls."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spectfsl.core import distributed
from spectfsl.core.checkpoint import Checkpointer, fingerprint
from spectfsl.core.files.catalogue import default_init
from spectfsl.core.image import SpectImage
from spectfsl.core.processing import registration
from spectfsl.core.processing.preprocess import normalise_intensity
from spectfsl.core.segment import baselines
from spectfsl.core.segment.metrics import dice, hd95, mean_ci
from spectfsl.core.segment.model_file import Segmenter, SegmentInfo, open_segmenter, parent_of
from spectfsl.core.segment.pieces import keep_pieces, support_pieces
from spectfsl.core.segment.plausibility import scan_profile
from spectfsl.core.segment.settings import FROM_MODEL, NEW_CLASSES_STEPS, SegmentSettings
from spectfsl.core.segment.support import SegmentClasses, support_scan, voxel_spacing
from spectfsl.core.segment.training import fit_network, label_indices, with_batch_size
from spectfsl.core.tables import Table, number
from spectfsl.errors import SpectfslError

#: Most support scans a fit takes: few-shot, and the scans are held in memory together.
MAX_SUPPORT = 5
#: Relative difference of voxel size above which a scan is labelled with a warning.
SPACING_TOLERANCE = 0.25
#: The wall class the threshold baseline stands for, and the cavity class it derives by convex hull.
WALL_NAMES = ("myocardium",)
CAVITY_NAMES = ("ventricles", "cavity")


@dataclass(frozen=True)
class StartingPoint:
    """Where `segment fit` starts: a trained model (and how the new model names it), or random weights."""

    model: Segmenter | None
    parent: dict[str, str] | None

    def settings(self, classes: SegmentClasses | None = None, **given: Any) -> SegmentSettings:
        """Training settings: `given` values over the defaults of this starting point (`FROM_MODEL`
        from a model, whose channel count the network keeps; `NEW_CLASSES_STEPS` steps where the
        fit's `classes` differ from the model's, whose last layer then starts afresh)."""
        if self.model is None:
            return SegmentSettings(**given)
        channels = self.model.info.channels
        if given.get("channels", channels) != channels:
            raise SpectfslError(
                f"the starting model has {channels} channels, not {given['channels']}; "
                "leave channels out, or start from random weights"
            )
        defaults = dict(FROM_MODEL)
        if classes is not None and classes != self.model.info.classes:
            defaults["steps"] = NEW_CLASSES_STEPS
        return SegmentSettings(**{**defaults, **given, "channels": channels})


def starting_point(init: str | None, dims: int, device: torch.device | str = "cpu") -> StartingPoint:
    """`init` (`builtin`, `random`, a model file; None: the built-in model where there is one for
    `dims`-D scans, else random weights) as a starting point for fitting `dims`-D scans."""
    name = default_init(init, "segment", dims)
    if name == "random":
        return StartingPoint(None, None)
    model = open_segmenter(name, device, dims)
    if model.info.dims != dims:
        raise SpectfslError(f"{name}: a {model.info.dims}D model cannot start a fit on {dims}D scans")
    return StartingPoint(model, parent_of(name, dims))


def scan_fingerprint(image: SpectImage) -> str:
    """What identifies a scan's voxels (whatever its file is called)."""
    return fingerprint(image.pixels)


def fit_segmenter(
    labelled: Iterable[tuple[SpectImage, np.ndarray]],
    classes: SegmentClasses,
    settings: SegmentSettings,
    device: torch.device | str = "cpu",
    on_step: Callable[[int, float], None] | None = None,
    checkpointer: Checkpointer | None = None,
    initial: Segmenter | None = None,
    parent: dict[str, str] | None = None,
) -> Segmenter:
    """Train on 1-5 labelled scans ((image, class-index map) pairs; the gates of a gated study are
    pairs of one scan) and describe the model.

    `initial`: the model whose network training starts from (None: random weights); `parent` names
    it in the new model's metadata (`{"name", "sha256"}`).
    """
    pairs = list(labelled)
    studies = len({image.source for image, _ in pairs})
    if not pairs or studies > MAX_SUPPORT:
        raise SpectfslError(f"segment fit takes 1 to {MAX_SUPPORT} labelled scans, got {studies}")
    scans = [support_scan(image, indices) for image, indices in pairs]
    for index, name in classes.foreground:
        if not any((scan.labels == classes.ids.index(index)).any() for scan in scans):
            raise SpectfslError(f"class '{name}' (id {index}) has no voxel in any support scan")
    settings = with_batch_size(settings, [scan.pixels.shape for scan in scans])
    start = None if initial is None else initial.network
    network, prototypes, losses = fit_network(scans, len(classes.ids), settings, device, on_step, checkpointer, start)
    spacings = {voxel_spacing(image) for image, _ in pairs}
    info = SegmentInfo(
        method=settings.method,
        dims=pairs[0][0].pixels.ndim,
        channels=settings.channels,
        embedding=settings.embedding,
        class_ids=list(classes.ids),
        class_names=list(classes.names),
        # a model learned from its parent's training scans too: evaluation refuses them as well
        support_sha256=list(
            dict.fromkeys(
                [scan_fingerprint(image) for image, _ in pairs] + (initial.info.support_sha256 if initial else [])
            )
        ),
        support_spacing_mm=list(next(iter(spacings))) if len(spacings) == 1 and None not in spacings else None,
        threshold_fraction=_tuned_threshold(scans, classes),
        class_pieces=support_pieces([scan.labels for scan in scans], len(classes.ids)),
        parent=parent,
        support_profiles=[scan_profile(image, classes.ids_of(indices), classes) for image, indices in pairs],
        training={
            **_recorded(settings),
            "support": list(dict.fromkeys(Path(image.source).name for image, _ in pairs)),
            "world_size": distributed.current().world_size,
            "losses": losses,
            "final_loss": losses[-1],
        },
    )
    return Segmenter(network, prototypes, info)


def _recorded(settings: SegmentSettings) -> dict[str, Any]:
    """The settings as a model file records them; the resolution augmentation only where it is not
    the default, so that the built-in model's recipe still remakes the shipped file byte for byte."""
    recorded = asdict(settings)
    if recorded["resolution"] == SegmentSettings.resolution:
        del recorded["resolution"]
    return recorded


def _tuned_threshold(scans, classes: SegmentClasses) -> float:
    wall = _class_index(classes, WALL_NAMES)
    if wall is None:
        return math.nan
    return baselines.tune_fraction([(scan.pixels, scan.labels == wall) for scan in scans])


def _class_index(classes: SegmentClasses, names: Sequence[str]) -> int | None:
    return next((index for index, name in enumerate(classes.names) if name in names), None)


def check_compatible(segmenter: Segmenter, image: SpectImage) -> str | None:
    """Refuse an image of the wrong dimensionality; a warning (or None) when its voxel size differs."""
    if image.pixels.ndim != segmenter.info.dims:
        kind = "volumes" if segmenter.info.dims == 3 else "2D images"
        raise SpectfslError(f"{image.label}: this model labels {kind} (trained on {segmenter.info.dims}D scans)")
    expected, found = segmenter.info.support_spacing_mm, voxel_spacing(image)
    made_for = segmenter.info.voxel_range_mm
    if made_for and found and not all(made_for[0] <= f <= made_for[1] for f in found):
        shown = "x".join(f"{v:g}" for v in found)
        return (
            f"{image.label}: voxels of {shown} mm, outside the {made_for[0]:g}-{made_for[1]:g} mm this model was "
            "made for (or a placeholder spacing): labels may be poor, check them"
        )
    if expected and found and any(abs(f - e) > SPACING_TOLERANCE * e for e, f in zip(expected, found)):
        shown = "x".join(f"{v:g}" for v in found)
        trained = "x".join(f"{v:g}" for v in expected)
        return f"{image.label}: voxels of {shown} mm, the support scans' {trained} mm: labels may be poor"
    return None


def segment_image(segmenter: Segmenter, image: SpectImage, drop_stray: bool = False) -> np.ndarray:
    """Class ids (uint8, as given at fit time, 0 = background) of every voxel, in the image's array
    order; with `drop_stray`, each class cut down to as many connected pieces as in the support scans
    (`pieces.keep_pieces`; model files without the counts are left as they are)."""
    device = next(segmenter.network.parameters()).device
    window = int(segmenter.info.training.get("crop", SegmentSettings().crop))
    pixels = normalise_intensity(image.pixels)
    indices = label_indices(segmenter.network, segmenter.prototypes, pixels, window, device)
    label_ids = segmenter.info.classes.ids_of(indices)
    pieces = segmenter.info.class_pieces
    if not drop_stray or pieces is None:
        return label_ids
    return keep_pieces(label_ids, [class_id for class_id, _ in segmenter.info.classes.foreground], pieces)


def volume_row(image: SpectImage, label_ids: np.ndarray, classes: SegmentClasses) -> dict[str, Any]:
    """Per class: voxels and volume in ml (mm^3 / 1000; None where the voxel size is unknown)."""
    spacing = voxel_spacing(image)
    voxel_ml = float(np.prod(spacing)) / 1000.0 if spacing and image.is_volume else None
    row: dict[str, Any] = {}
    for class_id, name in classes.foreground:
        count = int((label_ids == class_id).sum())
        row[f"{name}_voxels"] = count
        row[f"{name}_ml"] = round(count * voxel_ml, 3) if voxel_ml is not None else None
    return row


@dataclass(frozen=True)
class ScanScore:
    """One method's scores on one scan, per class name: Dice and HD95 (mm; voxels when unknown)."""

    method: str
    path: str
    dice: dict[str, float]
    hd95_mm: dict[str, float]


def score(
    method: str, path: str, predicted: np.ndarray, reference: np.ndarray, names: dict[int, str], spacing
) -> ScanScore:
    """Dice and HD95 per class of a label map (class ids) against the reference (class ids)."""
    spacing = spacing or (1.0,) * predicted.ndim
    dices = {name: dice(predicted == i, reference == i) for i, name in names.items()}
    distances = {name: hd95(predicted == i, reference == i, spacing) for i, name in names.items()}
    return ScanScore(method, path, dices, distances)


def threshold_labels(segmenter: Segmenter, image: SpectImage) -> tuple[np.ndarray, tuple[int, ...]] | None:
    """The tuned intensity-threshold baseline: its label map (class ids) and the class ids it can label
    (the wall, and the cavity where the voxel size is known), or None without a myocardium class."""
    classes = segmenter.info.classes
    wall_index = _class_index(classes, WALL_NAMES)
    if wall_index is None or not math.isfinite(segmenter.info.threshold_fraction):
        return None
    wall = baselines.threshold_wall(normalise_intensity(image.pixels), segmenter.info.threshold_fraction)
    labels = np.zeros(image.pixels.shape, dtype=np.uint8)
    labels[wall] = classes.ids[wall_index]
    labelled = (classes.ids[wall_index],)
    cavity_index = _class_index(classes, CAVITY_NAMES)
    spacing = voxel_spacing(image)
    if cavity_index is not None and spacing is not None:
        labels[baselines.threshold_cavity(wall, spacing[-2:])] = classes.ids[cavity_index]
        labelled += (classes.ids[cavity_index],)
    return labels, labelled


#: The method name of the single-atlas registration baseline in evaluation tables.
ATLAS_REGISTRATION = "registration (atlas)"
#: Its registration: demons after the affine stages, the stronger and faster deformable model for
#: carrying labels (Dice, phantom and lvseg-mtu: `benchmarks/results/registration-settings.jsonl`).
ATLAS_SETTINGS = registration.RegistrationSettings(deformation="demons")


def atlas_labels(
    atlas: tuple[SpectImage, np.ndarray],
    image: SpectImage,
    settings: registration.RegistrationSettings | None = None,
) -> np.ndarray:
    """Single-atlas baseline: the atlas scan registered onto `image` (normalised intensities, each
    scan's own voxel size; `settings` default ATLAS_SETTINGS) carries its class-index map onto
    `image`'s grid (nearest neighbour)."""
    atlas_image, atlas_indices = atlas
    ones = (1.0,) * image.pixels.ndim
    image_spacing = voxel_spacing(image) or ones
    atlas_spacing = voxel_spacing(atlas_image) or ones
    found = registration.register(
        normalise_intensity(image.pixels),
        image_spacing,
        normalise_intensity(atlas_image.pixels),
        atlas_spacing,
        settings or ATLAS_SETTINGS,
    )
    return registration.warp_labels(found, atlas_indices, atlas_spacing, image.pixels.shape, image_spacing)


def evaluate_scans(
    segmenter: Segmenter,
    labelled: Iterable[tuple[SpectImage, np.ndarray]],
    baselines_too: bool = False,
    others: Sequence[tuple[str, Segmenter]] = (),
    drop_stray: bool = False,
    atlas: tuple[SpectImage, np.ndarray] | None = None,
) -> Iterator[ScanScore]:
    """Scores of the model (and with `baselines_too` the threshold baseline, and `others`) on each
    labelled scan (image, class-index map); a support scan is refused. With an `atlas` (a labelled
    scan: image, class-index map), also single-atlas registration (`atlas_labels`; it needs
    SimpleITK), and the atlas itself is refused as an evaluated scan. `drop_stray`: as in
    `segment_image`."""
    classes = segmenter.info.classes
    names = dict(classes.foreground)
    support = set(segmenter.info.support_sha256)
    atlas_sha = scan_fingerprint(atlas[0]) if atlas is not None else None
    for image, indices in labelled:
        if scan_fingerprint(image) in support:
            raise SpectfslError(f"{image.label} is one of the model's support scans: evaluate on other scans")
        if scan_fingerprint(image) == atlas_sha:
            raise SpectfslError(f"{image.label} is the registration atlas: evaluate on other scans")
        reference = classes.ids_of(indices)
        spacing = voxel_spacing(image)
        labels = segment_image(segmenter, image, drop_stray)
        yield score(segmenter.info.method, image.source, labels, reference, names, spacing)
        for label, other in others:
            yield score(label, image.source, segment_image(other, image, drop_stray), reference, names, spacing)
        if baselines_too:
            threshold = threshold_labels(segmenter, image)
            if threshold is not None:  # scored only on the classes it can label (a liver Dice of 0 says nothing)
                labels, labelled = threshold
                own = {i: name for i, name in names.items() if i in labelled}
                yield score("threshold", image.source, labels, reference, own, spacing)
        if atlas is not None:
            carried = classes.ids_of(atlas_labels(atlas, image))
            yield score(ATLAS_REGISTRATION, image.source, carried, reference, names, spacing)


def summarise(scores: Sequence[ScanScore]) -> list[dict[str, Any]]:
    """Per method and class: mean Dice and HD95 with 95% CI half-widths, and the number of scans."""
    rows = []
    for method in dict.fromkeys(s.method for s in scores):
        mine = [s for s in scores if s.method == method]
        for name in mine[0].dice:
            dice_mean, dice_ci = mean_ci([s.dice[name] for s in mine])
            hd_mean, hd_ci = mean_ci([s.hd95_mm[name] for s in mine])
            rows.append(
                {
                    "method": method,
                    "class": name,
                    "scans": len(mine),
                    "dice": dice_mean,
                    "dice_ci95": dice_ci,
                    "hd95_mm": hd_mean,
                    "hd95_ci95": hd_ci,
                }
            )
    return rows


def evaluation_document(scores: Sequence[ScanScore]) -> dict[str, Any]:
    """`segment evaluate --format json`: every scan's scores and the summary per method and class."""
    return {
        "scans": [{"method": s.method, "path": s.path, "dice": s.dice, "hd95_mm": s.hd95_mm} for s in scores],
        "summary": summarise(scores),
    }


def evaluation_tables(scores: Sequence[ScanScore]) -> list[Table]:
    """The summary table (mean +- 95% CI over scans) and one row per scan, method and class."""
    summary = Table(
        "segmentation: mean over scans (95% CI)",
        ("method", "class", "scans", "Dice", "HD95 mm"),
        tuple(
            (
                row["method"],
                row["class"],
                str(row["scans"]),
                _with_ci(row["dice"], row["dice_ci95"], 3),
                _with_ci(row["hd95_mm"], row["hd95_ci95"], 1),
            )
            for row in summarise(scores)
        ),
        "HD95: 95th percentile of the distances between the two surfaces; an empty prediction has none "
        "and is left out of the HD95 mean (its Dice is 0).",
    )
    per_scan = Table(
        "per scan",
        ("method", "scan", "class", "Dice", "HD95 mm"),
        tuple(
            (s.method, Path(s.path).name, name, number(s.dice[name], 3), number(s.hd95_mm[name], 1))
            for s in scores
            for name in s.dice
        ),
    )
    return [summary, per_scan]


def _with_ci(mean: float, half: float, digits: int) -> str:
    text = number(mean, digits)
    return f"{text} +- {number(half, digits)}" if text and math.isfinite(half) else text
