"""Using a trained PRNet: anatomical offsets, one-shot landmark localisation, template matching
and reconstruction.

Points are (x, y) in source pixels (x = column, y = row, 0-based); the network works on the model
grid (`PRNetInfo.pixel_mm`), and anatomical coordinates are in mm.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from spectfsl.core.acceleration import to_device
from spectfsl.core.files.loader import BadInput
from spectfsl.core.image import SpectImage
from spectfsl.core.networks.prnet import PRNet
from spectfsl.core.prnet.grid import BODY_THRESHOLD, GridImage, extract_patches, stack
from spectfsl.core.prnet.model_file import PRNetInfo, Stage, check_stages
from spectfsl.errors import SpectfslError

START_RADII_MM = (0.0, 15.0, 30.0)
STARTS_PER_RING = 6
MAX_STEPS = 20
STOP_PX = 0.5
#: Starts whose ends lie within this many model pixels of their median (median distance) circle one
#: answer: settled, even where their moves never fell under STOP_PX.
SETTLED_PX = 1.0
#: Radius (mm) of the local template matching after PRNet, by the model's dimensionality (`prnet locate
#: --match-radius-mm`, the fourth row of `prnet evaluate`): wide enough to reach the anatomy from where
#: PRNet alone lands (further off in 3D), narrow enough not to jump to a look-alike elsewhere.
LOCAL_MATCH_MM = {2: 25.0, 3: 40.0}
TARGETS_PER_BATCH = 64


def check_point(grid: GridImage, xy: Sequence[float], what: str = "point") -> np.ndarray:
    """A point in the file's own voxel indices (x, y[, z]) as an array position (column, row[, slice])
    of the source image; refused (exit 2) outside the image or with the wrong number of coordinates,
    naming the setting `what` it came from."""
    shape = grid.source.pixels.shape  # ([slices,] rows, cols)
    point = [float(value) for value in xy]
    text = ",".join(f"{value:g}" for value in point)
    if len(point) != grid.dims:
        kind = "a volume (3D model): x,y,z" if grid.dims == 3 else "a 2D image: x,y"
        raise SpectfslError(
            f"{grid.source.label}: {{{what}}} {text} has {len(point)} coordinates; {kind}", settings=what
        )
    if not all(-0.5 <= value <= n - 0.5 for value, n in zip(point, shape[::-1])):
        size = " x ".join(str(n) for n in shape[::-1])
        raise SpectfslError(
            f"{grid.source.label}: {{{what}}} {text} is outside the image ({size} voxels)", settings=what
        )
    position = grid.source.array_index(*point)
    return np.array(position[: grid.dims])


def file_point_columns(image: SpectImage, column: float, row: float, slice_index: float | None = None) -> dict:
    """An array position of `image` as output columns: the file's voxel index (x, y[, z]), mm from the
    file's first voxel (x_mm, ...), and patient coordinates where the file's geometry is known."""
    x, y, z = image.file_index(column, row, slice_index)
    values = {"x": x, "y": y} if slice_index is None else {"x": x, "y": y, "z": z}
    millimetres = image.file_mm(*values.values())
    values.update({f"{axis}_mm": mm for axis, mm in zip(values, millimetres)})
    patient = image.patient_mm(x, y, z)
    values["space"] = image.geometry.space if patient is not None else None
    values.update(zip(PATIENT_COLUMNS, patient or (None, None, None)))
    return {
        key: None if value is None else round(float(value), 2) if key != "space" else value
        for key, value in values.items()
    }


#: Patient coordinates (mm, in the file's `space`: LPS for DICOM, RAS for NIfTI) in point outputs.
PATIENT_COLUMNS = ("patient_x", "patient_y", "patient_z")


def anatomical_positions(model: PRNet, info: PRNetInfo, images: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) grid images and (B, 2) model-pixel points -> (B, 2) anatomical coordinates in mm."""
    device = next(model.parameters()).device
    with torch.inference_mode():
        patches = to_device(extract_patches(images, points.float(), info.patch), device)
        return model.position(patches).cpu() * info.offset_scale_mm


