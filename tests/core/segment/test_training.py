"""`segment fit`'s training: the batch size chosen from the crop size, and the crops' resolution augmentation."""

from __future__ import annotations

import pytest

from spectfsl.core.segment.training import SegmentSettings, crop_shape, with_batch_size


@pytest.mark.parametrize(
    "crop,shapes,method,expected",
    [
        (40, [(64, 64, 64)], "finetune", 2),  # the default crop on the phantom's 64^3 scans
        (32, [(64, 64, 64)], "finetune", 4),
        (40, [(32, 32, 32), (34, 33, 32)], "finetune", 4),  # scans no larger than 32^3: 4 whole scans
        (40, [(20, 20, 20)], "finetune", 4),
        (24, [(64, 64, 64)], "finetune", 4),  # smaller crops: 4, as before
        (40, [(128, 128)], "finetune", 3),  # 2D: four 32x32 crops' worth of pixels
        (64, [(64, 64, 64)], "finetune", 1),
        (64, [(64, 64, 64)], "prototype", 2),  # the prototype method needs two crops a step
    ],
)
def test_default_batch_is_four_crops_or_fewer_larger_ones_of_as_many_voxels(crop, shapes, method, expected):
    settings = with_batch_size(SegmentSettings(method=method, crop=crop), shapes)
    assert settings.batch_size == expected


def test_a_given_batch_size_is_kept_and_crops_never_exceed_the_smallest_scan():
    assert with_batch_size(SegmentSettings(batch_size=3), [(64, 64, 64)]).batch_size == 3
    assert crop_shape(40, [(64, 30, 64), (50, 64, 64)]) == (40, 30, 40)


def test_a_fitted_model_records_the_batch_size_it_trained_with():
    import numpy as np

    from spectfsl.core.image import SpectImage
    from spectfsl.core.segment.support import SegmentClasses
    from spectfsl.core.segment.workflows import fit_segmenter

    pixels = np.random.default_rng(0).random((16, 16, 48)).astype(np.float32)
    indices = (pixels > 0.5).astype(np.uint8)
    image = SpectImage(pixels, (4.0, 4.0), 4.0, "scan", "P")
    settings = SegmentSettings(steps=1, crop=48, channels=4)
    segmenter = fit_segmenter([(image, indices)], SegmentClasses((0, 1), ("background", "hot")), settings)
    assert segmenter.info.training["batch_size"] == 3  # crops of 16 x 16 x 48: 4 x 32^3 / (32 x 32 x 48) voxels


def test_training_crops_are_blurred_or_sharpened_within_the_set_amounts():
    import numpy as np
    import torch
    from scipy import ndimage

    from spectfsl.core.segment import training

    def roughness(pixels):
        return float(sum((np.diff(pixels, axis=axis) ** 2).sum() for axis in range(pixels.ndim)))  # gradient energy

    cube = np.zeros((16, 16, 16), dtype=np.float32)
    cube[5:11, 5:11, 5:11] = 1.0
    blurriest = roughness(ndimage.gaussian_filter(cube, SegmentSettings.resolution, mode="nearest"))
    generator = torch.Generator().manual_seed(0)
    changed = [
        training._change_resolution(torch.from_numpy(cube)[None], generator, SegmentSettings.resolution)[0].numpy()
        for _ in range(40)
    ]
    rough = [roughness(pixels) for pixels in changed]
    assert sum(r < roughness(cube) for r in rough) >= 10 and sum(r > roughness(cube) for r in rough) >= 10
    assert min(rough) >= blurriest * 0.999 and all(pixels.min() >= 0 for pixels in changed)
    blurred = [pixels for pixels, r in zip(changed, rough) if r < roughness(cube)]
    assert all(abs(pixels.sum() - cube.sum()) < 0.01 * cube.sum() for pixels in blurred)  # blurring keeps the counts
