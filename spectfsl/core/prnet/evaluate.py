"""Leave-one-out evaluation of one-shot localisation, next to baselines on the same pairs: naive
(copy the reference coordinates in mm), template matching (normalised cross-correlation) and, when
asked for and SimpleITK is installed, registration of the target onto the reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from spectfsl.core.networks.prnet import PRNet
from spectfsl.core.prnet.grid import GridImage, load_grid, load_grid_volume, stack
from spectfsl.core.prnet.locate import (
    LOCAL_MATCH_MM,
    Localiser,
    anatomical_positions,
    as_localiser,
    match_score,
    match_template,
    template_side,
)
from spectfsl.core.prnet.model_file import PRNetInfo, Stage
from spectfsl.core.prnet.training import PairSampler
from spectfsl.core.processing import registration
from spectfsl.core.tables import Table, number, percent
from spectfsl.errors import SpectfslError


@dataclass(frozen=True)
class Landmark:
    """A named point (source pixels) in a 2D grid image."""

    grid: GridImage
    name: str
    xy: np.ndarray


def load_landmarks(rows: Sequence[tuple], pixel_mm: float, dims: int = 2) -> list[Landmark]:
    """Landmarks from (image, name, x, y[, z]) rows (as `read_points` gives them, in each file's own
    voxel indices), each image loaded once: 2D images, or volumes for a 3D model."""
    grids: dict[str, GridImage] = {}
    landmarks = []
    for image, name, *coordinates in rows:
        if len(coordinates) != dims:
            shape = "x,y,z (a z column)" if dims == 3 else "x,y (no z column)"
            raise SpectfslError(f"a {dims}D model is evaluated on points {shape}; {image} has {len(coordinates)}")
        if image not in grids:
            grids[image] = (load_grid_volume if dims == 3 else load_grid)(image, pixel_mm)
        position = grids[image].source.array_index(*coordinates)[:dims]  # the file's indices -> array position
        landmarks.append(Landmark(grids[image], name, np.array(position, dtype=np.float64)))
    return landmarks


@dataclass
class ErrorSummary:
    """Radial errors of one method over reference-target pairs, in mm and in target pixels."""

    method: str
    errors_mm: list[float]
    errors_px: list[float]

    def as_dict(self) -> dict[str, float | int | None]:
        mm = np.array(self.errors_mm, dtype=np.float64)
        px = np.array(self.errors_px, dtype=np.float64)
        has_mm = len(mm) > 0 and np.isfinite(mm).all()
        return {
            "method": self.method,
            "pairs": len(px),
            "mre_mm": float(mm.mean()) if has_mm else None,
            "sd_mm": float(mm.std()) if has_mm else None,
            "median_mm": float(np.median(mm)) if has_mm else None,
            "within_5mm": float((mm <= 5).mean()) if has_mm else None,
            "within_10mm": float((mm <= 10).mean()) if has_mm else None,
            "mre_px": float(px.mean()),
            "sd_px": float(px.std()),
            "median_px": float(np.median(px)),
        }


def radial_error(target: GridImage, predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(error in mm, nan without spacing; error in target voxels), 2D or 3D."""
    difference = np.asarray(predicted, dtype=np.float64) - truth
    millimetres = target.source_mm(difference)
    return float("nan") if millimetres is None else float(np.linalg.norm(millimetres)), float(
        np.linalg.norm(difference)
    )


def naive_copy(reference: GridImage, point: np.ndarray, target: GridImage) -> np.ndarray:
    """Naive baseline: the reference point's position in mm (or voxels) copied into the target."""
    reference_mm = reference.source_mm(point)
    spacing = target.source_mm(np.ones(len(point)))
    if reference_mm is None or spacing is None:
        return np.asarray(point, dtype=np.float64)
    return reference_mm / spacing


def _array_spacing(grid: GridImage) -> np.ndarray:
    """The source image's spacing in array order ([slice,] row, col); 1 per axis when unknown."""
    along = grid.source_mm(np.ones(grid.dims))
    return np.ones(grid.dims) if along is None else along[::-1]


