"""Figures as PNG (matplotlib, headless), written atomically."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from spectfsl.core.files.atomic import atomic_file


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path: str | os.PathLike) -> None:
    """Save a matplotlib figure as PNG atomically and close it."""
    plt = _pyplot()
    with atomic_file(path) as temporary:
        figure.savefig(temporary, format="png", dpi=120, bbox_inches="tight")
    plt.close(figure)


def side_by_side(path: str | os.PathLike, panels: Sequence[tuple[str, np.ndarray]], title: str | None = None) -> None:
    """Grey images next to each other on one intensity scale (the study's Figure 1 for reconstruction)."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4))
    high = max(float(np.percentile(image, 99.5)) for _, image in panels) or 1.0
    for axis, (label, image) in zip(np.atleast_1d(axes), panels):
        axis.imshow(image, cmap="gray", vmin=0, vmax=high, interpolation="nearest")
        axis.set_title(label)
        axis.axis("off")
    if title:
        figure.suptitle(title)
    save_figure(figure, path)


def loss_curve(path: str | os.PathLike, losses: Sequence[float], title: str, xlabel: str) -> None:
    """A training loss curve (log scale when it spans more than two decades)."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5, 3.2))
    axis.plot(np.arange(1, len(losses) + 1), losses, color="tab:blue")
    values = np.asarray(losses, dtype=float)
    if values.min() > 0 and values.max() / values.min() > 100:
        axis.set_yscale("log")
    axis.set_xlabel(xlabel)
    axis.set_ylabel("loss")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    save_figure(figure, path)


def volume_curve(path: str | os.PathLike, function, title: str, unit: str = "ml") -> None:
    """A gated study's LV cavity volume per gate (`LVFunction`), end-diastole and end-systole marked,
    the fitted curve dashed, the LVEF in the title (which names the patient by pseudonym only)."""
    from spectfsl.core.quantify.function import fitted_curve

    plt = _pyplot()
    volumes = np.asarray(function.cavity_ml)
    gates = np.arange(1, len(volumes) + 1)
    figure, axis = plt.subplots(figsize=(5.5, 3.4))
    fitted = fitted_curve(volumes)
    axis.plot(1 + np.arange(len(fitted)) * len(volumes) / len(fitted), fitted, "--", color="tab:gray", label="fit")
    axis.plot(gates, volumes, "o-", color="tab:blue", label="cavity")
    for gate, name, colour in ((function.ed_gate, "ED", "tab:red"), (function.es_gate, "ES", "tab:green")):
        axis.plot([gate], [volumes[gate - 1]], "s", color=colour, markersize=9, label=f"{name} (gate {gate})")
    axis.set_xticks(gates)
    axis.set_xlabel("gate")
    axis.set_ylabel(f"LV cavity ({unit})")
    axis.set_title(f"{title}\nLVEF {function.lvef_pct:.0f}% (fit {function.lvef_fit_pct:.0f}%)", fontsize=10)
    axis.legend(fontsize=8, loc="best")
    axis.grid(alpha=0.3)
    save_figure(figure, path)


def confusion(path: str | os.PathLike, matrix: np.ndarray, classes: Sequence[str]) -> None:
    """A confusion matrix (rows: true class, columns: predicted), counts and row fractions."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(4.2, 3.6))
    fractions = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    axis.imshow(fractions, cmap="Blues", vmin=0, vmax=1)
    for (row, col), count in np.ndenumerate(matrix):
        axis.text(
            col,
            row,
            f"{count}\n{fractions[row, col]:.0%}",
            ha="center",
            va="center",
            color="white" if fractions[row, col] > 0.5 else "black",
            fontsize=8,
        )
    axis.set_xticks(range(len(classes)), classes, rotation=30)
    axis.set_yticks(range(len(classes)), classes)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    save_figure(figure, path)


def support_query_grid(
    path: str | os.PathLike, data, support: Sequence[int], classifier, queries_per_class: int = 4
) -> None:
    """The study's Figure 2: each class's support images, then query images with their predicted class."""
    plt = _pyplot()
    classes = data.classes
    support_set = set(support)
    columns = max(sum(1 for i in support if data.labels[i] == c) for c in classes) + queries_per_class
    figure, axes = plt.subplots(len(classes), columns, figsize=(1.6 * columns, 1.8 * len(classes)), squeeze=False)
    for row, name in enumerate(classes):
        shots = [i for i in support if data.labels[i] == name]
        queries = [i for i, label in enumerate(data.labels) if label == name and i not in support_set][
            :queries_per_class
        ]
        predicted = classifier.predict(data.images[queries]).predicted.tolist() if queries else []
        for col, axis in enumerate(axes[row]):
            axis.axis("off")
            if col < len(shots):
                axis.imshow(data.images[shots[col]], cmap="gray", vmin=0, vmax=1.2)
                axis.set_title(f"support: {name}", fontsize=7)
            elif col - len(shots) < len(queries):
                index = col - len(shots)
                guess = classes[predicted[index]]
                axis.imshow(data.images[queries[index]], cmap="gray", vmin=0, vmax=1.2)
                axis.set_title(f"query -> {guess}", fontsize=7, color="green" if guess == name else "red")
    save_figure(figure, path)


def localisation_overlay(
    path: str | os.PathLike, reference, targets: Sequence, predicted: Sequence[np.ndarray], name: str
) -> None:
    """The reference point (star) and, on each target, the true (circle) and located (cross) points."""
    plt = _pyplot()
    panels = [reference] + list(targets)
    figure, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels), 2.9), squeeze=False)
    for index, (axis, landmark) in enumerate(zip(axes[0], panels)):
        axis.imshow(landmark.grid.source.pixels, cmap="gray", vmin=0, vmax=1.2)
        axis.axis("off")
        if index == 0:
            axis.plot(*landmark.xy, marker="*", color="gold", markersize=12)
            axis.set_title(f"reference: {name}", fontsize=8)
        else:
            axis.plot(*landmark.xy, marker="o", mfc="none", color="lime", markersize=9)
            axis.plot(*predicted[index - 1], marker="x", color="red", markersize=9)
            axis.set_title("true o, located x", fontsize=8)
    save_figure(figure, path)


