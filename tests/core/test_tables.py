"""Table cells are formatted once, the same for the terminal and the report."""

from __future__ import annotations

from spectfsl.core.tables import number, percent


def test_numbers_and_percentages_and_missing_values():
    assert number(3.14159) == "3.14" and number(3.14159, 1) == "3.1"
    assert percent(0.96667) == "96.67%" and percent(0.5, 0) == "50%"
    assert number(None) == number(float("nan")) == percent(None) == percent(float("inf")) == ""
