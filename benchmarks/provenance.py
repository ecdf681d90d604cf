"""Provenance for benchmark result lines: which code, when, with which libraries, on which machine.

Every line a benchmark appends under `benchmarks/results/` starts with these fields, so that a figure
quoted in the docs can be traced to the commit and settings that produced it.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

#: The project's results files, which the docs quote.
PROJECT_RESULTS = Path(__file__).resolve().parent / "results"
#: Where results go: benchmarks/results/, or $SPECTFSL_RESULTS_DIR (the tests point it elsewhere).
RESULTS = Path(os.environ.get("SPECTFSL_RESULTS_DIR") or PROJECT_RESULTS)


def check_clean(commit: str, results: Path) -> None:
    """Refuse to add a line to the project's results from uncommitted code: a figure the docs quote
    must name the commit that made it. Commit first, or run from a clean worktree
    (`git worktree add /tmp/wt HEAD`) with SPECTFSL_RESULTS_DIR pointing back here."""
    if commit.endswith("+dirty") and results.resolve().parts[-2:] == PROJECT_RESULTS.parts[-2:]:
        raise SystemExit(
            f"{results}: refusing a results line from uncommitted code ({commit}); commit first, or run "
            "from a clean worktree with SPECTFSL_RESULTS_DIR pointing at benchmarks/results"
        )


def provenance(device: str = "cpu") -> dict[str, Any]:
    """commit, date, versions (python, torch, numpy, spectfsl) and machine (cores, threads, device)."""
    import numpy
    import torch

    import spectfsl
    from spectfsl.core.provenance import source_commit

    return {
        "commit": source_commit(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": numpy.__version__,
            "spectfsl": spectfsl.__version__,
        },
        "machine": {
            "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "processor": platform.machine(),
            "device": device,
        },
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }


def append_result(name: str, line: dict[str, Any]) -> None:
    """Append one JSON line to `benchmarks/results/<name>.jsonl` and echo it on stdout."""
    check_clean(str(line.get("commit", "")), RESULTS)
    RESULTS.mkdir(exist_ok=True)
    text = json.dumps(line)
    with open(RESULTS / f"{name}.jsonl", "a", encoding="utf-8") as handle:
        handle.write(text + "\n")
    print(text, flush=True)
