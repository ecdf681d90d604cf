"""The dense anatomical embedding network: shapes, unit vectors, argument checks."""

from __future__ import annotations

import pytest
import torch

from spectfsl.core.networks.anatomy import AnatomyEmbedding
from spectfsl.errors import SpectfslError


@pytest.mark.parametrize(("dims", "shape"), [(2, (37, 50)), (3, (13, 21, 18))])
def test_every_pixel_gets_a_global_and_a_local_unit_vector_whatever_the_size(dims, shape):
    torch.manual_seed(0)
    model = AnatomyEmbedding(dims, channels=4, features=6).eval()
    with torch.no_grad():
        global_map, local_map = model(torch.rand(2, 1, *shape))
    for maps in (global_map, local_map):
        assert maps.shape == (2, 6, *shape)  # padded to a multiple of 8 inside, cropped back
        torch.testing.assert_close(maps.norm(dim=1), torch.ones(2, *shape))


def test_the_global_vector_varies_slowly_and_the_local_one_pixel_by_pixel():
    """The global map is the 1/8-resolution head upsampled: neighbouring pixels differ less."""
    torch.manual_seed(0)
    model = AnatomyEmbedding(2, channels=4, features=8).eval()
    with torch.no_grad():
        global_map, local_map = model(torch.rand(1, 1, 64, 64))

    def roughness(maps: torch.Tensor) -> float:
        return float((maps[..., 1:] - maps[..., :-1]).norm(dim=1).mean())

    assert roughness(global_map) < roughness(local_map)


@pytest.mark.parametrize(
    "arguments", [{"dims": 4}, {"channels": 0}, {"features": 1}, {"channels": 2.5}, {"dims": True}]
)
def test_bad_architecture_is_refused(arguments):
    with pytest.raises(SpectfslError):
        AnatomyEmbedding(**arguments)
