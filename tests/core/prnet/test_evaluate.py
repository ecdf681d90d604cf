"""Leave-one-out evaluation: error summaries, the naive baseline, and the tables drawn from them."""

from __future__ import annotations

import numpy as np
import pytest

from spectfsl.core.image import SpectImage
from spectfsl.core.prnet.evaluate import ErrorSummary, LocalisationResult, methods_of, naive_copy
from spectfsl.core.prnet.grid import to_grid
from spectfsl.core.processing.preprocess import NORMALISATION


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
