"""Is a tissue map believable? A scan and its predicted map are compared with the model's support
scans (field of view, intensity profile, each class's volume and number of pieces) and the named LV
classes with physiological volumes, so that a wrong answer does not look like a right one.

A scan's profile (`scan_profile`) is what the model file records of each support scan at fit time;
`implausible` lists, in words, what sets a scan and its map apart. Models written before profiles
were recorded (and the built-in ones, whose support is a whole recipe) are checked against the
physiological ranges and the spacing only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from spectfsl.core.image import SpectImage, placeholder_spacing
from spectfsl.core.processing.preprocess import normalise_intensity
from spectfsl.core.segment.pieces import count_pieces
from spectfsl.core.segment.support import SegmentClasses, voxel_spacing

#: Volumes (ml) outside which an LV class is implausible in an adult heart: generous bounds around
#: reported myocardial volumes (about 60-250 ml) and LV cavity volumes (about 15-350 ml), so that
#: only a map that cannot be a heart is flagged.
PHYSIOLOGICAL_ML = {"myocardium": (30.0, 450.0), "cavity": (5.0, 600.0), "ventricles": (5.0, 600.0)}
#: How many times larger or smaller than the support's a scan's field of view, bright share or class
#: volume may be before the scan is named unlike the support.
FACTOR = 3.0
#: Pieces a class may have beyond the support's most before the map is named fragmented.
EXTRA_PIECES = 2
#: Normalised intensity above which a voxel counts as bright (the intensity profile).
BRIGHT = 0.5


def scan_profile(image: SpectImage, label_ids: np.ndarray, classes: SegmentClasses) -> dict[str, Any]:
    """What a support scan (with its labels) or a labelled scan is like: field of view (mm, or voxels
    when the spacing is unknown), share of bright voxels, and per class the volume (ml, or voxels)
    and the number of pieces."""
    known = voxel_spacing(image)
    spacing = known or (1.0,) * image.pixels.ndim
    voxel = float(np.prod(spacing)) / (1000.0 if known and image.is_volume else 1.0)
    pieces = count_pieces(classes.indices_of(label_ids), len(classes.ids))
    return {
        "field_mm": [round(n * s, 1) for n, s in zip(image.pixels.shape, spacing)],
        "bright_fraction": round(float((normalise_intensity(image.pixels) >= BRIGHT).mean()), 4),
        "class_volume": {name: round(float((label_ids == i).sum()) * voxel, 3) for i, name in classes.foreground},
        "class_pieces": {name: count for (_, name), count in zip(classes.foreground, pieces)},
    }


def _outside(value: float, low: float, high: float) -> bool:
    return value < low / FACTOR or value > high * FACTOR


def _shown(values: Sequence[float]) -> str:
    return "x".join(f"{v:g}" for v in values)


def implausible(
    image: SpectImage,
    label_ids: np.ndarray,
    classes: SegmentClasses,
    support: Sequence[dict[str, Any]] | None,
) -> list[str]:
    """What sets the scan and its predicted map apart from the support scans' profiles (`support`,
    None when the model recorded none) and from physiology, in words; empty when nothing does."""
    found = scan_profile(image, label_ids, classes)
    reasons = []
    if placeholder_spacing(image):
        reasons.append(
            f"1 mm voxels on a {_shown(image.pixels.shape)} scan look like a placeholder spacing "
            "(give the true voxel size)"
        )
    volumes_in_ml = image.is_volume and voxel_spacing(image) is not None and not placeholder_spacing(image)
    for name, volume in found["class_volume"].items():
        bounds = PHYSIOLOGICAL_ML.get(name)
        if bounds and volumes_in_ml and not bounds[0] <= volume <= bounds[1]:
            reasons.append(f"{name} {volume:.0f} ml, outside the {bounds[0]:g}-{bounds[1]:g} ml of a heart")
    if not support:
        return reasons
    for axis, extent in enumerate(found["field_mm"]):
        known = [s["field_mm"][axis] for s in support]
        if _outside(extent, min(known), max(known)):
            reasons.append(
                f"field of view {_shown(found['field_mm'])} mm against the support's {_shown(support[0]['field_mm'])}"
            )
            break
    bright = [s["bright_fraction"] for s in support]
    if min(bright) > 0 and _outside(found["bright_fraction"], min(bright), max(bright)):
        share = f"{found['bright_fraction']:.0%} of voxels bright"
        reasons.append(f"{share} against {min(bright):.0%}-{max(bright):.0%} in the support")
    for name, volume in found["class_volume"].items():
        known = [s["class_volume"][name] for s in support if name in s["class_volume"]]
        if known and min(known) > 0 and _outside(volume, min(known), max(known)):
            reasons.append(f"{name} volume {volume:g} against {min(known):g}-{max(known):g} in the support")
        most = max((s["class_pieces"].get(name, 0) for s in support), default=0)
        if found["class_pieces"][name] > most + EXTRA_PIECES:
            reasons.append(f"{name} in {found['class_pieces'][name]} pieces against at most {most} in the support")
    return reasons
