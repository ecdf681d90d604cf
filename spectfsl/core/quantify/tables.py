"""`quantify`'s read-out for a person at a terminal: one line per scan (volumes, function, walls,
extent, figure) and the 17 segments laid out as on a bullseye, ring by ring. CSV and JSON carry every
column; these tables are what fits on a screen."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from spectfsl.core.tables import Table, number

#: The six positions of the basal and mid rings, anterior first, counter-clockwise through the septum.
POSITIONS = ("ant", "ant-sept", "inf-sept", "inf", "inf-lat", "ant-lat")
#: Where the apical ring's four segments (13 anterior, 14 septal, 15 inferior, 16 lateral) stand.
APICAL = {"ant": (13, ""), "ant-sept": (14, " sept"), "inf": (15, ""), "inf-lat": (16, " lat")}


def readout_tables(rows: Sequence[dict[str, Any]]) -> list[Table]:
    """The summary (a line per scan) and the segments (four lines per scan) of `quantify` rows."""
    gated = any(row.get("lvef_pct") is not None for row in rows)
    header = ("scan", "cavity ml", "myo ml", *(("EDV ml", "ESV ml", "LVEF %") if gated else ()), "ant", "sept",
              "inf", "lat", "extent %")  # fmt: skip
    summary = tuple(
        (
            _scan(row),
            number(row["lv_cavity_ml"], 1),
            number(row["myocardium_ml"], 1),
            *(
                (number(row.get("edv_ml"), 1), number(row.get("esv_ml"), 1), number(row.get("lvef_pct"), 1))
                if gated
                else ()
            ),  # fmt: skip
            *(number(row[wall], 0) for wall in ("anterior", "septal", "inferior", "lateral")),
            number(row["defect_extent_pct"], 1),
        )
        for row in rows
    )
    note = "walls and segments: mean uptake, % of the wall's maximum; extent: share of the map below the threshold"
    figures = [f"{_scan(row)}: {', '.join(row[k] for k in ('polar', 'volume_curve') if row.get(k))}" for row in rows]
    if any(row.get("polar") for row in rows):
        note += "\nfigures: " + "; ".join(figures)
    segments = tuple(line for row in rows for line in _segment_lines(row))
    return [
        Table("LV quantification", header, summary, note),
        Table("17 AHA segments (% of maximum)", ("scan", "ring", *POSITIONS), segments),
    ]


def _segment_lines(row: dict[str, Any]) -> list[tuple[str, ...]]:
    """Basal (1-6), mid (7-12), apical (13-16) and apex (17) of one row, as on a bullseye."""
    name = _scan(row)

    def value(segment: int) -> str:
        return number(row.get(f"seg{segment}"), 0)

    apical = tuple(value(APICAL[p][0]) + APICAL[p][1] if p in APICAL else "" for p in POSITIONS)
    return [
        (name, "basal 1-6", *(value(s) for s in range(1, 7))),
        ("", "mid 7-12", *(value(s) for s in range(7, 13))),
        ("", "apical 13-16", *apical),
        ("", "apex 17", value(17), *("",) * 5),
    ]


def _scan(row: dict[str, Any]) -> str:
    """A scan as the tables name it: its file name without the image extension."""
    from spectfsl.core.files.paths import file_stem

    return file_stem(row["path"])