def heart_boxes(path: str | os.PathLike, volumes: Sequence, boxes: Sequence) -> None:
    """The slice through each found heart centre with its `--crop auto` box."""
    plt = _pyplot()
    from matplotlib.patches import Rectangle

    from spectfsl.core.processing.preprocess import normalise_intensity

    figure, axes = plt.subplots(1, len(volumes), figsize=(2.8 * len(volumes), 3), squeeze=False)
    for axis, volume, box in zip(axes[0], volumes, boxes):
        (z0, z1), (y0, y1), (x0, x1) = box.bounds(volume.pixels.shape)
        axis.imshow(normalise_intensity(volume.pixels[int(box.centre[0])]), cmap="gray", vmin=0, vmax=1.2)
        axis.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, color="orange"))
        axis.set_title(f"slices {z0}-{z1 - 1}", fontsize=8)
        axis.axis("off")
    save_figure(figure, path)


def label_overlays(
    path: str | os.PathLike, panels: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]], classes: Sequence[str]
) -> None:
    """Slices with the reference labels (solid contours) and the predicted ones (dashed), one colour
    per class: panels of (title, image, reference class indices, predicted class indices)."""
    plt = _pyplot()
    colours = ["tab:red", "tab:cyan", "tab:green", "tab:orange", "tab:purple"]
    figure, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6))
    for axis, (title, image, reference, predicted) in zip(np.atleast_1d(axes), panels):
        axis.imshow(image, cmap="gray", vmin=0, vmax=float(np.percentile(image, 99.5)) or 1.0, interpolation="nearest")
        for index, colour in zip(range(1, len(classes)), colours):
            for labels, style in ((reference, "solid"), (predicted, "dashed")):
                if (labels == index).any():
                    axis.contour(labels == index, levels=[0.5], colors=[colour], linestyles=style, linewidths=1.2)
        axis.set_title(title, fontsize=9)
        axis.axis("off")
    handles = [plt.Line2D([], [], color=c, label=name) for name, c in zip(classes[1:], colours)]
    handles += [plt.Line2D([], [], color="k", label="expert"), plt.Line2D([], [], color="k", ls="--", label="spectfsl")]
    figure.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    save_figure(figure, path)


