#!/usr/bin/env bash
# `spectfsl proto predict` over 3000 prepared 64x64 crops, process start-up included, against the
# ten-line script that loads the same files and runs the same backbone (benchmarks/ten_line_predict.py);
# `spectfsl --help` against `import torch`. Medians of RUNS runs each, alternating.
# Usage: bash benchmarks/predict_vs_script.sh [WORKDIR] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d)}
runs=${2:-3}
python - "$work" <<'PY'
import sys
from pathlib import Path
import numpy as np
from spectfsl.core.image import SpectImage
from spectfsl.core.files.formats import save_npy
from spectfsl.core.processing.preprocess import NORMALISATION
work = Path(sys.argv[1])
rng = np.random.default_rng(0)
def crop():
    return SpectImage(rng.random((64, 64), dtype=np.float32), (2.0, 2.0), None, "x", "x", normalisation=NORMALISATION)
if not (work / "crops").exists():
    for index in range(3000):
        save_npy(work / "crops" / f"{index:05d}.npy", crop())
    for name in ("liver", "myocardium", "ventricles"):
        for index in range(5):
            save_npy(work / "dataset" / name / f"{index}.npy", crop())
PY
[ -f "$work/bank.safetensors" ] || spectfsl -q proto fit "$work/dataset" --out "$work/bank.safetensors" --episodes 0 --weights random
python - "$work" "$runs" <<'PY'
import statistics, subprocess, sys, time
work, runs = sys.argv[1], int(sys.argv[2])
commands = {
    "spectfsl proto predict": ["spectfsl", "-q", "proto", "predict", f"{work}/crops", "--bank", f"{work}/bank.safetensors", "--format", "csv"],
    "ten-line script": [sys.executable, "benchmarks/ten_line_predict.py", f"{work}/crops", f"{work}/bank.safetensors"],
    "spectfsl --help": ["spectfsl", "--help"],
    "import torch": [sys.executable, "-c", "import torch"],
}
times = {name: [] for name in commands}
for _ in range(runs):
    for name, command in commands.items():
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times[name].append(time.perf_counter() - start)
median = {name: statistics.median(values) for name, values in times.items()}
for name, value in median.items():
    print(f"{name}: {value:.2f} s (runs {', '.join(f'{v:.2f}' for v in times[name])})")
print(f"proto predict / ten-line script: {median['spectfsl proto predict'] / median['ten-line script']:.3f}")
print(f"--help / import torch: {median['spectfsl --help'] / median['import torch']:.3f}")
PY
