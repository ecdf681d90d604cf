"""Class ids and class indices: `ids_of` and `indices_of` undo each other; unknown ids are background."""

from __future__ import annotations

import numpy as np

from spectfsl.core.segment.support import SegmentClasses


def test_indices_of_undoes_ids_of_and_takes_an_unknown_id_as_background():
    classes = SegmentClasses((0, 1, 5), ("background", "myocardium", "cavity"))
    indices = np.array([[0, 1, 2], [2, 1, 0]], dtype=np.uint8)
    ids = classes.ids_of(indices)
    assert ids.tolist() == [[0, 1, 5], [5, 1, 0]]
    np.testing.assert_array_equal(classes.indices_of(ids), indices)
    assert classes.indices_of(np.array([3, 5, 300])).tolist() == [0, 2, 0]