def registered_point(
    reference: GridImage,
    point: np.ndarray,
    target: GridImage,
    settings: registration.RegistrationSettings,
    found: registration.Registration | None = None,
) -> np.ndarray:
    """Registration baseline: the target registered onto the reference (source images, their own
    spacing) carries the reference point (source position) into the target; `found`: that
    registration, done before (it does not depend on the point)."""
    reference_spacing, target_spacing = _array_spacing(reference), _array_spacing(target)
    if found is None:
        [found] = register_pair(reference, target, [settings])
    return found.carry_point(np.asarray(point, dtype=np.float64) * reference_spacing[::-1]) / target_spacing[::-1]


def registered_back(
    reference: GridImage, point: np.ndarray, target: GridImage, found: registration.Registration
) -> np.ndarray | None:
    """The registration baseline the other way round: `found` registered the reference onto the target
    (target fixed), and its inverse carries the reference point into the target; None where the
    inverse does not converge."""
    reference_spacing, target_spacing = _array_spacing(reference), _array_spacing(target)
    carried = found.carry_back(np.asarray(point, dtype=np.float64) * reference_spacing[::-1])
    return None if carried is None else carried / target_spacing[::-1]


class PairRegistrations:
    """The registration baselines of pairs of images: one registration of a pair per baseline (the
    baselines sharing its rigid and affine stages, `registration.register_each`) serves both orders
    (`registered_back`) and every landmark of the pair: half the registrations of the ordered pairs.
    `both_ways=False`: one per ordered pair, the target always registered onto the reference."""

    def __init__(self, baselines: Sequence[registration.RegistrationSettings], both_ways: bool = True):
        self.baselines = tuple(baselines)
        self.both_ways = both_ways
        self.found: dict[tuple[int, int], dict[str, registration.Registration]] = {}

    def points(self, reference: GridImage, point: np.ndarray, target: GridImage) -> dict[str, np.ndarray]:
        """The reference point carried into the target (source positions) by each baseline, by name."""
        answers = {}
        back = self.found.get((id(target), id(reference))) if self.both_ways else None
        for name, found in (back or {}).items():
            carried = registered_back(reference, point, target, found)
            if carried is not None:
                answers[name] = carried
        for settings in self.baselines:
            if settings.name not in answers:  # not registered the other way, or its inverse failed
                found = self._forward(reference, target)[settings.name]
                answers[settings.name] = registered_point(reference, point, target, settings, found)
        return {settings.name: answers[settings.name] for settings in self.baselines}

    def _forward(self, reference: GridImage, target: GridImage) -> dict[str, registration.Registration]:
        pair = (id(reference), id(target))
        if pair not in self.found:
            found = register_pair(reference, target, self.baselines)
            self.found[pair] = {settings.name: one for settings, one in zip(self.baselines, found)}
        return self.found[pair]


def register_pair(
    reference: GridImage, target: GridImage, baselines: Sequence[registration.RegistrationSettings]
) -> list[registration.Registration]:
    """The target's source image registered onto the reference's (their own spacing), once per baseline."""
    return registration.register_each(
        reference.source.pixels, _array_spacing(reference), target.source.pixels, _array_spacing(target), baselines
    )


def separation_auc(high: Sequence[float], low: Sequence[float]) -> float | None:
    """The chance that a value of `high` exceeds one of `low` (ties count half): the area under the
    ROC curve of a threshold on the value; None when either list is empty."""
    if not high or not low:
        return None
    a, b = np.asarray(high, dtype=np.float64)[:, None], np.asarray(low, dtype=np.float64)[None, :]
    return float(((a > b) + 0.5 * (a == b)).mean())


def methods_of(method: str = "prnet") -> tuple[str, ...]:
    """The methods compared on the same reference-target pairs, in the order they are reported: the
    localiser alone, the two baselines, the localiser refined."""
    return (method, "naive", "template matching", f"{method} + local template matching")


#: What each localiser's answers are, alone and refined, for a reader of the tables.
METHOD_TERMS = {
    "prnet": (
        "prnet: PRNet's starts moved by the predicted offsets",
        "prnet + local template matching: PRNet's answer moved to the best template match within {radius:g} mm",
    ),
    "anatomy": (
        "anatomy: the target voxel whose dense anatomical embedding (global + local) is most alike the "
        "reference point's",
        "anatomy + local template matching: the best sum of the reference patch's normalised "
        "cross-correlation and the embedding's similarity within {radius:g} mm of the anatomy answer",
    ),
}