def tissue_map_qc(
    path: str | os.PathLike,
    pixels: np.ndarray,
    label_ids: np.ndarray,
    classes: Sequence[tuple[int, str]],
    title: str,
    flags: Sequence[str] = (),
) -> None:
    """Three orthogonal slices (or the one 2D image) through the labelled voxels' centre, the scan in
    grey with each class's contour in its colour: the check a reader makes before trusting a map.
    `classes`: (id, name) of the foreground; `flags`: plausibility warnings, printed under the title."""
    from scipy import ndimage

    plt = _pyplot()
    colours = ["tab:red", "tab:cyan", "tab:green", "tab:orange", "tab:purple", "tab:olive"]
    labelled = label_ids > 0
    centre = ndimage.center_of_mass(labelled) if labelled.any() else tuple(n / 2 for n in pixels.shape)
    centre = [int(round(c)) for c in centre]
    if pixels.ndim == 3:
        cuts = [  # named by array axis: which is transverse depends on the file's orientation
            (f"slice {centre[0]}", pixels[centre[0]], label_ids[centre[0]]),
            (f"row {centre[1]}", pixels[:, centre[1]], label_ids[:, centre[1]]),
            (f"column {centre[2]}", pixels[:, :, centre[2]], label_ids[:, :, centre[2]]),
        ]
    else:
        cuts = [("image", pixels, label_ids)]
    figure, axes = plt.subplots(1, len(cuts), figsize=(3.2 * len(cuts), 3.8))
    high = float(np.percentile(pixels, 99.5)) or 1.0
    for axis, (name, image, labels) in zip(np.atleast_1d(axes), cuts):
        axis.imshow(image, cmap="gray", vmin=0, vmax=high, interpolation="nearest")
        for (class_id, _), colour in zip(classes, colours):
            if (labels == class_id).any():
                axis.contour(labels == class_id, levels=[0.5], colors=[colour], linewidths=1.2)
        axis.set_title(name, fontsize=9)
        axis.axis("off")
    handles = [plt.Line2D([], [], color=c, label=name) for (_, name), c in zip(classes, colours)]
    figure.legend(handles=handles, loc="lower center", ncol=max(1, len(handles)), fontsize=8, frameon=False)
    heading = title + ("".join(f"\nCHECK: {flag}" for flag in flags) if flags else "")
    figure.suptitle(heading, fontsize=9, color="tab:red" if flags else "black")
    save_figure(figure, path)


def point_cuts(pixels: np.ndarray, xy: Sequence[float]) -> list[tuple[str, np.ndarray, tuple[int, int]]]:
    """The cuts through an array position (x, y[, z]): (name, image, the two axes of `xy` shown as
    the image's horizontal and vertical); one cut of a 2D image, three orthogonal ones of a volume,
    named by array axis (which is transverse depends on the file's orientation)."""
    index = [int(np.clip(round(v), 0, n - 1)) for v, n in zip(xy, pixels.shape[::-1])]
    if pixels.ndim == 2:
        return [("image", pixels, (0, 1))]
    x, y, z = index
    return [
        (f"slice {z}", pixels[z], (0, 1)),
        (f"row {y}", pixels[:, y], (0, 2)),
        (f"column {x}", pixels[:, :, x], (1, 2)),
    ]