@dataclass(frozen=True)
class Offset:
    """p2 - p1 along the first image's file axes (x, y[, z]), in its voxels and in mm (None where the
    spacing is unknown)."""

    px: tuple[float, ...]
    mm: tuple[float, ...] | None

    @property
    def distance_mm(self) -> float | None:
        return None if self.mm is None else math.hypot(*self.mm)

    def as_row(self) -> dict[str, float | None]:
        """`dx_px, dy_px[, dz_px], dx_mm, dy_mm[, dz_mm], distance_mm`."""
        axes = "xyz"[: len(self.px)]
        row: dict[str, float | None] = {f"d{axis}_px": value for axis, value in zip(axes, self.px)}
        row.update({f"d{axis}_mm": None if self.mm is None else value for axis, value in zip(axes, self.mm or self.px)})
        row["distance_mm"] = self.distance_mm
        return row


def predicted_offset(model: PRNet, info: PRNetInfo, first: GridImage, p1, second: GridImage, p2) -> Offset:
    """Where p2's anatomy (in `second`) lies relative to p1 (in `first`), by the network; points in
    each file's own voxel indices, 2D or 3D as the model."""
    points = [first.to_model(check_point(first, p1, "p1")), second.to_model(check_point(second, p2, "p2"))]
    images = stack([first, second])
    positions = anatomical_positions(model, info, images, torch.tensor(np.stack(points)))
    offset_mm = (positions[1] - positions[0]).numpy().astype(np.float64)
    offset_px = offset_mm / info.pixel_mm / np.array(first.scale[::-1])  # array voxels of the first image
    geometry = first.source.geometry
    flips = [geometry.flip_x, geometry.flip_y, False][: len(offset_px)]
    offset_px = offset_px * np.where(flips, -1.0, 1.0)  # along the file's own axes
    millimetres = first.source_mm(offset_px)
    return Offset(
        tuple(float(v) for v in offset_px), None if millimetres is None else tuple(float(v) for v in millimetres)
    )


def body_centre(grid: GridImage) -> np.ndarray:
    """Intensity-weighted centre (x, y[, z], model pixels) of the body pixels."""
    weights = np.where(grid.pixels >= BODY_THRESHOLD, grid.pixels, 0.0)
    if weights.sum() <= 0:
        return np.array(grid.pixels.shape[::-1], dtype=np.float64) / 2
    axes = np.indices(grid.pixels.shape)[::-1]  # x (columns) first
    return np.array([(axis * weights).sum() for axis in axes]) / weights.sum()


@dataclass(frozen=True)
class Located:
    """A located point as a source array position (x, y[, z]), in mm (None without spacing), the
    steps it took, and whether it converged: in every stage its starts settled on one answer (most
    stopped moving, a move under STOP_PX, before the step limit, or they ended within SETTLED_PX of
    their median)."""

    xy: np.ndarray
    xy_mm: np.ndarray | None
    steps: int
    converged: bool = True


def locate(
    stages: Sequence[Stage], reference: GridImage, point, targets: list[GridImage], max_steps: int = MAX_STEPS
) -> list[Located]:
    """One-shot localisation: move starts in every target onto the anatomy of `point` in `reference`
    (an array position of the reference's source image: `check_point` converts a user's point).

    Each start moves by the predicted offset (the reference point's anatomical coordinates minus the
    start's) until the move is under half a model pixel or `max_steps`; the starts of a target are
    combined by their median. With a cascade (a coarse model, then fine models trained on short
    offsets), each later stage starts from the previous stage's result and a small ring around it.
    Targets go through the network together, TARGETS_PER_BATCH at a time.
    """
    pixel_mm = check_stages(stages)
    reference_point = torch.tensor(reference.to_model(np.asarray(point, dtype=np.float64))[None])
    goals = [anatomical_positions(model, info, stack([reference]), reference_point)[0] for model, info in stages]
    results = []
    for first in range(0, len(targets), TARGETS_PER_BATCH):
        batch = targets[first : first + TARGETS_PER_BATCH]
        centres = [body_centre(target) for target in batch]
        steps_taken = np.zeros(len(batch), dtype=int)
        converged = np.ones(len(batch), dtype=bool)
        for stage_index, ((model, info), goal) in enumerate(zip(stages, goals)):
            radii = START_RADII_MM if stage_index == 0 else (0.0, info.offset_scale_mm / 8)
            starts = [ring_points(centre, radii, pixel_mm) for centre in centres]
            final, steps, stopped = _follow(model, info, goal, batch, starts, max_steps)
            centres = [positions.median(dim=0).values.numpy().astype(np.float64) for positions in final]
            spread = [float(np.median(np.linalg.norm(p.numpy() - c, axis=1))) for p, c in zip(final, centres)]
            steps_taken += steps
            converged &= (stopped > 0.5) | (np.array(spread) <= SETTLED_PX)
        for target, centre, steps, done in zip(batch, centres, steps_taken, converged):
            xy = target.to_source(centre)
            results.append(Located(xy, target.source_mm(xy), int(steps), bool(done)))
    return results


