"""Terminal presentation shared by the commands: the stderr console and progress bars."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

#: Messages, warnings and progress go to stderr; stdout carries only machine-readable results.
stderr = Console(stderr=True, highlight=False)


class Settings:
    """Process-wide presentation switches set by the root command (`--quiet`, `--debug`)."""

    quiet: bool = False
    debug: bool = False


#: Seconds between progress lines when stderr is not a terminal (a batch log).
PROGRESS_INTERVAL_ENV = "SPECTFSL_PROGRESS_INTERVAL"
DEFAULT_PROGRESS_INTERVAL_S = 10.0


def progress_enabled() -> bool:
    """Progress bars show on an interactive stderr unless --quiet."""
    return not Settings.quiet and sys.stderr.isatty()


def make_progress() -> Progress | LineProgress:
    """Progress on stderr: rich bars with an ETA in a terminal; in a batch log (stderr not a terminal)
    a plain line every SPECTFSL_PROGRESS_INTERVAL seconds (10 by default); nothing with --quiet."""
    if not Settings.quiet and not sys.stderr.isatty():
        return LineProgress(float(os.environ.get(PROGRESS_INTERVAL_ENV, DEFAULT_PROGRESS_INTERVAL_S)))
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=stderr,
        disable=not progress_enabled(),
        transient=False,
    )


class LineProgress:
    """The progress API the commands use (`add_task`, `update`, `advance`), written as plain lines:
    `stage: done/total, rate/s, ETA` at most every `interval_s` seconds, and a closing line for runs
    that printed any. A run shorter than the interval prints nothing."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.tasks: dict[int, dict[str, Any]] = {}
        self.last_line = time.monotonic()
        self.printed = False

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.printed and exc[0] is None:
            for task in self.tasks.values():
                self._line(task, done=True)

    def add_task(self, description: str, total: float | None = None, **fields: Any) -> TaskID:
        index = len(self.tasks)
        self.tasks[index] = {
            "description": description,
            "total": total,
            "completed": 0.0,
            "start": time.monotonic(),
            "status": fields.get("status", ""),
        }
        return TaskID(index)

    def update(
        self,
        task_id: TaskID,
        *,
        advance: float = 0,
        completed: float | None = None,
        total: float | None = None,
        status: str | None = None,
        **_: Any,
    ) -> None:
        task = self.tasks[task_id]
        task["completed"] = completed if completed is not None else task["completed"] + advance
        task["total"] = total if total is not None else task["total"]
        task["status"] = status if status is not None else task["status"]
        now = time.monotonic()
        if now - self.last_line >= self.interval_s:
            self.last_line = now
            self._line(task)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        self.update(task_id, advance=advance)

    def _line(self, task: dict[str, Any], done: bool = False) -> None:
        elapsed = max(time.monotonic() - task["start"], 1e-9)
        completed, total = task["completed"], task["total"]
        rate = completed / elapsed
        parts = [f"{completed:g}/{total:g}" if total else f"{completed:g}", f"{rate:.3g}/s"]
        if done:
            parts.append(f"done in {elapsed:.0f} s")
        elif total and rate > 0:
            parts.append(f"ETA {(total - completed) / rate:.0f} s")
        if task["status"]:
            parts.append(str(task["status"]))
        print(f"{task['description']}: {', '.join(parts)}", file=sys.stderr, flush=True)
        self.printed = True


def info(message: str) -> None:
    """A human-readable line on stderr, silenced by --quiet."""
    if not Settings.quiet:
        stderr.print(message, markup=False, soft_wrap=True)


#: Settings whose flag is not `--` + the setting's name with `-` for `_`.
SETTING_FLAGS = {"spacing_mm": "--pixel-mm", "masks": "--mask", "interval_s": "--checkpoint-every"}


def flag_of(setting: str) -> str:
    """The CLI flag of a core setting: the core names settings as Python does, only the CLI knows flags."""
    return SETTING_FLAGS.get(setting, "--" + setting.replace("_", "-"))


def shown(message: object) -> str:
    """A message for the shell: an error or warning from the core with its settings worded as flags."""
    return message.worded(flag_of) if hasattr(message, "worded") else str(message)


def warn(message: object) -> None:
    """A one-line warning on stderr; never silenced."""
    stderr.print(f"warning: {shown(message)}", markup=False, soft_wrap=True)