def method_note(
    match_radius_mm: float,
    registrations: Sequence[registration.RegistrationSettings] = (),
    method: str = "prnet",
) -> str:
    """What each method means, for a reader of the tables."""
    alone, refined = METHOD_TERMS[method]
    note = (
        "MRE: mean radial error. naive: the reference point's mm position copied into the target. "
        "template matching: normalised cross-correlation of the reference patch over the whole target. "
        f"{alone}. {refined.format(radius=match_radius_mm)}."
    )
    for settings in registrations:
        note += f" {settings.name}: {settings.description}, one image onto the other, carrying the point."
    return note


@dataclass
class LocalisationResult:
    """Per landmark name, the error summary of each method; the template side used (model pixels) and
    the local matching's radius (mm)."""

    landmarks: dict[str, list[ErrorSummary]]
    template_px: int
    match_radius_mm: float
    #: The registration baselines run beside it.
    registrations: tuple[registration.RegistrationSettings, ...] = ()
    #: Per landmark, (error mm, `score`) of each pair's answer as `prnet locate` gives it.
    scored: dict[str, list[tuple[float, float]]] | None = None
    #: The localiser evaluated (`Localiser.method`).
    method: str = "prnet"

    def score_check(self, near_mm: float = 10.0, far_mm: float = 20.0) -> dict[str, float | int | None]:
        """How well `prnet locate`'s `score` tells answers within `near_mm` from those farther than
        `far_mm` (pooled over landmarks): the area under the ROC curve (None without both kinds)."""
        pairs = [pair for pairs in (self.scored or {}).values() for pair in pairs]
        near = [score for error, score in pairs if error <= near_mm]
        far = [score for error, score in pairs if error > far_mm]
        return {"near": len(near), "far": len(far), "auc": separation_auc(near, far)}

    def as_dict(self) -> dict[str, list[dict[str, float | int | None]]]:
        return {name: [summary.as_dict() for summary in summaries] for name, summaries in self.landmarks.items()}

    def tables(self) -> list[Table]:
        """One table per landmark: MRE, sd, median, success within 5 and 10 mm, MRE in pixels."""
        tables = []
        landmarks = self.as_dict()
        for index, (name, summaries) in enumerate(landmarks.items()):
            rows = tuple(
                (
                    s["method"],
                    number(s["mre_mm"]),
                    number(s["sd_mm"]),
                    number(s["median_mm"]),
                    percent(s["within_5mm"], 0),
                    percent(s["within_10mm"], 0),
                    number(s["mre_px"]),
                )
                for s in summaries
            )
            title = f"{name}: leave-one-out one-shot localisation ({summaries[0]['pairs']} pairs)"
            header = ("method", "MRE mm", "sd mm", "median mm", "<= 5 mm", "<= 10 mm", "MRE px")
            last = index == len(landmarks) - 1
            # the terms, once, under the last table
            note = method_note(self.match_radius_mm, self.registrations, self.method) if last else ""
            tables.append(Table(title, header, rows, note))
        return tables


def pair_offset_check(
    model: PRNet, info: PRNetInfo, grids: Sequence[GridImage], pairs: int = 512, seed: int = 1234
) -> dict[str, list[float]]:
    """How well a model predicts offsets between random body points of the same image, per axis
    (x, y[, z]): root-mean-square error (mm) and the correlation of predicted with true offsets.

    A trained model has a correlation near 1 on every axis; a run whose head lost an axis (the
    ReLU collapse of a position head) shows a correlation near 0 there. Images the model did not train on
    make it a held-out check; its training images, a check of the fit.
    """
    sampler = PairSampler(list(grids), torch.Generator().manual_seed(seed))
    indices, first, second = sampler.sample(pairs)
    images = stack(list(grids))[indices]
    predicted = (
        anatomical_positions(model, info, images, second) - anatomical_positions(model, info, images, first)
    ).numpy()
    true = ((second - first) * info.pixel_mm).numpy()
    rms = np.sqrt(((predicted - true) ** 2).mean(axis=0))
    correlation = [
        float(np.corrcoef(predicted[:, k], true[:, k])[0, 1]) if predicted[:, k].std() > 0 else 0.0
        for k in range(true.shape[1])
    ]  # a constant prediction (a lost axis) correlates with nothing
    return {"rms_error_mm": [round(float(v), 1) for v in rms], "correlation": [round(v, 3) for v in correlation]}


