"""Intensity normalisation and window resampling."""

from __future__ import annotations

import numpy as np
import pytest

from spectfsl.core.processing.preprocess import intensity_scale, normalise_intensity, resample_plane, sample_window


def test_percentile_of_nonzero_voxels_maps_to_one():
    pixels = np.zeros((100, 100))
    pixels[:50] = np.linspace(1, 1000, 5000).reshape(50, 100)
    scale = intensity_scale(pixels)
    assert np.isclose(scale, np.percentile(pixels[pixels > 0], 99.5))
    normalised = normalise_intensity(pixels)
    assert np.isclose(np.percentile(normalised[normalised > 0], 99.5), 1.0)


def test_normalised_values_are_clipped_to_zero_and_two():
    pixels = np.concatenate([np.full(1000, 10.0), [-5.0, 1e6]])
    normalised = normalise_intensity(pixels)
    assert normalised.min() == 0.0 and normalised.max() == 2.0


def test_identity_window_returns_the_plane():
    plane = np.random.rand(7, 9).astype(np.float32)
    np.testing.assert_allclose(sample_window(plane, (0, 0), (7, 9), (7, 9)), plane, atol=1e-6)


def test_window_outside_the_plane_is_zero_padded():
    plane = np.ones((4, 4), np.float32)
    window = sample_window(plane, (-2, -2), (8, 8), (8, 8), order=0)
    assert window[:2].sum() == 0 and window[2:6, 2:6].min() == 1.0


def test_resample_plane_keeps_physical_extent():
    plane = np.random.rand(20, 30).astype(np.float32)
    resampled, spacing = resample_plane(plane, (6.4, 4.0), 2.0)
    assert resampled.shape == (64, 60)
    assert np.allclose(np.array(resampled.shape) * spacing, [128.0, 120.0])


@pytest.mark.parametrize("top_left", [(0, 0), (3, -2), (-5, 7), (20, 20), (-40, 0)])
def test_a_whole_pixel_window_is_copied_with_the_values_interpolation_gives(top_left):
    from scipy import ndimage

    plane = np.random.default_rng(0).random((24, 30)).astype(np.float32)
    copied = sample_window(plane, top_left, (16, 16), (16, 16))
    rows = top_left[0] + np.arange(16.0)
    cols = top_left[1] + np.arange(16.0)
    interpolated = ndimage.map_coordinates(plane, np.meshgrid(rows, cols, indexing="ij"), order=1, mode="constant")
    np.testing.assert_array_equal(copied, interpolated.astype(np.float32))
