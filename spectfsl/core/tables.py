"""Result tables: built once in the core, drawn by the terminal renderer and by the demo's report.

Cells are text, formatted here once, so that a number reads the same in a terminal and in a report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    """A titled table of text cells, with an optional line of explanation under it."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


def number(value: float | None, digits: int = 2) -> str:
    """`value` with `digits` decimals; empty for None or a non-finite value."""
    if value is None or not math.isfinite(value):
        return ""
    return f"{value:.{digits}f}"


def percent(fraction: float | None, digits: int = 2) -> str:
    """A fraction as a percentage (0.9667 -> '96.67%'); empty for None or a non-finite value."""
    if fraction is None or not math.isfinite(fraction):
        return ""
    return f"{100 * fraction:.{digits}f}%"
