"""Which code made a file or a figure: the source checkout's commit."""

from __future__ import annotations

import subprocess
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parent.parent.parent


def source_commit() -> str:
    """The source checkout's commit (`+dirty` when it has uncommitted changes, results files under
    benchmarks/results/ aside: a benchmark appending its lines does not make its own next line dirty),
    or 'unknown' outside a git checkout (an installed wheel)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=SOURCE_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks/results"],
            cwd=SOURCE_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if status else "")