def template_matching_errors(landmarks: list[Landmark], template_px: int) -> dict[str, ErrorSummary]:
    """Whole-image template matching alone, leave-one-out per landmark name, with a template of
    `template_px` model pixels: the classical baseline at another template size than a localiser's."""
    summaries: dict[str, ErrorSummary] = {}
    for target in landmarks:
        for reference in landmarks:
            if reference.name != target.name or reference is target:
                continue
            found = match_template(reference.grid, reference.xy, target.grid, template_px)
            mm, px = radial_error(target.grid, found, target.xy)
            summary = summaries.setdefault(target.name, ErrorSummary("template matching", [], []))
            summary.errors_mm.append(mm)
            summary.errors_px.append(px)
    return summaries


def evaluate_localisation(
    method: Localiser | Sequence[Stage],
    landmarks: list[Landmark],
    template_px: int | None = None,
    match_radius_mm: float | None = None,
    registration_settings: registration.RegistrationSettings
    | Sequence[registration.RegistrationSettings]
    | None = None,
) -> LocalisationResult:
    """Leave-one-out one-shot localisation per landmark name: each image as reference for all others,
    next to the naive and template-matching baselines on the same pairs (and each registration of
    `registration_settings`, one or several, named by `RegistrationSettings.name`; it needs
    SimpleITK). `method` is a `Localiser` or a PRNet cascade; it is
    reported alone (no match radius) and refined (`match_radius_mm`, default LOCAL_MATCH_MM for its
    dimensionality). The template of the baseline defaults to the method's patch."""
    localiser = as_localiser(method)
    template_px = template_px or localiser.patch
    if match_radius_mm is None:
        match_radius_mm = LOCAL_MATCH_MM[localiser.dims]
    by_name: dict[str, list[Landmark]] = {}
    for landmark in landmarks:
        by_name.setdefault(landmark.name, []).append(landmark)
    alone, _, _, refined_name = methods_of(localiser.method)
    results, scored = {}, {}
    if isinstance(registration_settings, registration.RegistrationSettings):
        registration_settings = (registration_settings,)
    baselines = tuple(registration_settings or ())
    registrations = PairRegistrations(baselines)
    baseline_names = tuple(settings.name for settings in baselines)
    for name, cases in by_name.items():
        if len(cases) < 2:
            raise SpectfslError(f"landmark '{name}' is listed in fewer than 2 images: leave-one-out needs 2 or more")
        methods = methods_of(localiser.method) + baseline_names
        summaries = {m: ErrorSummary(m, [], []) for m in methods}
        scored[name] = []
        for reference in cases:
            targets = [case for case in cases if case is not reference]
            target_grids = [t.grid for t in targets]
            found = localiser.locate(reference.grid, reference.xy, target_grids)
            matched = localiser.locate(reference.grid, reference.xy, target_grids, match_radius_mm)
            for target, located, refined in zip(targets, found, matched):
                predictions = {
                    alone: located.xy,
                    "naive": naive_copy(reference.grid, reference.xy, target.grid),
                    "template matching": match_template(reference.grid, reference.xy, target.grid, template_px),
                    refined_name: refined.xy,
                }
                if baselines:
                    predictions.update(registrations.points(reference.grid, reference.xy, target.grid))
                for method_name, predicted in predictions.items():
                    mm, px = radial_error(target.grid, predicted, target.xy)
                    summaries[method_name].errors_mm.append(mm)
                    summaries[method_name].errors_px.append(px)
                answer = refined if match_radius_mm > 0 else located
                score = match_score(reference.grid, reference.xy, target.grid, answer.xy, localiser.patch)
                scored[name].append((radial_error(target.grid, answer.xy, target.xy)[0], score))
        results[name] = list(summaries.values())
    return LocalisationResult(
        results,
        template_side(template_px),
        match_radius_mm,
        baselines,
        scored,
        localiser.method,
    )
