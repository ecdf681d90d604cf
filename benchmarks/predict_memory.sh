#!/usr/bin/env bash
# Peak memory of `proto predict` over 1,000 and 10,000 input files (flat if it streams).
# Usage: bash benchmarks/predict_memory.sh BANK.safetensors [WORKDIR]
set -euo pipefail
bank=$1
work=${2:-$(mktemp -d)}
python - "$work" <<'PY'
import sys
from pathlib import Path
import numpy as np
from spectfsl.core.image import SpectImage
from spectfsl.core.files.formats import save_npy
from spectfsl.core.processing.preprocess import NORMALISATION
rng = np.random.default_rng(0)
for count in (1000, 10000):
    folder = Path(sys.argv[1]) / str(count)
    if folder.exists():
        continue
    for index in range(count):
        save_npy(folder / f"{index:05d}.npy", SpectImage(rng.random((64, 64), dtype=np.float32), (2.0, 2.0), None, "x", "x", normalisation=NORMALISATION))
PY
for count in 1000 10000; do
  /usr/bin/time -f "$count inputs: %M KiB peak RSS, %e s" spectfsl -q proto predict "$work/$count" --bank "$bank" --format csv --out "$work/$count.csv"
  echo "rows: $(($(wc -l < "$work/$count.csv") - 1))"
done
