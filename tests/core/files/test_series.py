"""A folder of single-frame DICOM files of one series is one volume, as dcm2niix users expect."""

from __future__ import annotations

import numpy as np
import pytest

from spectfsl.core.files.loader import expand_inputs, iter_images, load_image
from spectfsl.errors import SpectfslError
from tests.dicom_series import write_series


def _volume(slices: int = 6) -> np.ndarray:
    volume = np.zeros((slices, 12, 10), dtype=np.uint16)
    for k in range(slices):
        volume[k] = 100 * (k + 1)  # slice k holds the value 100 (k + 1)
    return volume


def test_files_in_any_name_order_make_one_volume_sorted_along_the_normal(tmp_path):
    write_series(tmp_path / "series", _volume(), order=[3, 0, 5, 1, 4, 2])  # file names do not follow position
    [(item, frame)] = expand_inputs([tmp_path / "series"])
    image = load_image(item)
    assert image.pixels.shape == (6, 12, 10) and frame is None
    assert image.pixels[:, 0, 0].tolist() == [100, 200, 300, 400, 500, 600]
    assert image.pixel_spacing_mm == (4.0, 4.0) and image.slice_spacing_mm == pytest.approx(4.0)
    assert image.source == str(tmp_path / "series")


def test_frames_of_a_series_folder_work_like_frames_of_a_file(tmp_path):
    write_series(tmp_path / "series", _volume(), order=[5, 4, 3, 2, 1, 0])
    plane = load_image(f"{tmp_path / 'series'}@2")
    assert plane.pixels.shape == (12, 10) and plane.pixels[0, 0] == 300 and plane.frame == 2
    assert plane.label == f"{tmp_path / 'series'}@2"
    with pytest.raises(SpectfslError, match="frame 6 out of range"):
        load_image(f"{tmp_path / 'series'}@6")


def test_a_folder_with_two_series_gives_two_volumes_named_folder_k(tmp_path):
    write_series(tmp_path / "study", _volume(4), uid="1.2.3.1", prefix="A")
    write_series(tmp_path / "study", _volume(5), uid="1.2.3.2", prefix="B")
    images = list(iter_images([tmp_path / "study"]))
    assert [image.pixels.shape[0] for image in images] == [4, 5]
    assert [image.source for image in images] == [f"{tmp_path / 'study'}#1", f"{tmp_path / 'study'}#2"]
    assert load_image(f"{tmp_path / 'study'}#2@4").pixels[0, 0] == 500
    with pytest.raises(SpectfslError, match="folder of 2 images"):
        load_image(tmp_path / "study")


def test_series_in_subfolders_are_named_by_their_folder(tmp_path):
    write_series(tmp_path / "study" / "rest", _volume(4), uid="1.2.4.1")
    write_series(tmp_path / "study" / "stress", _volume(3), uid="1.2.4.2")
    sources = [image.source for image in iter_images([tmp_path / "study"])]
    assert sources == [str(tmp_path / "study" / "rest"), str(tmp_path / "study" / "stress")]


def test_uneven_spacing_and_mixed_geometry_are_refused(tmp_path):
    write_series(tmp_path / "gap", _volume(4), gaps_mm=[4.0, 4.0, 8.0])
    with pytest.raises(SpectfslError, match="not evenly spaced"):
        load_image(tmp_path / "gap")
    files = write_series(tmp_path / "mixed", _volume(3), pixel_mm=4.0, uid="1.2.9")
    write_series(tmp_path / "other", _volume(1)[:, :8], pixel_mm=4.0, uid="1.2.9")[0].rename(files[0])
    with pytest.raises(SpectfslError, match="Rows differs"):
        load_image(tmp_path / "mixed")