def ring_points(centre: np.ndarray, radii_mm: Sequence[float], pixel_mm: float) -> np.ndarray:
    """`centre` and, at each non-zero radius (model pixels), a ring of STARTS_PER_RING points (2D) or
    the six points along the axes, turned by the radius about z (3D)."""
    starts = [centre]
    for radius in radii_mm:
        if radius > 0:
            for k in range(STARTS_PER_RING):
                angle = 2 * math.pi * k / STARTS_PER_RING + radius
                if len(centre) == 2:
                    direction = np.array([math.cos(angle), math.sin(angle)])
                else:
                    turn = k // 2 * math.pi / 2 + radius  # +-x', +-y' (turned), +-z
                    axis = [np.array([math.cos(turn), math.sin(turn), 0.0]), np.array([0.0, 0.0, 1.0])]
                    direction = axis[k >= 4] * (1 if k % 2 == 0 else -1)
                starts.append(centre + radius / pixel_mm * direction)
    return np.stack(starts)


def _follow(
    model: PRNet,
    info: PRNetInfo,
    goal: torch.Tensor,
    targets: list[GridImage],
    starts: list[np.ndarray],
    max_steps: int,
) -> tuple[list[torch.Tensor], np.ndarray, np.ndarray]:
    """Iterate every start towards `goal`; returns each target's final start positions, its step count
    and the share of its starts that stopped before `max_steps`."""
    per_target = starts[0].shape[0]
    images = stack(targets).repeat_interleave(per_target, dim=0)
    positions = torch.tensor(np.concatenate(starts), dtype=torch.float32)
    limits = torch.tensor([[n - 1 for n in t.pixels.shape[::-1]] for t in targets], dtype=torch.float32)
    limits = limits.repeat_interleave(per_target, dim=0)
    active = torch.ones(len(positions), dtype=torch.bool)
    steps = torch.zeros(len(positions), dtype=torch.long)
    for _ in range(max_steps):
        if not active.any():
            break
        chosen = active.nonzero().squeeze(1)
        move = (goal - anatomical_positions(model, info, images[chosen], positions[chosen])) / info.pixel_mm
        positions[chosen] = torch.minimum(torch.clamp(positions[chosen] + move, min=0), limits[chosen])
        steps[chosen] += 1
        active[chosen] = move.norm(dim=1) >= STOP_PX
    blocks = [slice(i * per_target, (i + 1) * per_target) for i in range(len(targets))]
    stopped = np.array([float((~active[b]).float().mean()) for b in blocks])
    return [positions[b] for b in blocks], np.array([int(steps[b].max()) for b in blocks]), stopped


def refine_by_matching(
    reference: GridImage,
    point,
    targets: list[GridImage],
    located: list[Located],
    template_px: int,
    radius_mm: float = 15.0,
) -> list[Located]:
    """Move each located point to the best normalised cross-correlation match of the reference patch
    within `radius_mm` of it: PRNet's global answer, template matching's local precision."""
    refined = []
    for target, found in zip(targets, located):
        xy = match_template(reference, point, target, template_px, near=found.xy, radius_mm=radius_mm)
        refined.append(Located(xy, target.source_mm(xy), found.steps, found.converged))
    return refined


def match_score(reference: GridImage, point, target: GridImage, found, template_px: int) -> float:
    """How alike the reference's patch around `point` and the target's around `found` are (source
    array positions): the normalised cross-correlation of the two `template_side(template_px)`
    patches on the model grid, -1 to 1 (0 where either patch is flat). A located point whose score
    is low sits on anatomy that looks unlike the reference's: check it."""
    side = template_side(template_px)
    patches = [
        extract_patches(stack([grid]), torch.tensor(grid.to_model(np.asarray(xy))[None], dtype=torch.float32), side)
        for grid, xy in ((reference, point), (target, found))
    ]
    first, second = (patch[0, 0].numpy().ravel().astype(np.float64) for patch in patches)
    first, second = first - first.mean(), second - second.mean()
    norm = math.sqrt(float((first**2).sum() * (second**2).sum()))
    return float((first * second).sum() / norm) if norm > 0 else 0.0


