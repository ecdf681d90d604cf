"""PRNet training: pairs from one slice's body, a falling loss, repeatability."""

from __future__ import annotations

import numpy as np
import torch

from spectfsl.core.image import SpectImage
from spectfsl.core.prnet.grid import to_grid
from spectfsl.core.prnet.training import PairSampler, PRNetSettings, train_prnet
from spectfsl.core.processing.preprocess import NORMALISATION


def _plane(shape=(30, 40), spacing=(2.0, 3.0)) -> SpectImage:
    pixels = np.random.default_rng(0).random(shape).astype(np.float32) + 0.2
    return SpectImage(pixels, spacing, None, "img", "P", normalisation=NORMALISATION)


def test_pair_sampler_draws_both_points_of_a_pair_from_the_body_of_one_slice():
    left, right = _plane(), _plane()
    left.pixels[:, 20:] = 0.0  # body only on the left half of one slice ...
    right.pixels[:, :20] = 0.0  # ... and only on the right half of the other
    grids = [to_grid(left, 3.0), to_grid(right, 3.0)]
    sampler = PairSampler(grids, torch.Generator().manual_seed(0))
    indices, first, second = sampler.sample(64)
    assert set(indices.tolist()) == {0, 1}
    half_mm = 20 * 3.0  # source pixels x 3 mm, the same as model pixels x 3 mm here
    for index, a, b in zip(indices.tolist(), first[:, 0] * 3.0, second[:, 0] * 3.0):
        if index == 0:
            assert a < half_mm + 3.0 and b < half_mm + 3.0
        else:
            assert a > half_mm - 3.0 and b > half_mm - 3.0


def test_a_short_training_run_reduces_the_loss():
    rng = np.random.default_rng(1)
    grids = []
    for shift in range(4):
        pixels = np.zeros((48, 48), np.float32)
        rows, cols = np.indices(pixels.shape)
        pixels[:] = 0.2 + 0.8 * (cols + shift) / 52.0 + 0.3 * (rows / 48.0) ** 2  # position is readable from content
        grids.append(
            to_grid(
                SpectImage(
                    pixels + rng.normal(0, 0.01, pixels.shape).astype(np.float32),
                    (4.0, 4.0),
                    None,
                    "x",
                    "P",
                    normalisation=NORMALISATION,
                ),
                4.0,
            )
        )
    settings = PRNetSettings(
        patch=16, epochs=6, iters=10, batch_size=8, channels=4, reconstruction_weight=0.0, offset_scale_mm=100.0
    )
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
