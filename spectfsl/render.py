"""The one output renderer: rows as a rich table, CSV or JSON, to stdout or a file (atomically).

CSV and JSON stream row by row, so memory stays flat however many rows there are; a table is for
people and is drawn once all rows are in.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from spectfsl.core.files.atomic import atomic_file, write_text_atomic
from spectfsl.core.tables import Table
from spectfsl.errors import SpectfslError

FORMATS = ("table", "csv", "json")
#: Rows held in memory before an all-or-nothing output spills to a temporary file.
SPOOL_BYTES = 8 << 20
DOCUMENT_FORMATS = ("table", "json")


def check_format(name: str, allowed: tuple[str, ...] = FORMATS) -> str:
    """Refuse a --format outside `allowed` (exit 2); returns it."""
    if name not in allowed:
        raise SpectfslError(f"--format must be one of {', '.join(allowed)}, got '{name}'")
    return name


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.6g}"
    if isinstance(value, (list, tuple)):  # one value per gate, say: space-separated in one cell
        return " ".join(_text(item) for item in value)
    return str(value)


class RowWriter:
    """Writes rows (dicts with `columns` as keys) in one format to an open text stream."""

    def __init__(self, stream: TextIO, fmt: str, columns: Sequence[str], title: str | None = None) -> None:
        self.stream, self.format, self.columns, self.title = stream, check_format(fmt), list(columns), title
        self._rows: list[dict[str, Any]] = []
        self._count = 0
        if fmt == "csv":
            self._csv = csv.writer(stream, lineterminator="\n")
            self._csv.writerow(self.columns)
        elif fmt == "json":
            stream.write("[")

    def write(self, row: dict[str, Any]) -> None:
        if self.format == "csv":
            self._csv.writerow([_text(row.get(c)) for c in self.columns])
        elif self.format == "json":
            prefix = ",\n " if self._count else "\n "
            self.stream.write(prefix + json.dumps({c: _plain(row.get(c)) for c in self.columns}))
        else:
            self._rows.append(row)
        self._count += 1

    def close(self) -> None:
        if self.format == "json":
            self.stream.write("\n]\n" if self._count else "]\n")
        elif self.format == "table":
            from rich.console import Console
            from rich.table import Table

            table = Table(title=self.title)
            for column in self.columns:
                table.add_column(column, overflow="fold")
            cells = [[_text(row.get(c)) for c in self.columns] for row in self._rows]
            for row in cells:
                table.add_row(*row)
            Console(file=self.stream, width=table_width(self.stream, self.columns, cells)).print(table)
        self.stream.flush()


@contextlib.contextmanager
def row_output(
    out: Path | None, fmt: str, columns: Sequence[str], title: str | None = None, all_or_nothing: bool = False
) -> Iterator[RowWriter]:
    """A RowWriter to stdout, or to `out` written atomically (the old file stays if this fails).

    `all_or_nothing`: rows for stdout are held (in a temporary file beyond a few MiB, so memory
    stays flat) and printed only when the run succeeds, so a failed batch prints no partial output.
    """
    if out is None and all_or_nothing:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, mode="w+", newline="") as spool:
            writer = RowWriter(spool, fmt, columns, title)
            yield writer
            writer.close()
            spool.seek(0)
            shutil.copyfileobj(spool, sys.stdout)
            sys.stdout.flush()
        return
    if out is None:
        writer = RowWriter(sys.stdout, fmt, columns, title)
        yield writer
        writer.close()
        return
    with atomic_file(out) as temporary, open(temporary, "w", newline="") as stream:
        writer = RowWriter(stream, fmt, columns, title)
        yield writer
        writer.close()


def table_width(stream: Any, header: Sequence[str], rows: Sequence[Sequence[str]]) -> int:
    """The width to draw a table at: the terminal's on a terminal (long cells fold onto more lines),
    else wide enough for every cell whole (a file or a pipe is read by programs and editors, and a
    path cut in two is a path lost)."""
    import shutil

    if getattr(stream, "isatty", lambda: False)():
        return shutil.get_terminal_size().columns
    widths = [max([len(name), *(len(row[index]) for row in rows)]) for index, name in enumerate(header)]
    return max(100, sum(widths) + 3 * len(widths) + 1)


def draw_tables(console: Any, tables: Sequence[Table], compact: bool = False) -> None:
    """Draw result tables (and the note under each) on a rich console; `compact`: rules under the
    header only, no frame, so that more columns fit a terminal."""
    from rich import box
    from rich.table import Table as RichTable

    for table in tables:
        drawn = RichTable(title=table.title, box=box.SIMPLE_HEAD if compact else box.HEAVY_HEAD)
        for index, column in enumerate(table.header):
            last = index == len(table.header) - 1
            drawn.add_column(column, overflow="fold", no_wrap=compact and not last)
        for row in table.rows:
            drawn.add_row(*row)
        console.print(drawn)
        if table.note:
            console.print(table.note, markup=False)


#: The width tables are drawn at when stdout is not a terminal (a file, a pipe, a test).
PLAIN_WIDTH = 100


def print_tables(tables: Sequence[Table]) -> None:
    """Draw tables on stdout at the terminal's width (long cells fold), or `PLAIN_WIDTH` off a terminal."""
    from rich.console import Console

    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else PLAIN_WIDTH
    draw_tables(Console(file=sys.stdout, width=width, force_terminal=False), tables, compact=True)
    sys.stdout.flush()


def write_document(out: Path | None, fmt: str, document: dict[str, Any], tables: Sequence[Table]) -> None:
    """A result as JSON (`document`) or as its tables drawn as text; to stdout or `out` (atomically)."""
    import io

    from rich.console import Console

    if check_format(fmt, DOCUMENT_FORMATS) == "json":
        text = json.dumps(_finite(document), indent=1) + "\n"
    else:
        width = max([110, *(table_width(sys.stdout if out is None else None, t.header, t.rows) for t in tables)])
        console = Console(file=io.StringIO(), width=width, force_terminal=False)
        draw_tables(console, tables)
        text = console.file.getvalue()
    if out is None:
        sys.stdout.write(text)
    else:
        write_text_atomic(out, text)


def _finite(value: Any) -> Any:
    """NaN and infinities become null, recursively (JSON has no such numbers)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return _plain(value)
