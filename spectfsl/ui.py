"""Terminal presentation shared by the commands: the stderr console and progress bars."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

#: Messages, warnings and progress go to stderr; stdout carries only machine-readable results.
stderr = Console(stderr=True, highlight=False)


class Settings:
    """Process-wide presentation switches set by the root command (`--quiet`, `--debug`)."""

    quiet: bool = False
    debug: bool = False


def progress_enabled() -> bool:
    """Progress shows on an interactive stderr unless --quiet."""
    return not Settings.quiet and sys.stderr.isatty()


def make_progress() -> Progress:
    """A rich progress display on stderr that disables itself when it should not show."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
        console=stderr,
        disable=not progress_enabled(),
        transient=False,
    )


def info(message: str) -> None:
    """A human-readable line on stderr, silenced by --quiet."""
    if not Settings.quiet:
        stderr.print(message, soft_wrap=True)


def warn(message: str) -> None:
    """A one-line warning on stderr; never silenced."""
    stderr.print(f"warning: {message}", markup=False, soft_wrap=True)
