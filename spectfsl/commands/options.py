"""Option types shared by several commands, so each is declared once."""

from __future__ import annotations

from typing import Annotated

import typer

Overwrite = Annotated[
    bool, typer.Option("--overwrite", help="Replace OUT if it exists (only once the new output is complete).")
]


def _set_quiet(value: bool) -> bool:
    from spectfsl.ui import Settings

    Settings.quiet = Settings.quiet or value
    return value


Quiet = Annotated[
    bool,
    typer.Option("--quiet", "-q", callback=_set_quiet, help="No progress bars or informational messages."),
]

Device = Annotated[str, typer.Option(help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps.")]
