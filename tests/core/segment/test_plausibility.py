"""Is a tissue map believable: placeholder spacing, physiological volumes, unlike the support."""

from __future__ import annotations

import numpy as np

from spectfsl.core.image import SpectImage
from spectfsl.core.segment.plausibility import implausible, scan_profile
from spectfsl.core.segment.support import SegmentClasses

CLASSES = SegmentClasses((0, 1, 2), ("background", "myocardium", "cavity"))


def heart(voxel_mm: float = 4.0, size: int = 40, wall_radius: float = 7.0):
    """A scan with a spherical wall (1) around a cavity (2), and its label map."""
    z, y, x = np.indices((size,) * 3) - size / 2
    radius = np.sqrt(x**2 + y**2 + z**2)
    labels = np.where(radius < wall_radius - 2, 2, np.where(radius < wall_radius, 1, 0)).astype(np.int64)
    pixels = np.where(labels == 1, 100.0, 10.0).astype(np.float32)
    return SpectImage(pixels, (voxel_mm, voxel_mm), voxel_mm, "scan", "p"), labels


def test_a_heart_sized_map_like_its_support_raises_nothing():
    image, labels = heart()
    profile = scan_profile(image, labels, CLASSES)
    assert 30 < profile["class_volume"]["myocardium"] < 450  # ml at 4 mm voxels
    assert implausible(image, labels, CLASSES, [profile]) == []


def test_placeholder_spacing_and_a_heart_too_small_are_named():
    image, labels = heart(voxel_mm=1.0, size=32)
    reasons = implausible(image, labels, CLASSES, None)
    assert any("placeholder spacing" in reason for reason in reasons)
    tiny, tiny_labels = heart(voxel_mm=2.0, size=40, wall_radius=4)
    assert any(
        r.startswith("myocardium") and "outside the 30-450 ml" in r
        for r in implausible(tiny, tiny_labels, CLASSES, None)
    )


def test_a_map_unlike_the_support_is_named_in_words():
    image, labels = heart()
    support = [scan_profile(image, labels, CLASSES)]
    fragmented = labels.copy()
    for corner in ((0, 0, 0), (0, 0, 32), (0, 32, 0), (32, 0, 0)):  # four blocks of wall far from the heart
        fragmented[tuple(slice(c, c + 8) for c in corner)] = 1
    reasons = implausible(image, fragmented, CLASSES, support)
    assert "myocardium in 5 pieces against at most 1 in the support" in reasons
    wide = SpectImage(np.pad(image.pixels, 60), (4.0, 4.0), 4.0, "wide", "p")
    reasons = implausible(wide, np.pad(labels, 60), CLASSES, support)
    assert any(reason.startswith("field of view") for reason in reasons)
