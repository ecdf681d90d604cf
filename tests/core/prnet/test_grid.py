"""The PRNet grid: exact offsets in mm, exact patches, zero padding."""

from __future__ import annotations

import numpy as np
import torch

from spectfsl.core.image import SpectImage
from spectfsl.core.prnet.grid import extract_patches, to_grid
from spectfsl.core.processing.preprocess import NORMALISATION


def _plane(shape=(30, 40), spacing=(2.0, 3.0)) -> SpectImage:
    pixels = np.random.default_rng(0).random(shape).astype(np.float32) + 0.2
    return SpectImage(pixels, spacing, None, "img", "P", normalisation=NORMALISATION)


def test_grid_offsets_are_exact_in_mm_for_anisotropic_pixels():
    grid = to_grid(_plane(spacing=(2.0, 3.0)), pixel_mm=1.0)
    assert grid.pixels.shape == (60, 120)
    first, second = np.array([4.0, 7.0]), np.array([13.0, 2.0])  # source pixels (x, y)
    model_offset_mm = (grid.to_model(second) - grid.to_model(first)) * 1.0
    np.testing.assert_allclose(model_offset_mm, (second - first) * [3.0, 2.0])
    np.testing.assert_allclose(grid.to_source(grid.to_model(first)), first)


def test_patches_at_integer_centres_are_exact_and_zero_padded():
    image = torch.arange(100, dtype=torch.float32).reshape(1, 1, 10, 10)
    patch = extract_patches(image, torch.tensor([[4.0, 5.0]]), 4)  # x=4 (col), y=5 (row); odd centre offset 1.5
    inner = extract_patches(image, torch.tensor([[4.0, 5.0]]), 16)
    assert patch.shape == (1, 1, 4, 4)
    three = extract_patches(image, torch.tensor([[4.0, 5.0]]), 3)[0, 0]
    torch.testing.assert_close(three, image[0, 0, 4:7, 3:6])
    assert inner[0, 0, 0, 0] == 0.0  # outside the image
