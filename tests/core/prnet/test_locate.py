"""Locate's building blocks: template matching, tiled reconstruction, offsets between scans."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spectfsl.core.image import SpectImage
from spectfsl.core.networks.prnet import PRNet
from spectfsl.core.prnet.grid import to_grid
from spectfsl.core.prnet.locate import match_template, reconstruct, subpixel_peak, template_side
from spectfsl.core.prnet.model_file import PRNetInfo
from spectfsl.core.processing.preprocess import NORMALISATION


def _blobs(shift_x: float = 0, shape=(40, 50)) -> SpectImage:
    """Three Gaussian blobs of different sizes on a noisy background, moved `shift_x` pixels along x."""
    rows, cols = np.indices(shape)
    pixels = 0.05 + 0.02 * np.random.default_rng(round(shift_x)).random(shape).astype(np.float32)
    for (y, x), sigma in zip([(12, 15), (25, 30), (30, 12)], [2.0, 3.5, 1.5]):
        pixels += np.exp(-((rows - y) ** 2 + (cols - x - shift_x) ** 2) / (2 * sigma**2)).astype(np.float32)
    return SpectImage(pixels, (2.0, 2.0), None, f"blobs{shift_x}", "P", normalisation=NORMALISATION)


def test_template_side_is_odd():
    assert [template_side(n) for n in (16, 17, 32)] == [17, 17, 33]


def test_template_matching_finds_a_translated_landmark():
    reference, target = to_grid(_blobs(), 2.0), to_grid(_blobs(shift_x=6), 2.0)
    found = match_template(reference, (30.0, 25.0), target, template_px=15)
    np.testing.assert_allclose(found, [36.0, 25.0], atol=0.5)


def test_template_matching_finds_a_shift_between_pixels():
    """The correlation peak is refined between pixels: a 6.4-pixel shift is not rounded to 6."""
    reference, target = to_grid(_blobs(), 2.0), to_grid(_blobs(shift_x=6.4), 2.0)
    found = match_template(reference, (30.0, 25.0), target, template_px=15)
    np.testing.assert_allclose(found, [36.4, 25.0], atol=0.15)


def test_subpixel_peak_keeps_the_pixel_where_a_neighbour_is_missing():
    score = np.array([[0.0, 0.2, 0.1], [0.3, 1.0, 0.5], [0.2, -np.inf, 0.2]])
    np.testing.assert_allclose(subpixel_peak(score, (1, 1)), [1.0, 1.0 + 0.5 * (0.3 - 0.5) / (0.3 - 2 + 0.5)])
    assert subpixel_peak(score, (0, 1))[0] == 0.0  # on the edge: no neighbour before it
    flat = np.zeros((3, 3))
    np.testing.assert_array_equal(subpixel_peak(flat, (1, 1)), [1.0, 1.0])  # no curvature: no shift


def test_local_template_matching_stays_within_its_radius():
    reference, target = to_grid(_blobs(), 2.0), to_grid(_blobs(shift_x=6), 2.0)
    near = np.array([12.0, 30.0])  # beside the small blob, far from the true answer (36, 25)
    found = match_template(reference, (30.0, 25.0), target, template_px=15, near=near, radius_mm=8.0)
    assert np.hypot(*(found - near)) * 2.0 <= 8.0 + 1e-6


def test_tiled_reconstruction_covers_the_whole_image_exactly():
    torch.manual_seed(0)
    model = PRNet(16, channels=4).eval()
    info = PRNetInfo(16, 4, model.hidden, 2.0, 100.0, 1.0)
    grid = to_grid(_blobs(), 2.0)  # 40 x 50: not a multiple of the 16-pixel patch
    real, decoded = reconstruct(model, info, grid)
    assert real.shape == decoded.shape == grid.pixels.shape
    np.testing.assert_allclose(real, grid.pixels, atol=1e-6)  # the tiles are the image itself
    patch_real, patch_decoded = reconstruct(model, info, grid, (30.0, 25.0))
    assert patch_real.shape == patch_decoded.shape == (16, 16)


def _stage():
    torch.manual_seed(0)
    model = PRNet(16, 4, 32).eval()
    return [(model, PRNetInfo(16, 4, 32, 4.0, 100.0, 0.0))]


def test_located_rows_stream_in_batches_and_equal_one_pass(monkeypatch):
    from spectfsl.core.files.loader import BadInput
    from spectfsl.core.prnet import locate as module

    monkeypatch.setattr(module, "TARGETS_PER_BATCH", 2)
    stages = _stage()
    reference = to_grid(_blobs(), 4.0)
    grids = [to_grid(_blobs(shift), 4.0) for shift in range(5)]
    entries = [grids[0], BadInput("bad.dcm", "bad.dcm: unreadable"), *grids[1:]]
    rows = list(module.locate_rows(stages, reference, [("lv", (20.0, 15.0))], iter(entries)))
    whole = module.locate(stages, reference, (20.0, 15.0), grids)
    assert [row.get("error") for row in rows] == [None, "bad.dcm: unreadable", None, None, None, None]
    located = [row for row in rows if "error" not in row]
    assert [(row["x"], row["y"], row["steps"]) for row in located] == [
        (round(float(w.xy[0]), 2), round(float(w.xy[1]), 2), w.steps) for w in whole
    ]


def test_located_rows_come_before_a_later_target_is_read(monkeypatch):
    from spectfsl.core.prnet import locate as module

    monkeypatch.setattr(module, "TARGETS_PER_BATCH", 2)
    stages = _stage()
    reference = to_grid(_blobs(), 4.0)

    def targets():
        yield to_grid(_blobs(1), 4.0)
        yield to_grid(_blobs(2), 4.0)
        raise RuntimeError("the third target is read only after the first two are located")

    rows = module.locate_rows(stages, reference, [("lv", (20.0, 15.0))], targets())
    assert [next(rows)["path"], next(rows)["path"]] == ["blobs1", "blobs2"]
    with pytest.raises(RuntimeError, match="third target"):
        next(rows)


def test_match_score_is_high_on_the_same_anatomy_and_low_elsewhere():
    from spectfsl.core.prnet.locate import match_score

    reference, target = to_grid(_blobs(), 2.0), to_grid(_blobs(shift_x=6), 2.0)
    same = match_score(reference, (30.0, 25.0), target, (36.0, 25.0), template_px=15)
    other = match_score(reference, (30.0, 25.0), target, (15.0, 30.0), template_px=15)
    flat = match_score(reference, (48.0, 2.0), target, (36.0, 25.0), template_px=15)  # a corner of noise
    assert same > 0.9 and other < 0.5 and abs(flat) < 0.5


def test_a_point_that_runs_out_of_steps_is_not_converged():
    from spectfsl.core.prnet.locate import locate

    [(model, _)] = _stage()
    stages = [(model, PRNetInfo(16, 4, 32, 4.0, 1e5, 0.0))]  # offsets scaled up: moves too long to settle
    reference, targets = to_grid(_blobs(), 4.0), [to_grid(_blobs(3), 4.0)]
    [hurried] = locate(stages, reference, (20.0, 15.0), targets, max_steps=1)
    assert hurried.steps == 1 and not hurried.converged