def located_point_qc(
    path: str | os.PathLike,
    reference: np.ndarray,
    target: np.ndarray,
    points: Sequence[tuple[str, Sequence[float], Sequence[float], str]],
    half_patch: tuple[Sequence[float], Sequence[float]],
    title: str,
    flags: Sequence[str] = (),
) -> None:
    """One row per named point: the reference cut through its point (gold star, the patch the target
    is matched against as a box) beside the target cut through the located point (red cross, the
    same box). `points`: (name, reference position, located position, caption), array positions
    (x, y[, z]); `half_patch`: the patch's half side per axis (x, y[, z]) in reference and target
    voxels; `flags` (checks to make) are printed under the title."""
    from matplotlib.patches import Rectangle

    plt = _pyplot()
    columns = 2 * (1 if reference.ndim == 2 else 3)
    figure, axes = plt.subplots(len(points), columns, figsize=(2.6 * columns, 2.9 * len(points)), squeeze=False)
    for row, (name, reference_xy, found_xy, caption) in zip(axes, points):
        panels = [(reference, reference_xy, half_patch[0], "gold", "*", "reference")]
        panels.append((target, found_xy, half_patch[1], "red", "x", caption))
        cuts = [(panel, cut) for panel in panels for cut in point_cuts(panel[0], panel[1])]
        for axis, ((pixels, xy, half, colour, marker, what), (cut_name, image, (h, v))) in zip(row, cuts):
            high = float(np.percentile(pixels, 99.5)) or 1.0
            axis.imshow(image, cmap="gray", vmin=0, vmax=high, interpolation="nearest")
            axis.plot(xy[h], xy[v], marker=marker, color=colour, markersize=10)
            corner = (xy[h] - half[h], xy[v] - half[v])
            axis.add_patch(Rectangle(corner, 2 * half[h], 2 * half[v], fill=False, color=colour, linewidth=1))
            axis.set_xlim(-0.5, image.shape[1] - 0.5)
            axis.set_ylim(image.shape[0] - 0.5, -0.5)
            axis.set_title(f"{name}: {what}, {cut_name}", fontsize=7)
            axis.axis("off")
    heading = title + ("".join(f"\nCHECK: {flag}" for flag in flags) if flags else "")
    figure.suptitle(heading, fontsize=9, color="tab:red" if flags else "black")
    save_figure(figure, path)


def point_qc(path: str | os.PathLike, reference, target, found: Sequence, template_px: int) -> str:
    """`prnet locate --qc`: the reference and target cuts through each located point
    (`located_point_qc`) of a target (`GridImage`s; `found`: `locate.Answer`s), titled with the
    target's pseudonym and file name and any check to make; returns the figure's path."""
    from pathlib import Path

    from spectfsl.core.prnet.locate import point_flags, template_side

    side = template_side(template_px)
    half = [np.full(grid.dims, side / 2) / np.array(grid.scale[::-1]) for grid in (reference, target)]
    points = [
        (name, xy, located.xy, f"located (score {score:.2f}{'' if located.converged else ', not converged'})")
        for name, xy, located, score in found
    ]
    flags = [f"{name}: {flag}" for name, _, located, score in found for flag in point_flags(located.converged, score)]
    title = f"patient {target.source.patient} - {Path(target.source.label).name}"  # the pseudonym, never identity
    located_point_qc(path, reference.source.pixels, target.source.pixels, points, (half[0], half[1]), title, flags)
    return str(path)


def readout_bullseye(path: str | os.PathLike, readout, rest_readout=None, title: str = "") -> None:
    """A `quantify` read-out's bullseye: its polar map, or with a rest read-out three panels (stress,
    rest, stress - rest, in percentage points); cells filled by the max-count search hatched."""
    from spectfsl.core.quantify.polar import PolarMap

    panels = [("stress" if rest_readout else "uptake", readout.polar.values, readout.polar.segments())]
    filled = [readout.polar.filled]
    if rest_readout is not None:
        difference = PolarMap(readout.polar.values - rest_readout.polar.values)
        panels += [("rest", rest_readout.polar.values, rest_readout.polar.segments())]
        panels += [("stress - rest", difference.values, difference.segments())]
        filled += [rest_readout.polar.filled, None]
    bullseye(path, panels, title, filled=filled)


