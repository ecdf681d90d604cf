"""Scans paired with their label maps or masks, as `prepare` receives them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spectfsl.core.data.prepare import labelled_scans, parse_mask_options, prepare
from spectfsl.core.files.formats import save_npy
from spectfsl.core.image import SpectImage
from spectfsl.errors import SpectfslError


def _write(path: Path, pixels: np.ndarray) -> Path:
    save_npy(path, SpectImage(pixels.astype(np.float32), (2.0, 2.0), 2.0 if pixels.ndim == 3 else None, "t", path.stem))
    return path


@pytest.fixture
def scan(tmp_path) -> tuple[Path, Path]:
    """A 3-slice volume with a label map: id 1 a square, id 2 a smaller square beside it."""
    volume = np.random.default_rng(0).random((3, 24, 24)) + 1
    labels = np.zeros((3, 24, 24))
    labels[:, 4:12, 4:12] = 1
    labels[:, 14:20, 14:20] = 2
    return _write(tmp_path / "scan.npy", volume), _write(tmp_path / "labels.npy", labels)


def test_masks_are_grouped_by_class_in_the_order_given():
    masks = parse_mask_options(["heart=a.png", "liver=b.png", "heart=c.png"])
    assert masks == {"heart": [Path("a.png"), Path("c.png")], "liver": [Path("b.png")]}
    with pytest.raises(SpectfslError, match="not of the form NAME=PATH"):
        parse_mask_options(["heart"])


def test_a_label_map_gives_one_mask_per_class(scan):
    image, labels = scan
    [pair] = labelled_scans([(image, None)], [labels], {1: "tissue", 2: "pool"}, {})
    assert set(pair.masks) == {"tissue", "pool"}
    assert pair.masks["tissue"].sum() == 3 * 64 and pair.masks["pool"].sum() == 3 * 36


def test_a_frame_selects_the_same_slice_of_the_label_map(scan):
    image, labels = scan
    [pair] = labelled_scans([(image, 1)], [labels], {1: "tissue"}, {})
    assert pair.image.pixels.ndim == 2 and pair.masks["tissue"].sum() == 64


def test_counts_and_shapes_must_match(scan, tmp_path):
    image, labels = scan
    with pytest.raises(SpectfslError, match="2 label maps for 1 images"):
        list(labelled_scans([(image, None)], [labels, labels], {1: "tissue"}, {}))
    small = _write(tmp_path / "small.npy", np.zeros((3, 10, 10)))
    with pytest.raises(SpectfslError, match="small.npy: shape"):
        list(labelled_scans([(image, None)], [], None, {"tissue": [small]}))
    with pytest.raises(SpectfslError, match="derive_from lv: no class of that name"):
        list(labelled_scans([(image, None)], [labels], {1: "tissue"}, {}, derive_from="lv"))


def test_prepare_reports_progress_in_scans(scan, tmp_path):
    image, labels = scan
    seen = []
    rows = prepare(
        [image, image],
        tmp_path / "out",
        labels=[labels, labels],
        classes="1=tissue,2=pool",
        on_scan=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(1, 2), (2, 2)]
    assert {row.class_name for row in rows} == {"tissue", "pool", ""}
