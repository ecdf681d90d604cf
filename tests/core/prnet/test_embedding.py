"""Dense anatomical embeddings: the training views' geometry, the localiser, its model file."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from spectfsl.core.image import SpectImage
from spectfsl.core.prnet import embedding
from spectfsl.core.prnet.anatomy_file import AnatomyInfo, load_anatomy, save_anatomy
from spectfsl.core.prnet.grid import to_grid
from spectfsl.core.prnet.locate import locate_rows
from spectfsl.core.processing.preprocess import NORMALISATION
from spectfsl.errors import SpectfslError


def _blobs(shift_x: float = 0.0, shape=(48, 56)) -> SpectImage:
    """Gaussian blobs of different sizes and heights on a faint background, moved `shift_x` pixels along x."""
    rows, cols = np.indices(shape)
    pixels = np.full(shape, 0.12, dtype=np.float32)
    for (y, x), sigma, height in zip(
        [(14, 16), (28, 32), (34, 14), (20, 42)], [2.0, 3.5, 1.5, 2.5], [1, 0.7, 0.9, 0.5]
    ):
        pixels += height * np.exp(-((rows - y) ** 2 + (cols - x - shift_x) ** 2) / (2 * sigma**2)).astype(np.float32)
    return SpectImage(pixels, (4.0, 4.0), None, f"blobs{shift_x}", "P", normalisation=NORMALISATION)


def test_a_view_samples_the_volume_where_its_transform_says():
    """Without contrast changes, the view's pixel v is the volume at `to_volume(v)`; `from_volume` inverts it."""
    generator = torch.Generator().manual_seed(3)
    volume = torch.rand(1, 30, 26)
    settings = replace(embedding.default_settings(2), view=20, rotation_deg=30.0, scale=(0.8, 1.2), shift_px=3.0)
    view = embedding.random_view(volume, settings, generator)
    points = torch.tensor([[5.0, 7.0], [12.5, 3.25], [10.0, 10.0]])
    back = view.from_volume(view.to_volume(points))
    torch.testing.assert_close(back, points, atol=1e-4, rtol=0)
    plain = embedding.sample(volume[None], view.to_volume(points)[None])[0, 0]
    seen = embedding.sample(view.image[None], points[None])[0, 0]
    assert np.corrcoef(plain.numpy(), seen.numpy())[0, 1] > 0.9  # gain, gamma and a little noise


def test_info_nce_is_low_for_matching_vectors_and_ignores_near_negatives():
    vectors = torch.nn.functional.normalize(torch.randn(16, 8, generator=torch.Generator().manual_seed(0)), dim=1)
    far = torch.full((16, 16), 10.0)
    matched = embedding._info_nce(vectors, vectors, far, 2.0, 0.1)
    shuffled = embedding._info_nce(vectors, vectors.roll(1, dims=0), far, 2.0, 0.1)
    assert matched < 0.5 < shuffled
    near = far.clone()
    near[0, 1] = near[1, 0] = 0.5  # points 0 and 1 are neighbours: neither counts against the other
    copies = vectors.clone()
    copies[1] = copies[0]
    assert embedding._info_nce(copies, copies, near, 2.0, 0.1) < embedding._info_nce(copies, copies, far, 2.0, 0.1)


@pytest.fixture(scope="module")
def trained():
    """A small 2D embedding trained for a few steps on blob images (seeded: the same weights every run)."""
    grids = [to_grid(_blobs(shift), 4.0) for shift in (-4.0, 0.0, 3.0)]
    settings = replace(embedding.default_settings(2), steps=60, view=40, channels=4, features=16, points=128)
    torch.set_num_threads(1)
    model = embedding.train_embedding(grids, settings)
    info = AnatomyInfo(2, 4, 16, 4.0, template_px=15, similarity_weight=embedding.SIMILARITY_WEIGHT)
    return model, info


def test_the_localiser_finds_a_blob_in_a_shifted_image(trained):
    localiser = embedding.AnatomyLocaliser(*trained)
    reference, target = to_grid(_blobs(), 4.0), to_grid(_blobs(shift_x=5.0), 4.0)
    alone, refined = (localiser.locate(reference, np.array([16.0, 14.0]), [target], radius)[0] for radius in (0, 20))
    np.testing.assert_allclose(refined.xy, [21.0, 14.0], atol=0.5)  # the template match, near the embedding's answer
    assert np.hypot(*(alone.xy - [21.0, 14.0])) <= 2.0  # the network alone: within two pixels


def test_locate_rows_name_the_method(trained):
    localiser = embedding.AnatomyLocaliser(*trained)
    reference, target = to_grid(_blobs(), 4.0), to_grid(_blobs(shift_x=5.0), 4.0)
    [row] = locate_rows(localiser, reference, [("blob", (16.0, 14.0))], [target], match_radius_mm=20.0)
    assert row["method"] == "anatomy" and row["name"] == "blob"
    assert abs(row["x"] - 21.0) <= 0.5 and row["score"] > 0.9


def test_the_model_file_round_trips_and_opens_as_a_localiser(trained, tmp_path):
    from spectfsl.core.prnet.localisers import open_localiser

    model, info = trained
    path = tmp_path / "anatomy.safetensors"
    save_anatomy(path, model, info)
    loaded, loaded_info = load_anatomy(path)
    assert loaded_info == info
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], tensor)
    localiser = open_localiser(path, dims=2)
    assert isinstance(localiser, embedding.AnatomyLocaliser) and localiser.method == "anatomy"
    with pytest.raises(SpectfslError, match="not refined"):
        open_localiser(path, [path], dims=2)


def test_a_model_file_with_an_impossible_template_is_refused(trained, tmp_path):
    model, info = trained
    path = tmp_path / "bad.safetensors"
    save_anatomy(path, model, replace(info, template_px=0))
    with pytest.raises(SpectfslError, match="template"):
        load_anatomy(path)


def test_builtin_is_the_built_in_prnet_and_a_built_in_anatomy_model_is_named():
    """`builtin` stays PRNet (ahead on volumes no model saw); `builtin:anatomy-3d` opens the anatomy model."""
    from spectfsl.core.prnet.localisers import open_localiser
    from spectfsl.core.prnet.locate import PRNetLocaliser

    assert isinstance(open_localiser("builtin", dims=3), PRNetLocaliser)
    named = open_localiser("builtin:anatomy-3d", dims=3)
    assert isinstance(named, embedding.AnatomyLocaliser) and named.dims == 3
    with pytest.raises(SpectfslError, match="no built-in model 'anatomy-9d'"):
        open_localiser("builtin:anatomy-9d")
