"""Where `segment fit` starts: the built-in model's defaults, more steps for other classes, random weights."""

from __future__ import annotations

import pytest

from spectfsl.core.segment.settings import FROM_MODEL, NEW_CLASSES_STEPS, SegmentSettings
from spectfsl.core.segment.support import SegmentClasses
from spectfsl.core.segment.workflows import starting_point
from spectfsl.errors import SpectfslError

SAME = SegmentClasses((0, 1, 2), ("background", "myocardium", "cavity"))
OTHER = SegmentClasses((0, 1, 2, 3), ("background", "myocardium", "ventricles", "liver"))


def test_a_fit_of_the_builtin_models_classes_takes_the_short_defaults():
    start = starting_point(None, 3)
    assert start.parent["name"] == "builtin:segment-3d"
    settings = start.settings(SAME)
    assert (settings.steps, settings.lr, settings.crop) == (FROM_MODEL["steps"], FROM_MODEL["lr"], FROM_MODEL["crop"])


def test_other_classes_train_longer_and_given_values_win():
    start = starting_point("builtin", 3)
    assert start.settings(OTHER).steps == NEW_CLASSES_STEPS > FROM_MODEL["steps"]
    assert start.settings(OTHER, steps=7, seed=3).steps == 7
    with pytest.raises(SpectfslError, match="starting model has 16 channels"):
        start.settings(SAME, channels=8)


def test_random_weights_and_2d_scans_take_the_plain_defaults():
    assert starting_point("random", 3).settings(SAME) == SegmentSettings()
    assert starting_point(None, 2).model is None
    with pytest.raises(SpectfslError, match="no built-in segment model for 2D inputs"):
        starting_point("builtin", 2)
