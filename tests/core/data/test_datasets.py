"""Building 2D datasets: crops at a fixed physical size, slices, manifest."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from spectfsl.core.data.datasets import (
    MANIFEST_COLUMNS,
    LabelledScan,
    PrepareSettings,
    check_classes_present,
    masks_from_labels,
    parse_classes,
    prepare_dataset,
    read_dataset,
)
from spectfsl.core.image import SpectImage
from spectfsl.errors import SpectfslError


def _scan(spacing=(4.0, 4.0)) -> LabelledScan:
    pixels = np.full((2, 40, 40), 10.0, np.float32)
    labels = np.zeros((2, 40, 40), np.uint8)
    labels[:, 10:16, 10:16] = 1  # small tissue: 24 mm square at 4 mm
    labels[0, 20:36, 5:37] = 3  # large tissue on slice 0 only
    pixels[labels == 1] = 100.0
    image = SpectImage(pixels, spacing, 4.0, "scan.dcm", "P1", frames=(0, 1))
    label_map = SpectImage(labels.astype(np.float32), spacing, 4.0, "labels.npy", "P1")
    return LabelledScan(image, masks_from_labels(label_map, {1: "myocardium", 3: "liver"}))


def _manifest(folder):
    with open(folder / "manifest.csv") as handle:
        return list(csv.DictReader(handle))


def test_crops_have_a_fixed_physical_window_whatever_the_tissue_size(tmp_path):
    prepare_dataset([_scan()], tmp_path, PrepareSettings(size=32, spacing_mm=2.0, min_pixels=10, slices=False))
    rows = _manifest(tmp_path)
    assert sorted(row["path"] for row in rows) == ["liver/P1_000.npy", "myocardium/P1_000.npy", "myocardium/P1_001.npy"]
    for row in rows:
        assert (int(row["width"]), int(row["height"])) == (16, 16)  # 64 mm at 4 mm pixels
        assert np.load(tmp_path / row["path"]).shape == (32, 32)
        assert json.loads((tmp_path / row["path"]).with_suffix(".json").read_text())["pixel_spacing_mm"] == [2.0, 2.0]


def test_masked_style_keeps_only_the_tissue_and_patch_keeps_the_window(tmp_path):
    settings = dict(size=32, spacing_mm=2.0, min_pixels=10, slices=False)
    prepare_dataset([_scan()], tmp_path / "m", PrepareSettings(style="masked", **settings))
    prepare_dataset([_scan()], tmp_path / "p", PrepareSettings(style="patch", **settings))
    masked = np.load(tmp_path / "m" / "myocardium" / "P1_000.npy")
    patch = np.load(tmp_path / "p" / "myocardium" / "P1_000.npy")
    assert masked[0, 0] == 0 and patch[0, 0] > 0
    # the 24 mm tissue fills 12 of 32 pixels at 2 mm: its size is kept, not stretched
    assert 10 <= (masked > 0.5).sum(axis=1).max() <= 14


def test_min_pixels_skips_small_tissue(tmp_path):
    prepare_dataset([_scan()], tmp_path, PrepareSettings(size=16, min_pixels=37, slices=False))
    assert [row["class"] for row in _manifest(tmp_path)] == ["liver"]


def test_slices_are_resampled_to_the_common_grid_and_listed_without_class(tmp_path):
    prepare_dataset([_scan()], tmp_path, PrepareSettings(size=16, spacing_mm=2.0))
    slices = [row for row in _manifest(tmp_path) if row["class"] == ""]
    assert [row["path"] for row in slices] == ["slices/P1_000.npy", "slices/P1_001.npy"]
    assert np.load(tmp_path / slices[0]["path"]).shape == (80, 80)
    assert list(_manifest(tmp_path)[0].keys()) == list(MANIFEST_COLUMNS)


def test_unknown_spacing_keeps_source_pixels(tmp_path):
    prepare_dataset([_scan(spacing=None)], tmp_path, PrepareSettings(size=16, min_pixels=10, slices=False))
    row = _manifest(tmp_path)[0]
    assert (row["width"], row["row_mm"]) == ("16", "")


def test_parse_classes_reads_ids_and_names():
    assert parse_classes("1=myocardium, 2=ventricles") == {1: "myocardium", 2: "ventricles"}


@pytest.mark.parametrize("text", ["myocardium", "x=liver", "1=", "1=slices", "1=a/b"])
def test_parse_classes_refuses_malformed_items(text):
    with pytest.raises(SpectfslError):
        parse_classes(text)


def test_class_id_absent_from_every_label_map_is_refused():
    with pytest.raises(SpectfslError, match="class id 7"):
        check_classes_present({1: "myocardium", 7: "spleen"}, {0, 1, 2}, ["labels.npy"])


def _small_dataset(root):
    for name in ("liver", "myocardium"):
        (root / name).mkdir(parents=True)
        for index in range(2):
            np.save(root / name / f"{index}.npy", np.ones((8, 8), dtype=np.float32))


def test_a_symlinked_image_outside_the_dataset_is_refused(tmp_path):
    root = tmp_path / "ds"
    _small_dataset(root)
    np.save(tmp_path / "elsewhere.npy", np.ones((8, 8), dtype=np.float32))
    (root / "liver" / "2.npy").symlink_to(tmp_path / "elsewhere.npy")
    with pytest.raises(SpectfslError, match="leads outside"):
        read_dataset(root)


def test_a_class_folder_linked_from_outside_is_refused(tmp_path):
    root = tmp_path / "ds"
    _small_dataset(root)
    _small_dataset(tmp_path / "other")
    (root / "ventricles").symlink_to(tmp_path / "other" / "liver", target_is_directory=True)
    with pytest.raises(SpectfslError, match="leads outside"):
        read_dataset(root)


def test_links_that_stay_inside_the_dataset_are_read(tmp_path):
    root = tmp_path / "ds"
    _small_dataset(root)
    (root / "liver" / "2.npy").symlink_to(root / "myocardium" / "0.npy")
    assert read_dataset(root).labels.count("liver") == 3
