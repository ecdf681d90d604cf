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

#: Where results go: benchmarks/results/, or $SPECTFSL_RESULTS_DIR (the tests point it elsewhere).
RESULTS = Path(os.environ.get("SPECTFSL_RESULTS_DIR") or Path(__file__).resolve().parent / "results")


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
    RESULTS.mkdir(exist_ok=True)
    text = json.dumps(line)
    with open(RESULTS / f"{name}.jsonl", "a", encoding="utf-8") as handle:
        handle.write(text + "\n")
    print(text, flush=True)