def bullseye(
    path: str | os.PathLike,
    panels: Sequence[tuple[str, np.ndarray, dict[int, float | None]]],
    title: str,
    limits: tuple[float, float] = (0.0, 100.0),
    filled: Sequence[np.ndarray | None] | None = None,
) -> None:
    """Polar maps as bullseyes, one panel each: (caption, map (rings x sectors, apex at the centre,
    angle counter-clockwise from lateral), the 17 AHA segment values). Anterior at the top, septal on
    the left; segment boundaries drawn and each segment's value written in it (outlined, readable on
    any colour); a colour bar per panel (a panel whose caption starts with "stress - rest" is drawn on
    a diverging scale). `filled` (per panel, cells filled in by the max-count search) is hatched."""
    from matplotlib import patheffects

    from spectfsl.core.quantify.polar import RING_EDGES

    plt = _pyplot()
    outline = [patheffects.withStroke(linewidth=2.2, foreground="black")]
    figure, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 4.6), subplot_kw={"projection": "polar"})
    for index, (axis, (caption, values, segments)) in enumerate(zip(np.atleast_1d(axes), panels)):
        rings, sectors = values.shape
        theta = np.linspace(0, 2 * np.pi, sectors + 1)
        radius = np.linspace(0, 1, rings + 1)
        difference = caption.startswith("stress - rest")
        bound = max(10.0, float(np.nanmax(np.abs(values)))) if difference and np.isfinite(values).any() else None
        mesh = axis.pcolormesh(
            theta, radius, np.ma.masked_invalid(values), cmap="RdBu" if difference else "jet",
            vmin=-bound if difference else limits[0], vmax=bound if difference else limits[1], shading="flat",
        )  # fmt: skip
        hatched = filled[index] if filled is not None else None
        if hatched is not None and hatched.any():
            centres = (theta[:-1] + theta[1:]) / 2, (radius[:-1] + radius[1:]) / 2
            axis.contourf(*centres, hatched.astype(float), levels=[0.5, 1.5], colors="none", hatches=["////"])
            caption = f"{caption}\n(hatched: {hatched.mean() * 100:.0f}% filled in, no wall found)"
        for edge in RING_EDGES:
            axis.plot(np.linspace(0, 2 * np.pi, 200), np.full(200, edge), color="black", linewidth=0.8)
        for degrees in range(0, 360, 60):  # basal and mid boundaries
            axis.plot([np.radians(degrees)] * 2, [RING_EDGES[1], 1], color="black", linewidth=0.8)
        for degrees in (45, 135, 225, 315):  # apical boundaries
            axis.plot([np.radians(degrees)] * 2, [RING_EDGES[0], RING_EDGES[1]], color="black", linewidth=0.8)
        for segment, value in segments.items():
            angle, r = _segment_centre(segment)
            text = "" if value is None else f"{value:.0f}"
            axis.text(angle, r, text, ha="center", va="center", fontsize=8, color="white", fontweight="bold",
                      path_effects=outline)  # fmt: skip
        axis.set_xticks(np.radians([90, 180, 270, 0]), ["ANT", "SEPT", "INF", "LAT"], fontsize=8)
        axis.set_yticks([])
        axis.set_ylim(0, 1)
        axis.set_title(caption, fontsize=9, pad=12)
        label = "difference (points)" if difference else "% of maximum"
        figure.colorbar(mesh, ax=axis, shrink=0.7, pad=0.12, label=label)
    figure.suptitle(title, fontsize=9)
    save_figure(figure, path)


def _segment_centre(segment: int) -> tuple[float, float]:
    """(angle in radians, polar radius) of an AHA segment's centre on the bullseye."""
    from spectfsl.core.quantify.polar import RING_EDGES

    if segment == 17:
        return 0.0, 0.0
    if segment >= 13:
        return np.radians(90 + 90 * (segment - 13)), (RING_EDGES[0] + RING_EDGES[1]) / 2
    ring = (RING_EDGES[1] + RING_EDGES[2]) / 2 if segment >= 7 else (RING_EDGES[2] + 1) / 2
    return np.radians(90 + 60 * ((segment - 1) % 6)), ring
