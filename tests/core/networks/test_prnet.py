"""The PRNet network: shapes for every patch size that is a multiple of 16."""

from __future__ import annotations

import pytest
import torch

from spectfsl.core.networks.prnet import PRNet
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