#: A located point whose `score` is below this looks unlike the reference's anatomy: a warning names it.
#: A hint, not a verdict: answers within 10 mm and farther than 20 mm overlap in score.
LOW_SCORE = 0.5


#: One located point: its name, the reference point (array position), the answer and its `score`.
Answer = tuple[str, Any, Located, float]


def point_flags(converged: bool, score: float) -> list[str]:
    """What to check about a located point: not converged, or a score below LOW_SCORE."""
    flags = [] if converged else ["did not converge"]
    if score < LOW_SCORE:
        flags.append(f"score {score:.2f} below {LOW_SCORE:g} (unlike the reference patch)")
    return flags


LOCATE_COLUMNS = (
    "path",
    "name",
    "x",
    "y",
    "x_mm",
    "y_mm",
    "steps",
    "converged",
    "score",
    "method",
    "space",
    *PATIENT_COLUMNS,
)
LOCATE_COLUMNS_3D = (
    "path",
    "name",
    "x",
    "y",
    "z",
    "x_mm",
    "y_mm",
    "z_mm",
    "steps",
    "converged",
    "score",
    "method",
    "space",
    *PATIENT_COLUMNS,
)


def locate_columns(dims: int) -> tuple[str, ...]:
    """`prnet locate`'s columns for a 2D or 3D model."""
    return LOCATE_COLUMNS_3D if dims == 3 else LOCATE_COLUMNS


class Localiser(Protocol):
    """A one-shot localisation method: where a reference point's anatomy lies in each target.

    `method` names it in outputs; `patch` is the template side (model pixels) of `match_score` and
    the QC figure. `locate` takes the point as a source array position of the reference; with
    `match_radius_mm` > 0 the method refines its own answer within that radius by the reference patch.
    """

    method: str

    @property
    def dims(self) -> int: ...

    @property
    def pixel_mm(self) -> float: ...

    @property
    def patch(self) -> int: ...

    def locate(
        self, reference: GridImage, point, targets: list[GridImage], match_radius_mm: float = 0.0
    ) -> list[Located]: ...

    def networks(self) -> list[tuple[torch.nn.Module, str]]:
        """Each network and the method of it that inference calls (for `Acceleration.prepare`)."""
        ...


@dataclass(frozen=True)
class PRNetLocaliser:
    """PRNet (a coarse model and the fine models of a cascade): starts moved by the predicted offsets,
    then, with a match radius, local template matching around the answer."""

    stages: Sequence[Stage]
    method: str = "prnet"

    @property
    def dims(self) -> int:
        return self.stages[0][1].dims

    @property
    def pixel_mm(self) -> float:
        return self.stages[0][1].pixel_mm

    @property
    def patch(self) -> int:
        return self.stages[0][1].patch

    def locate(
        self, reference: GridImage, point, targets: list[GridImage], match_radius_mm: float = 0.0
    ) -> list[Located]:
        found = locate(self.stages, reference, point, targets)
        if match_radius_mm > 0:
            found = refine_by_matching(reference, point, targets, found, self.patch, match_radius_mm)
        return found

    def networks(self) -> list[tuple[torch.nn.Module, str]]:
        return [(model, "position") for model, _ in self.stages]


def as_localiser(method: Localiser | Sequence[Stage]) -> Localiser:
    """A localiser as given, or a PRNet cascade (a list of (model, info) stages) as one."""
    return PRNetLocaliser(list(method)) if isinstance(method, (list, tuple)) else method


