"""PRNet: shapes, exact offsets on the model grid, training, and model files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spectfsl.core.image import SpectImage
from spectfsl.core.models.prnet import PRNet
from spectfsl.core.imaging.preprocess import NORMALISATION
from spectfsl.core.localisation.grid import extract_patches, to_grid
from spectfsl.core.localisation.model_file import PRNetInfo, load_prnet, save_prnet
from spectfsl.core.localisation.training import PairSampler, PRNetSettings, train_prnet
from spectfsl.core.files.store import save_tensors
from spectfsl.errors import SpectfslError


@pytest.mark.parametrize("patch", [16, 32, 48, 64])
def test_shapes_for_patch_sizes_that_are_multiples_of_16(patch):
    model = PRNet(patch, channels=4)
    coordinates, decoded = model(torch.rand(3, 1, patch, patch))
    assert coordinates.shape == (3, 2) and decoded.shape == (3, 1, patch, patch)
    assert model.embedding(torch.rand(2, 1, patch, patch)).shape == (2, model.hidden)


@pytest.mark.parametrize("patch", [8, 24, 40])
def test_other_patch_sizes_are_refused(patch):
    with pytest.raises(SpectfslError, match="multiple of 16"):
        PRNet(patch)


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


def test_pair_sampler_draws_body_points_of_the_same_slice():
    plane = _plane()
    plane.pixels[:, :20] = 0.0  # no body on the left half
    grid = to_grid(plane, 3.0)
    sampler = PairSampler([grid], torch.Generator().manual_seed(0))
    _, first, second = sampler.sample(64)
    columns_mm = torch.cat([first, second])[:, 0] * 3.0
    assert (columns_mm > 20 * 3.0 - 3.0).all()


def test_a_short_training_run_reduces_the_loss():
    rng = np.random.default_rng(1)
    grids = []
    for shift in range(4):
        pixels = np.zeros((48, 48), np.float32)
        rows, cols = np.indices(pixels.shape)
        pixels[:] = 0.2 + 0.8 * (cols + shift) / 52.0 + 0.3 * (rows / 48.0) ** 2  # position is readable from content
        grids.append(to_grid(SpectImage(pixels + rng.normal(0, 0.01, pixels.shape).astype(np.float32), (4.0, 4.0), None, "x", "P", normalisation=NORMALISATION), 4.0))
    settings = PRNetSettings(patch=16, epochs=6, iters=10, batch_size=8, channels=4, reconstruction_weight=0.0, offset_scale_mm=100.0)
    _, losses = train_prnet(grids, settings)
    assert losses[-1] < 0.5 * losses[0]


def test_training_is_repeatable_with_a_seed_on_cpu():
    grids = [to_grid(_plane(), 4.0)]
    settings = PRNetSettings(patch=16, epochs=2, iters=3, batch_size=4, channels=4, seed=7)
    first, first_losses = train_prnet(grids, settings)
    second, second_losses = train_prnet(grids, settings)
    assert first_losses == second_losses
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), name


def test_model_file_round_trip_and_refusals(tmp_path):
    model = PRNet(32, channels=4)
    info = PRNetInfo(32, 4, model.hidden, 4.0, 100.0, 1.0)
    save_prnet(tmp_path / "m.safetensors", model, info)
    loaded, loaded_info = load_prnet(tmp_path / "m.safetensors")
    assert loaded_info.patch == 32 and loaded_info.pixel_mm == 4.0
    patches = torch.rand(2, 1, 32, 32)
    torch.testing.assert_close(loaded.position(patches), model.eval().position(patches))
    save_tensors(tmp_path / "bank.safetensors", {"x": torch.zeros(1)}, "spectfsl.bank/1", {})
    with pytest.raises(SpectfslError, match="expected spectfsl.prnet/1"):
        load_prnet(tmp_path / "bank.safetensors")
    mismatched = PRNetInfo(48, 4, model.hidden, 4.0, 100.0, 1.0)
    save_prnet(tmp_path / "bad.safetensors", model, mismatched)
    with pytest.raises(SpectfslError, match="do not fit"):
        load_prnet(tmp_path / "bad.safetensors")
