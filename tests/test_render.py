"""The one output renderer: table, CSV and JSON rows; atomic files."""

from __future__ import annotations

import csv
import io
import json

import pytest

from spectfsl.errors import SpectfslError
from spectfsl.render import RowWriter, row_output

ROWS = [
    {"path": "a.dcm", "frame": 0, "probability": 0.5, "ood": False, "x_mm": None},
    {"path": "b.dcm", "frame": None, "probability": float("nan"), "ood": True, "x_mm": 1.25},
]
COLUMNS = ["path", "frame", "probability", "ood", "x_mm"]


def _render(fmt: str) -> str:
    stream = io.StringIO()
    writer = RowWriter(stream, fmt, COLUMNS)
    for row in ROWS:
        writer.write(row)
    writer.close()
    return stream.getvalue()


def test_csv_has_a_header_and_empty_cells_for_unknown_values():
    rows = list(csv.reader(io.StringIO(_render("csv"))))
    assert rows == [COLUMNS, ["a.dcm", "0", "0.5", "false", ""], ["b.dcm", "", "", "true", "1.25"]]


def test_json_is_an_array_with_null_for_unknown_and_nan():
    assert json.loads(_render("json")) == [
        {"path": "a.dcm", "frame": 0, "probability": 0.5, "ood": False, "x_mm": None},
        {"path": "b.dcm", "frame": None, "probability": None, "ood": True, "x_mm": 1.25},
    ]


def test_empty_json_is_an_empty_array():
    stream = io.StringIO()
    RowWriter(stream, "json", COLUMNS).close()
    assert json.loads(stream.getvalue()) == []


def test_table_lists_every_row():
    text = _render("table")
    assert "a.dcm" in text and "b.dcm" in text and "probability" in text


def test_unknown_format_is_refused():
    with pytest.raises(SpectfslError, match="--format"):
        RowWriter(io.StringIO(), "xml", COLUMNS)


def test_a_failure_while_writing_leaves_the_old_file(tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("old\n")
    with pytest.raises(RuntimeError):
        with row_output(out, "csv", COLUMNS) as writer:
            writer.write(ROWS[0])
            raise RuntimeError("interrupted")
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_table_off_the_terminal_keeps_every_path_whole():
    from spectfsl.core.tables import Table
    from spectfsl.render import write_document

    long_path = "/data/hospital/study-2026/patient-0042/rest/" + "x" * 80 + ".nii.gz"
    stream = io.StringIO()
    writer = RowWriter(stream, "table", COLUMNS * 3)  # many columns: a narrow table would cut the path
    writer.write({"path": long_path, "frame": 1})
    writer.close()
    assert long_path in stream.getvalue()
    out = io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(out):
        write_document(None, "table", {}, [Table("scores", ("path", "dice"), ((long_path, "0.80"),))])
    assert long_path in out.getvalue()
