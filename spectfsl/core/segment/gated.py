"""Gated studies: a tissue map for every gate of the cardiac cycle, and whether the maps hang together.

Each gate is labelled as a volume of its own (the network sees one gate's counts). Over a heartbeat
the myocardium keeps its volume and the LV cavity never vanishes, so maps whose myocardium swings
by more than `MYOCARDIUM_CV_LIMIT`, or that lose the cavity in a gate, are named implausible.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spectfsl.core.image import GatedImage
from spectfsl.core.segment.model_file import Segmenter
from spectfsl.core.segment.support import SegmentClasses, voxel_spacing
from spectfsl.core.segment.workflows import CAVITY_NAMES, WALL_NAMES, segment_image

#: Coefficient of variation of the myocardium's volume over the gates above which the maps are flagged:
#: well above what experts' own contours of the cycle show (`benchmarks/gated_lvef.py` reports both).
MYOCARDIUM_CV_LIMIT = 0.15
#: A gate whose cavity is below this share of the largest gate's has lost it (an LVEF above 90%).
VANISHED_CAVITY = 0.1


def segment_gates(segmenter: Segmenter, study: GatedImage, drop_stray: bool = False) -> np.ndarray:
    """Class ids (uint8, 0 = background) of every voxel of every gate: (gates, slices, rows, cols)."""
    return np.stack([segment_image(segmenter, gate, drop_stray) for gate in study.gates])


def class_volumes_ml(study: GatedImage, label_ids: np.ndarray, class_id: int) -> list[float] | None:
    """The volume (ml) of one class in each gate; None where the voxel size is unknown."""
    spacing = voxel_spacing(study.gates[0])
    if spacing is None:
        return None
    voxel_ml = float(np.prod(spacing)) / 1000.0
    return [round(float((gate == class_id).sum()) * voxel_ml, 3) for gate in label_ids]


def gated_volume_row(study: GatedImage, label_ids: np.ndarray, classes: SegmentClasses) -> dict[str, Any]:
    """`segment predict`'s volumes of a gated study: per class the mean voxels and ml over the gates,
    and `<class>_ml_per_gate` (a list, gate 1 first); `gates`, the number of gates."""
    row: dict[str, Any] = {"gates": study.n_gates}
    for class_id, name in classes.foreground:
        counts = (label_ids == class_id).sum(axis=(1, 2, 3))
        per_gate = class_volumes_ml(study, label_ids, class_id)
        row[f"{name}_voxels"] = round(float(counts.mean()), 1)
        row[f"{name}_ml"] = round(float(np.mean(per_gate)), 3) if per_gate is not None else None
        row[f"{name}_ml_per_gate"] = per_gate
    return row


def inconsistent_in_time(label_ids: np.ndarray, classes: SegmentClasses) -> list[str]:
    """What makes a gated study's maps unlike a beating heart, in words (empty when nothing does): a
    myocardium whose volume varies by more than `MYOCARDIUM_CV_LIMIT`, a cavity lost in a gate."""
    reasons = []
    for class_id, name in classes.foreground:
        counts = (label_ids == class_id).sum(axis=(1, 2, 3)).astype(float)
        if name in WALL_NAMES and counts.mean() > 0:
            variation = counts.std() / counts.mean()
            if variation > MYOCARDIUM_CV_LIMIT:
                reasons.append(
                    f"{name} volume varies by {variation:.0%} over the gates (a heart's by a few %): the gates' "
                    "maps disagree"
                )
        if name in CAVITY_NAMES:
            lost = [gate + 1 for gate, count in enumerate(counts) if count < VANISHED_CAVITY * max(counts.max(), 1)]
            if lost:
                reasons.append(f"{name} lost in gate(s) {', '.join(map(str, lost))}")
    return reasons
