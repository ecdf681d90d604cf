"""Clean-up of label maps by connected pieces counted in the support scans."""

from __future__ import annotations

import numpy as np

from spectfsl.core.segment.pieces import count_pieces, keep_pieces, support_pieces


def _map() -> np.ndarray:
    """Class 1: one wall of 4x4x4 and a 1-voxel speck far off; class 2: two cavities of 3x3x3 and 2x2x2
    and a 1-voxel speck; class 3 absent."""
    labels = np.zeros((20, 20, 20), dtype=np.uint8)
    labels[2:6, 2:6, 2:6] = 1
    labels[18, 18, 18] = 1
    labels[10:13, 10:13, 10:13] = 2
    labels[15:17, 2:4, 2:4] = 2
    labels[2, 18, 10] = 2
    return labels


def test_pieces_of_a_tenth_of_the_largest_are_counted_and_the_most_in_any_support_scan_wins():
    labels = _map()
    assert count_pieces(labels, 4) == [1, 2, 0], "the 1-voxel specks do not count"
    assert count_pieces(labels, 4, min_fraction=0.0) == [2, 3, 0]
    two_walls = labels.copy()
    two_walls[10:13, 2:6, 15:19] = 1  # 48 voxels against 64
    assert count_pieces(two_walls, 4) == [2, 2, 0]
    assert support_pieces([labels, two_walls], 4) == [2, 2, 0]


def test_a_class_keeps_its_largest_pieces_and_stray_voxels_become_background():
    labels = _map()
    kept = keep_pieces(labels, [1, 2, 3], [1, 2, 1])
    expected = labels.copy()
    expected[18, 18, 18] = expected[2, 18, 10] = 0
    np.testing.assert_array_equal(kept, expected)
    assert labels[18, 18, 18] == 1, "the input is left as it was"


def test_a_piece_under_a_tenth_of_its_class_largest_goes_even_when_more_pieces_are_allowed():
    labels = _map()
    kept = keep_pieces(labels, [1, 2, 3], [5, 5, 5])
    assert kept[18, 18, 18] == 0 and kept[2, 18, 10] == 0, "1 voxel against 64 and 27"
    assert (kept == 2).sum() == 27 + 8, "the 8-voxel cavity is over a tenth of the 27-voxel one"
    np.testing.assert_array_equal(keep_pieces(labels, [1, 2], [5, 5], min_fraction=0.0), labels)


def test_a_class_without_support_pieces_recorded_keeps_at_least_its_largest():
    labels = _map()
    assert (keep_pieces(labels, [1], [0]) == 1).sum() == 64


def test_a_model_records_its_support_pieces_and_files_without_them_label_without_clean_up(tmp_path):
    import dataclasses

    import pytest

    from spectfsl.core.image import SpectImage
    from spectfsl.core.segment.model_file import load_segmenter, save_segmenter
    from spectfsl.core.segment.settings import SegmentSettings
    from spectfsl.core.segment.support import SegmentClasses
    from spectfsl.core.segment.workflows import fit_segmenter
    from spectfsl.errors import SpectfslError

    labels = _map()
    pixels = np.where(labels > 0, 100.0, 10.0).astype(np.float32)
    image = SpectImage(pixels, (4.0, 4.0), 4.0, "scan", "P")
    classes = SegmentClasses((0, 1, 2), ("background", "myocardium", "cavity"))
    segmenter = fit_segmenter([(image, labels)], classes, SegmentSettings(steps=1, crop=16, channels=4))
    assert segmenter.info.class_pieces == [1, 2]
    path = tmp_path / "m.safetensors"
    save_segmenter(path, segmenter)
    assert load_segmenter(path).info.class_pieces == [1, 2]
    old = dataclasses.replace(segmenter, info=dataclasses.replace(segmenter.info, class_pieces=None))
    save_segmenter(path, old)
    assert load_segmenter(path).info.class_pieces is None
    bad = dataclasses.replace(segmenter, info=dataclasses.replace(segmenter.info, class_pieces=[1]))
    save_segmenter(path, bad)
    with pytest.raises(SpectfslError, match="class_pieces"):
        load_segmenter(path)
