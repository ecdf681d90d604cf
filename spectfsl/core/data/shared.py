"""Where the real SPECT data live: one environment variable for every user of them (the demo, the
tests, the benchmarks), with the layout CI uses as the fallback."""

from __future__ import annotations

import os
from pathlib import Path

#: The environment variable naming the real-data folder (holding mps-physionet/, lvseg-mtu/, seed-slice/).
DATA_ENV = "SPECTFSL_DATA"


def data_candidates(repository: Path | None = None) -> list[Path]:
    """Where to look, in order: $SPECTFSL_DATA, ../shared/data from the working folder, and
    `repository`/../shared/data (a checkout beside the shared folder, as in CI)."""
    candidates = [os.environ.get(DATA_ENV), Path.cwd().parent / "shared" / "data"]
    if repository is not None:
        candidates.append(repository.parent / "shared" / "data")
    return [Path(candidate) for candidate in candidates if candidate]


def find_data(repository: Path | None = None) -> Path | None:
    """The first existing folder of `data_candidates`, or None."""
    return next((path for path in data_candidates(repository) if path.is_dir()), None)
