"""Gated maps that do not hang together over the cycle are named."""

from __future__ import annotations

import numpy as np

from spectfsl.core.segment.gated import inconsistent_in_time
from spectfsl.core.segment.support import SegmentClasses

CLASSES = SegmentClasses((0, 1, 2), ("background", "myocardium", "cavity"))


def _maps(myocardium: list[int], cavity: list[int]) -> np.ndarray:
    maps = np.zeros((len(myocardium), 20, 20, 20), dtype=np.uint8)
    for gate, (wall, inside) in enumerate(zip(myocardium, cavity)):
        flat = maps[gate].reshape(-1)
        flat[:wall] = 1
        flat[wall : wall + inside] = 2
    return maps


def test_a_beating_heart_passes():
    assert inconsistent_in_time(_maps([1000, 1010, 990, 1005], [900, 600, 450, 800]), CLASSES) == []


def test_a_myocardium_that_swings_and_a_cavity_that_vanishes_are_named():
    reasons = inconsistent_in_time(_maps([1000, 1500, 700, 1000], [900, 600, 20, 800]), CLASSES)
    assert any("myocardium volume varies" in reason for reason in reasons)
    assert any("cavity lost in gate(s) 3" in reason for reason in reasons)