def locate_rows(
    method: Localiser | Sequence[Stage],
    reference: GridImage,
    points: Sequence[tuple[str, Sequence[float]]],
    targets: Iterable[GridImage | BadInput],
    match_radius_mm: float = 0.0,
    targets_per_batch: int | None = None,
    qc: Callable[[GridImage, list[Answer]], str] | None = None,
) -> Iterator[dict[str, Any]]:
    """`prnet locate`: one row per target and named point (x, y in target pixels, x_mm, y_mm in mm
    from the first pixel's centre, steps taken), in target order; a bad input (`--skip-bad`) gives
    one row with its `path` and `error` in its place. `method` is a `Localiser` or a PRNet cascade;
    `match_radius_mm` > 0 lets it refine each point by the reference patch within that radius.

    Targets stream: they are read and located `targets_per_batch` (default TARGETS_PER_BATCH) at a time (at most
    TARGETS_PER_BATCH go through the network together), so memory stays flat over any number of
    them. `points` are in the reference file's own indices. Each row has the point's `converged`,
    `score` (`match_score`) and the `method`; with `qc`, called with each target and its answers (it
    draws the target's figure and returns its path), each row names the figure in a `qc` column.
    """
    localiser = as_localiser(method)
    points = [(name, check_point(reference, xy)) for name, xy in points]  # the file's indices -> array
    targets_per_batch = targets_per_batch or TARGETS_PER_BATCH
    chunk: list[GridImage | BadInput] = []
    for target in targets:
        chunk.append(target)
        if sum(isinstance(entry, GridImage) for entry in chunk) == targets_per_batch:
            yield from _chunk_rows(localiser, reference, points, chunk, match_radius_mm, qc)
            chunk = []
    if chunk:
        yield from _chunk_rows(localiser, reference, points, chunk, match_radius_mm, qc)


def _chunk_rows(localiser: Localiser, reference, points, chunk, match_radius_mm, qc) -> Iterator[dict[str, Any]]:
    grids = [target for target in chunk if isinstance(target, GridImage)]
    found = {name: localiser.locate(reference, xy, grids, match_radius_mm) for name, xy in points}
    index = 0
    for target in chunk:
        if not isinstance(target, GridImage):
            yield {"path": target.path, "error": target.error}
            continue
        answers = [
            (name, xy, found[name][index], match_score(reference, xy, target, found[name][index].xy, localiser.patch))
            for name, xy in points
        ]
        figure = qc(target, answers) if qc else None
        for name, _, located, score in answers:
            row = {"path": target.source.label, "name": name}
            row.update(file_point_columns(target.source, *located.xy))
            row.update(steps=located.steps, converged=located.converged, score=round(score, 3), method=localiser.method)
            yield {column: row[column] for column in locate_columns(target.dims)} | (
                {"qc": figure} if figure is not None else {}
            )
        index += 1


def reconstruct(model: PRNet, info: PRNetInfo, grid: GridImage, point=None) -> tuple[np.ndarray, np.ndarray]:
    """(real, reconstructed) on the model grid: the patch around `point` (source pixels), or the whole
    image tiled when `point` is None. The model's decoder must have been trained."""
    if point is not None:
        return reconstruct_patch(model, info, grid, point)
    return reconstruct_image(model, info, grid)


def reconstruct_patch(model: PRNet, info: PRNetInfo, grid: GridImage, point) -> tuple[np.ndarray, np.ndarray]:
    """(real, reconstructed) patch around a source-pixel point, on the model grid."""
    centre = torch.tensor(grid.to_model(check_point(grid, point))[None], dtype=torch.float32)
    patch = extract_patches(stack([grid]), centre, info.patch)
    with torch.inference_mode():
        _, decoded = model(patch.to(next(model.parameters()).device))
    return patch[0, 0].numpy(), decoded[0, 0].cpu().numpy()


def reconstruct_image(model: PRNet, info: PRNetInfo, grid: GridImage) -> tuple[np.ndarray, np.ndarray]:
    """(real, reconstructed) whole image on the model grid, tiled from non-overlapping patches."""
    rows, cols = grid.pixels.shape
    tiles_y, tiles_x = math.ceil(rows / info.patch), math.ceil(cols / info.patch)
    centres = [
        ((tx + 0.5) * info.patch - 0.5, (ty + 0.5) * info.patch - 0.5) for ty in range(tiles_y) for tx in range(tiles_x)
    ]
    images = stack([grid]).expand(len(centres), -1, -1, -1)
    patches = extract_patches(images, torch.tensor(centres, dtype=torch.float32), info.patch)
    with torch.inference_mode():
        _, decoded = model(patches.to(next(model.parameters()).device))

    def tile(batch: torch.Tensor) -> np.ndarray:
        grid_tiles = batch[:, 0].reshape(tiles_y, tiles_x, info.patch, info.patch).permute(0, 2, 1, 3)
        return grid_tiles.reshape(tiles_y * info.patch, tiles_x * info.patch)[:rows, :cols].cpu().numpy()

    return tile(patches), tile(decoded)


