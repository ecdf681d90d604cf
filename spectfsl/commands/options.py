"""Options shared by several commands, declared once so that one concept has one name everywhere.

The vocabulary: `--out` is what a command writes (refused if it exists, unless `--overwrite`);
`--format table|csv|json` how results print; `--pixel-mm` the pixel size in mm that images are
made or resampled to (on `segment`, the scans' true voxel size where a header's is a placeholder);
`--steps` the training length; `--device`, `--seed`, `--quiet` as in every command.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer


def positive(value: float | None) -> float | None:
    """Option callback: a value that must be greater than 0 (exit 2 otherwise)."""
    if value is not None and value <= 0:
        raise typer.BadParameter(f"must be greater than 0, got {value:g}")
    return value


def _set_quiet(value: bool) -> bool:
    from spectfsl.ui import Settings

    Settings.quiet = Settings.quiet or value
    return value


Overwrite = Annotated[
    bool, typer.Option("--overwrite", help="Replace OUT if it exists (only once the new output is complete).")
]

Quiet = Annotated[
    bool,
    typer.Option("--quiet", "-q", callback=_set_quiet, help="No progress or informational messages."),
]

Device = Annotated[
    str, typer.Option(metavar="DEVICE", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps.")
]

Precision = Annotated[
    str,
    typer.Option(
        metavar="fp32|bf16|fp16",
        help="Numeric precision of the network (autocast). bf16/fp16 are faster on GPUs and round results slightly.",
    ),
]

Compile = Annotated[
    bool, typer.Option("--compile", help="torch.compile the network: a slower start (compiling), faster batches.")
]

ChannelsLast = Annotated[bool, typer.Option("--channels-last", help="Channels-last memory format for the network.")]

Seed = Annotated[int, typer.Option(metavar="N", min=0, help="Random seed (repeatable on the same device).")]

RowFormat = Annotated[str, typer.Option("--format", metavar="table|csv|json", help="How to print the results.")]

DocumentFormat = Annotated[str, typer.Option("--format", metavar="table|json", help="How to print the results.")]

OutFile = Annotated[
    Path | None,
    typer.Option(
        "--out",
        metavar="FILE",
        help="Write the results here instead of stdout (refused if it exists, unless --overwrite).",
        show_default=False,
    ),
]


def one_length(steps: int | None, other: int | None, other_name: str) -> None:
    """Refuse a training length given twice: `--steps` and its alias `other_name`."""
    if steps is not None and other is not None:
        from spectfsl.errors import SpectfslError

        raise SpectfslError(f"--steps and {other_name} both set the training length: give one")


#: `--pixel-mm` where it gives the scans' true voxel size (segment, quantify), not a grid to resample to.
ScanPixelMm = Annotated[
    float | None,
    typer.Option(
        "--pixel-mm",
        metavar="MM",
        callback=positive,
        help="The scans' true voxel size in mm (cubic), replacing their headers' spacing: for files whose "
        "header carries a placeholder (1 mm on a small crop); outputs keep the file's own geometry.",
        show_default=False,
    ),
]

Resume = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="Continue an interrupted run from the checkpoint beside --out (OUT.ckpt); refused if its "
        "settings or inputs differ.",
    ),
]

CheckpointEvery = Annotated[
    float,
    typer.Option(
        "--checkpoint-every",
        metavar="SECONDS",
        min=0.0,
        help="Save a checkpoint beside --out (OUT.ckpt) this often, and on Ctrl-C or SIGTERM (exit 130); "
        "0: after every step. Deleted once OUT is written.",
    ),
]


def checkpointer(out: Path, every_s: float, resume: bool, overwrite: bool):
    """The checkpointer of a training command: OUT.ckpt every `every_s` seconds and on SIGINT/SIGTERM;
    `--overwrite` without `--resume` starts over from scratch, replacing a checkpoint left there."""
    from spectfsl.core.checkpoint import Checkpointer, checkpoint_path

    return Checkpointer(checkpoint_path(out), every_s, resume=resume, start_over=overwrite and not resume)


SkipBad = Annotated[
    bool,
    typer.Option(
        "--skip-bad",
        help="Report an unreadable input on stderr and as a row with an error column, go on with the "
        "rest, and exit 2 at the end. Without it the first bad input stops the run with no output.",
    ),
]


class BadInputs:
    """Counts the rows of bad inputs in a `--skip-bad` run, says each on stderr, and fails the run at the end."""

    def __init__(self) -> None:
        self.bad = 0
        self.rows = 0

    def note(self, row: dict[str, Any], say: bool = True) -> None:
        from spectfsl.ui import warn

        self.rows += 1
        if row.get("error"):
            self.bad += 1
            if say:
                warn(f"skipped: {row['error']}")

    def finish(self) -> None:
        """Exit 2 (after the output is complete) when any input was bad."""
        if self.bad:
            from spectfsl.errors import SpectfslError

            raise SpectfslError(f"{self.bad} of {self.rows} rows are inputs that could not be read (see their error)")


def write_rows(
    specs: list[str],
    rows_for: Callable[[list[str]], Iterable[dict[str, Any]]],
    out: Path | None,
    fmt: str,
    columns: list[str],
    title: str,
    skip_bad: bool,
    on_row: Callable[[], None] | None = None,
    group: int = 1,
) -> None:
    """The rows of a batch command over IMAGE arguments `specs`, written by `row_output`, then exit 2
    if any input was bad (`--skip-bad`).

    The inputs are listed once (folders expanded to their files: `input_units`); `rows_for` takes a
    list of them and starts a new batch every `group` inputs. One process streams `rows_for(all)`.
    Under torchrun each rank runs `rows_for` on its block of whole groups and rank 0 writes every
    rank's rows in input order: the output is the one process's, row for row (see
    `spectfsl.core.distributed`).
    """
    from spectfsl.core import distributed
    from spectfsl.render import row_output

    bad = BadInputs()
    units = distributed.input_units(specs)
    if not distributed.current().active:
        with row_output(out, fmt, columns, title=title, all_or_nothing=not skip_bad) as writer:
            for row in rows_for(units):
                bad.note(row)
                writer.write(row)
                if on_row is not None:
                    on_row()
        bad.finish()
        return
    mine = distributed.share(units, group)
    rows = distributed.gather_rows(_counted(rows_for(mine), on_row))
    if distributed.current().is_main:
        with row_output(out, fmt, columns, title=title, all_or_nothing=not skip_bad) as writer:
            for row in rows:
                bad.note(row)
                writer.write(row)
    # rank 0 has said which inputs were skipped; every rank ends with its exit code
    bad.rows, bad.bad = distributed.broadcast((bad.rows, bad.bad))
    bad.finish()


def _counted(rows: Iterable[dict[str, Any]], on_row: Callable[[], None] | None) -> Iterator[dict[str, Any]]:
    for row in rows:
        yield row
        if on_row is not None:
            on_row()
