"""Clean-up of a label map by connected pieces, learnt from the support scans (`--drop-stray`).

A piece counts when it holds at least MIN_PIECE_FRACTION of its class's largest piece. A class keeps
at most as many pieces as it has in a support scan (the phantom's myocardium one, its ventricles two;
the specks of hand-drawn contours do not count), the largest first, and only pieces that count; the
voxels of the other pieces become background. This removes the few voxels a network labels far from
the heart, which cost little Dice but most of the HD95; it also drops a real piece where a predicted
wall breaks in two, which is why it is not the default.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

#: A piece smaller than this fraction of its class's largest piece is dropped, however few pieces.
MIN_PIECE_FRACTION = 0.1


def count_pieces(indices: np.ndarray, classes: int, min_fraction: float = MIN_PIECE_FRACTION) -> list[int]:
    """Connected pieces (face-connected voxels) of at least `min_fraction` of the class's largest, for
    each foreground class 1..classes-1 of a class-index map."""
    counts = []
    for index in range(1, classes):
        components, found = ndimage.label(indices == index)
        sizes = np.bincount(components.ravel())[1:]
        counts.append(int((sizes >= min_fraction * sizes.max()).sum()) if found else 0)
    return counts


def support_pieces(maps: Sequence[np.ndarray], classes: int) -> list[int]:
    """Per foreground class, the most pieces that count it has in any of the support scans' class-index maps."""
    return [max(counts) for counts in zip(*(count_pieces(indices, classes) for indices in maps))]


def keep_pieces(
    label_ids: np.ndarray,
    class_ids: Sequence[int],
    pieces: Sequence[int],
    min_fraction: float = MIN_PIECE_FRACTION,
) -> np.ndarray:
    """`label_ids` with each class `class_ids[i]` cut down to its `pieces[i]` largest pieces of at
    least `min_fraction` of the largest; the rest becomes background (0). A new array."""
    kept = label_ids.copy()
    for class_id, allowed in zip(class_ids, pieces):
        mask = label_ids == class_id
        components, found = ndimage.label(mask)
        if found == 0:
            continue
        sizes = np.bincount(components.ravel())[1:]
        largest_first = np.argsort(sizes, kind="stable")[::-1][: max(allowed, 1)]
        keep = [index + 1 for index in largest_first if sizes[index] >= min_fraction * sizes.max()]
        if len(keep) < found:
            kept[mask & ~np.isin(components, keep)] = 0
    return kept