def mse_psnr(real: np.ndarray, reconstructed: np.ndarray) -> tuple[float, float]:
    """Mean squared error, and PSNR in dB with a data range of 1 (the normalised 99.5th percentile)."""
    mse = float(np.mean((real - reconstructed) ** 2))
    return mse, float("inf") if mse == 0 else float(10 * math.log10(1.0 / mse))


def template_side(template_px: int) -> int:
    """The side of a template of about `template_px` model pixels, made odd so that it has a centre pixel."""
    return template_px | 1


def match_template(
    reference: GridImage,
    point,
    target: GridImage,
    template_px: int,
    near: np.ndarray | None = None,
    radius_mm: float | None = None,
) -> np.ndarray:
    """The target position (source array position) that best matches, by normalised
    cross-correlation, a square (2D) or cube (3D) of `template_side(template_px)` model pixels around
    `point` in the reference. With `near` and `radius_mm`, only positions within that distance of
    `near` count: a local refinement of another method's answer."""
    score = correlation_map(reference, point, target, template_px)
    if near is not None and radius_mm is not None:
        score = within_radius(score, target, target.to_model(near), radius_mm)
    return target.to_source(peak_position(score))


def correlation_map(reference: GridImage, point, target: GridImage, template_px: int) -> np.ndarray:
    """The normalised cross-correlation (-1 to 1) of the reference patch around `point` (a source
    array position; a `template_side(template_px)` square or cube of model pixels) centred on every
    pixel of the target's model grid (array order)."""
    from skimage.feature import match_template as normalised_cross_correlation

    side = template_side(template_px)
    centre = torch.tensor(reference.to_model(np.asarray(point, dtype=np.float64))[None], dtype=torch.float32)
    template = extract_patches(stack([reference]), centre, side)[0, 0].numpy()
    # a target smaller than the template along an axis: the template's central part that fits (odd)
    keep = [min(side, (n - 1) | 1) for n in target.pixels.shape]
    template = template[tuple(slice((side - k) // 2, (side + k) // 2) for k in keep)]
    return normalised_cross_correlation(target.pixels, template, pad_input=True, mode="constant", constant_values=0)


def grid_pixel_mm(grid: GridImage) -> float:
    """The side of a model-grid pixel in mm (1 where the source's spacing is unknown)."""
    return grid.source.pixel_spacing_mm[0] / grid.scale[-2] if grid.source.pixel_spacing_mm else 1.0


def within_radius(score: np.ndarray, grid: GridImage, centre: np.ndarray, radius_mm: float) -> np.ndarray:
    """`score` (array order, model grid) with every pixel farther than `radius_mm` from `centre`
    (x, y[, z] model pixels) set to -inf."""
    positions = np.indices(score.shape)[::-1]  # x (columns) first
    distance = np.sqrt(sum((axis - value) ** 2 for axis, value in zip(positions, centre)))
    return np.where(distance * grid_pixel_mm(grid) <= radius_mm, score, -np.inf)


def peak_position(score: np.ndarray) -> np.ndarray:
    """The model position (x, y[, z]) of the maximum of an array-order score map, below a pixel."""
    best = np.unravel_index(int(np.argmax(score)), score.shape)
    return subpixel_peak(score, best)[::-1]


def subpixel_peak(score: np.ndarray, best: tuple[int, ...]) -> np.ndarray:
    """The peak of `score` near its best pixel `best`, refined along each axis by the vertex of the
    parabola through the best pixel and its two neighbours (array axis order). An axis where a
    neighbour is missing or not finite, or the score is not curved downwards, keeps the pixel; the
    shift is at most half a pixel. Without it a match lands on the model grid's pixels: on the 8 mm
    3D grid, rounding alone is off by 3.8 mm on average (uniformly placed points)."""
    peak = np.array(best, dtype=np.float64)
    for axis, index in enumerate(best):
        if not 0 < index < score.shape[axis] - 1:
            continue
        before, centre, after = (
            float(score[tuple(index + d if a == axis else i for a, i in enumerate(best))]) for d in (-1, 0, 1)
        )
        curvature = before - 2 * centre + after
        if np.isfinite([before, after]).all() and curvature < 0:
            peak[axis] += float(np.clip(0.5 * (before - after) / curvature, -0.5, 0.5))
    return peak
