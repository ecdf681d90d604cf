"""Leave-one-out evaluation: error summaries, the naive and registration baselines, and the tables
drawn from them."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest

from spectfsl.core.image import SpectImage
from spectfsl.core.prnet import evaluate
from spectfsl.core.prnet.evaluate import ErrorSummary, LocalisationResult, methods_of, naive_copy
from spectfsl.core.prnet.grid import to_grid
from spectfsl.core.processing import registration
from spectfsl.core.processing.preprocess import NORMALISATION
from spectfsl.core.processing.registration import RegistrationSettings


def test_error_summary_gives_mean_sd_median_and_success_rates():
    summary = ErrorSummary("prnet", [1.0, 4.0, 7.0, 20.0], [0.5, 2.0, 3.5, 10.0]).as_dict()
    assert summary["pairs"] == 4 and summary["mre_mm"] == 8.0 and summary["median_mm"] == 5.5
    assert summary["within_5mm"] == 0.5 and summary["within_10mm"] == 0.75
    assert summary["sd_mm"] == pytest.approx(np.std([1.0, 4.0, 7.0, 20.0]))
    assert summary["mre_px"] == 4.0


def test_without_spacing_only_pixel_errors_are_reported():
    summary = ErrorSummary("naive", [float("nan")] * 2, [1.0, 3.0]).as_dict()
    assert summary["mre_mm"] is None and summary["within_5mm"] is None and summary["mre_px"] == 2.0


def test_naive_copies_the_position_in_mm_into_a_scan_of_another_pixel_size():
    def grid(spacing):
        image = SpectImage(np.ones((20, 20), np.float32), spacing, None, "x", "P", normalisation=NORMALISATION)
        return to_grid(image, 4.0)

    copied = naive_copy(grid((2.0, 2.0)), np.array([10.0, 4.0]), grid((4.0, 1.0)))
    np.testing.assert_allclose(copied, [20.0, 2.0])  # 20 mm, 8 mm -> x 20/1, y 8/4


def test_result_tables_have_one_row_per_method_and_explain_the_methods():
    summaries = [ErrorSummary(method, [2.0, 12.0], [1.0, 6.0]) for method in methods_of()]
    result = LocalisationResult({"lv_centre": summaries, "apex": summaries}, template_px=33, match_radius_mm=40.0)
    tables = result.tables()
    assert [t.title.split(":")[0] for t in tables] == ["lv_centre", "apex"]
    assert [row[0] for row in tables[0].rows] == list(methods_of())
    assert tables[0].rows[0][1:6] == ("7.00", "5.00", "7.00", "50%", "50%")
    assert "MRE: mean radial error" in tables[-1].note and "within 40 mm." in tables[-1].note
    assert result.as_dict()["apex"][0]["mre_mm"] == 7.0


def test_one_registration_serves_a_pair_both_ways_and_falls_back_where_the_inverse_fails(monkeypatch):
    made = []

    def register_pair(reference, target, baselines):
        made.append(1)
        return [object() for _ in baselines]

    monkeypatch.setattr(evaluate, "register_pair", register_pair)
    monkeypatch.setattr(evaluate, "registered_point", lambda *args: np.zeros(3))
    inverse_works = True
    monkeypatch.setattr(evaluate, "registered_back", lambda *args: np.ones(3) if inverse_works else None)
    images, name = ["a", "b", "c"], RegistrationSettings().name
    both = evaluate.PairRegistrations([RegistrationSettings()])
    answers = [both.points(r, np.zeros(3), t)[name] for r, t in permutations(images, 2)]
    assert len(made) == 3 and sum(a.sum() == 3 for a in answers) == 3  # three carried back
    made.clear()
    direct = evaluate.PairRegistrations([RegistrationSettings()], both_ways=False)
    assert all(direct.points(r, np.zeros(3), t)[name].sum() == 0 for r, t in permutations(images, 2))
    assert len(made) == 6
    made.clear()
    inverse_works = False
    fallback = evaluate.PairRegistrations([RegistrationSettings()])
    assert all(fallback.points(r, np.zeros(3), t)[name].sum() == 0 for r, t in permutations(images, 2))
    assert len(made) == 6
    made.clear()
    inverse_works = True
    several = evaluate.PairRegistrations(registration.BASELINES)  # every baseline of a pair: one call
    answers = [several.points(r, np.zeros(3), t) for r, t in permutations(images, 2)]
    assert len(made) == 3 and all(list(a) == [s.name for s in registration.BASELINES] for a in answers)
