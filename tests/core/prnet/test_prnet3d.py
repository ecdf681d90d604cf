"""3D PRNet: cubic patches from volumes on a cubic grid, training that learns, locate in x,y,z."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spectfsl.core.image import SpectImage
from spectfsl.core.networks.prnet import PRNet
from spectfsl.core.prnet.evaluate import pair_offset_check
from spectfsl.core.prnet.grid import extract_patches, to_grid_volume
from spectfsl.core.prnet.locate import body_centre, locate, ring_points
from spectfsl.core.prnet.model_file import PRNetInfo
from spectfsl.core.prnet.training import PRNetSettings, train_prnet
from spectfsl.core.processing.preprocess import NORMALISATION
from spectfsl.errors import SpectfslError


def _volume(shift: int = 0, shape=(20, 24, 28), spacing=4.0) -> SpectImage:
    """A volume whose intensity tells where a voxel is (a ramp along each axis), shifted by `shift`."""
    slices, rows, cols = np.indices(shape)
    pixels = 0.2 + 0.5 * (cols + shift) / 32 + 0.3 * (rows / 24) ** 2 + 0.2 * slices / 20
    noise = np.random.default_rng(shift).normal(0, 0.01, shape)
    return SpectImage(
        (pixels + noise).astype(np.float32), (spacing, spacing), spacing, "v", "P", normalisation=NORMALISATION
    )


def test_a_3d_prnet_maps_cubic_patches_to_three_coordinates():
    model = PRNet(16, 4, 32, dims=3)
    coordinates, decoded = model(torch.rand(2, 1, 16, 16, 16))
    assert coordinates.shape == (2, 3) and decoded.shape == (2, 1, 16, 16, 16)
    with pytest.raises(SpectfslError, match="dims must be 2 or 3"):
        PRNet(16, dims=4)


def test_3d_patches_at_integer_centres_are_exact_and_zero_padded():
    volume = torch.arange(5 * 6 * 7, dtype=torch.float32).view(1, 1, 5, 6, 7)
    patch = extract_patches(volume, torch.tensor([[3.0, 2.0, 1.0]]), 3)[0, 0]  # x=3, y=2, z=1
    torch.testing.assert_close(patch, volume[0, 0, 0:3, 1:4, 2:5])
    corner = extract_patches(volume, torch.tensor([[0.0, 0.0, 0.0]]), 3)[0, 0]
    assert corner[0].abs().sum() == 0 and float(corner[1, 1, 1]) == pytest.approx(0.0, abs=1e-5)


def test_volumes_go_to_a_cubic_grid_and_positions_map_both_ways():
    image = SpectImage(np.ones((10, 12, 14), np.float32), (2.0, 3.0), 4.0, "v", "P", normalisation=NORMALISATION)
    grid = to_grid_volume(image, 4.0)
    assert grid.pixels.shape == (10, 6, 10) and grid.dims == 3  # 10 x 4 mm, 12 x 2 mm, 14 x 3 mm
    point = np.array([5.0, 4.0, 3.0])  # x, y, z in source voxels
    np.testing.assert_allclose(grid.to_source(grid.to_model(point)), point)
    np.testing.assert_allclose(grid.source_mm(point), [15.0, 8.0, 12.0])  # x * 3 mm, y * 2 mm, z * 4 mm
    with pytest.raises(SpectfslError, match="needs a volume"):
        to_grid_volume(SpectImage(np.ones((4, 4), np.float32), (1.0, 1.0), None, "p", "P"), 4.0)


def test_3d_starts_surround_the_body_centre_in_all_three_axes():
    starts = ring_points(np.array([10.0, 10.0, 10.0]), (0.0, 8.0), 4.0)
    assert starts.shape == (7, 3)
    np.testing.assert_allclose(np.linalg.norm(starts[1:] - starts[0], axis=1), 2.0)
    assert np.ptp(starts[:, 2]) == pytest.approx(4.0)  # two starts along z


@pytest.mark.slow
def test_a_short_3d_training_run_learns_offsets_and_locates_a_shifted_point():
    grids = [to_grid_volume(_volume(shift), 4.0) for shift in (0, 2, 4)]
    settings = PRNetSettings(patch=16, pixel_mm=4.0, epochs=16, iters=10, batch_size=8, channels=4, dims=3)
    model, losses = train_prnet(grids, settings)
    assert losses[-1] < 0.5 * losses[0]
    info = PRNetInfo(16, 4, model.hidden, 4.0, settings.offset_scale_mm, 0.0, dims=3)
    located = locate([(model, info)], grids[0], (14.0, 12.0, 10.0), grids[1:])
    assert [found.xy.shape for found in located] == [(3,), (3,)]
    centre = body_centre(grids[0])
    assert centre.shape == (3,)
    check = pair_offset_check(model, info, grids)
    # x and y carry strong ramps in these volumes (z a weak one, which 160 steps may not learn)
    assert min(check["correlation"][:2]) > 0.8 and len(check["rms_error_mm"]) == 3
    with torch.no_grad():
        model.position_head[-1].weight[1] = 0  # y no longer depends on the patch: a lost axis
    collapsed = pair_offset_check(model, info, grids)
    assert collapsed["correlation"][1] == 0.0 and collapsed["correlation"][0] == check["correlation"][0]
    assert collapsed["rms_error_mm"][1] > check["rms_error_mm"][1]


def test_a_2d_training_refuses_volumes_on_the_3d_grid():
    grids = [to_grid_volume(_volume(), 4.0)]
    with pytest.raises(SpectfslError, match="a 2D model trains on 2D slices"):
        train_prnet(grids, PRNetSettings(patch=16, epochs=1, iters=1, channels=4))


def test_evaluation_does_not_depend_on_how_a_file_stores_its_axes(tmp_path):
    """The same anatomy stored L,P,S and L,P,I (slices reversed), with its points in each file's own
    indices, gives the same localisation errors for every method."""
    import nibabel as nib

    from spectfsl.core.prnet.evaluate import evaluate_localisation, load_landmarks

    rows = {"lps": [], "lpi": []}
    for index, shift in enumerate((0, 2, 4)):
        data = _volume(shift, shape=(16, 20, 24)).pixels.T  # (i, j, k)
        nib.save(nib.Nifti1Image(data, np.diag([-4.0, -4.0, 4.0, 1.0])), tmp_path / f"lps{index}.nii.gz")
        nib.save(
            nib.Nifti1Image(data[:, :, ::-1].copy(), np.diag([-4.0, -4.0, -4.0, 1.0])), tmp_path / f"lpi{index}.nii.gz"
        )
        x, y, z = 11.0 + shift / 2, 9.0, 5.0
        rows["lps"].append((str(tmp_path / f"lps{index}.nii.gz"), "point", x, y, z))
        rows["lpi"].append((str(tmp_path / f"lpi{index}.nii.gz"), "point", x, y, 15 - z))
    torch.manual_seed(0)
    model = PRNet(16, 4, 32, dims=3).eval()
    info = PRNetInfo(16, 4, 32, 4.0, 100.0, 0.0, dims=3)
    results = [evaluate_localisation([(model, info)], load_landmarks(rows[kind], 4.0, dims=3)) for kind in rows]
    assert results[0].as_dict() == results[1].as_dict()
