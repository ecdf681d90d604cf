"""Out-of-distribution inputs: blank, noise and whole slices do not look like masked crops."""

from __future__ import annotations

import numpy as np

from spectfsl.core.proto.ood import CropProfile, crop_measures


def _masked_crops(count: int, seed: int = 0) -> np.ndarray:
    """Smooth blobs of tissue on an exactly-zero background, as `prepare --style masked` cuts them."""
    rng = np.random.default_rng(seed)
    rows, cols = np.indices((32, 32))
    crops = np.zeros((count, 32, 32), dtype=np.float32)
    for crop in crops:
        radius = rng.uniform(5, 10)
        inside = np.hypot(rows - 16, cols - 16) < radius
        crop[inside] = (0.6 + 0.2 * np.cos(rows / 6.0))[inside] * rng.uniform(0.8, 1.2)
    return crops


def test_measures_of_simple_images():
    blank, flat = np.zeros((1, 8, 8), np.float32), np.full((1, 8, 8), 0.5, np.float32)
    assert crop_measures(blank)["tissue_fraction"][0] == 0 and crop_measures(blank)["background_fraction"][0] == 1
    measures = crop_measures(flat)
    assert measures["tissue_fraction"][0] == 1 and measures["tissue_mean"][0] == 0.5
    assert measures["roughness"][0] == 0 and measures["background_fraction"][0] == 0


def test_held_out_crops_pass_and_blank_noise_and_whole_slices_are_flagged():
    profile = CropProfile.fit(_masked_crops(60))
    assert not profile.outside(_masked_crops(30, seed=1)).any()
    rng = np.random.default_rng(2)
    blank = np.zeros((1, 32, 32), np.float32)
    noise = rng.random((1, 32, 32)).astype(np.float32)
    whole_slice = (0.3 + 0.1 * np.sin(np.indices((32, 32))[0] / 5.0))[None].astype(np.float32)  # no background
    assert profile.outside(np.concatenate([blank, noise, whole_slice])).all()


def test_a_small_whole_slice_zero_padded_into_the_window_is_flagged():
    """A 12 x 12 slice centred in the 32-pixel window has the masked crops' zero background and
    tissue fraction; it fills its bounding box, as no mask's outline does."""
    profile = CropProfile.fit(_masked_crops(60))
    padded = np.zeros((1, 32, 32), np.float32)
    padded[0, 10:22, 10:22] = 0.4 + 0.3 * np.cos(np.indices((12, 12))[0] / 4.0)
    assert crop_measures(padded)["box_fill"][0] == 1.0
    assert profile.outside(padded).all()


def test_a_profile_without_box_fill_from_an_older_bank_still_checks_the_rest():
    stored = CropProfile.fit(_masked_crops(5)).as_dict()
    del stored["box_fill"]
    older = CropProfile.from_dict(stored)
    assert older.box_fill is None and older.outside(np.zeros((1, 32, 32), np.float32)).all()


def test_a_profile_round_trips_through_bank_metadata():
    profile = CropProfile.fit(_masked_crops(5))
    assert CropProfile.from_dict(profile.as_dict()) == profile
