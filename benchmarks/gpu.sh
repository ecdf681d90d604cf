#!/usr/bin/env bash
# One GPU run, under 10 minutes on one H100: the bench table at 64x64 and 224x224, fp32 and bf16,
# contiguous and channels-last, with and without torch.compile, then `spectfsl demo --device cuda`.
# Writes $OUT/gpu-bench.json (every bench document and the demo's wall time) and $OUT/gpu-bench.md.
#
# Where the machine lacks pydicom and nibabel (the device image has the rest), carry them as wheels:
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 -d .whl pydicom==3.0.2 nibabel==5.4.2
# and run this script with `.whl` carried. Usage: OUT=results bash benchmarks/gpu.sh [SECONDS]
# A smoke run elsewhere: DEVICE=cpu BATCH=8 SIZES=32 PRECISIONS=fp32 VARIANTS=plain DEMO=0 ONLY=proto_predict bash benchmarks/gpu.sh 0.2
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/gpu-results}
SECONDS_PER_WORKLOAD=${1:-2}
DEVICE=${DEVICE:-cuda}
SIZES=${SIZES:-64 224}
PRECISIONS=${PRECISIONS:-fp32 bf16}
VARIANTS=${VARIANTS:-plain channels-last compile}
DEMO=${DEMO:-1}
BATCH=${BATCH:-256}
ONLY=${ONLY:-}  # workload ids to measure (all when empty)
mkdir -p "$OUT"

if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-}
export PYTHONUNBUFFERED=1
spectfsl() { python3 -m spectfsl "$@"; }

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >"$OUT/gpu.txt" 2>&1 || true
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

runs=()
for size in $SIZES; do
  for precision in $PRECISIONS; do
    for variant in $VARIANTS; do
      name="bench-${size}-${precision}-${variant}"
      flags=()
      [ "$variant" = channels-last ] && flags+=(--channels-last)
      [ "$variant" = compile ] && flags+=(--compile)
      for id in $ONLY; do flags+=(--only "$id"); done
      echo "== $name"
      spectfsl -q bench --device "$DEVICE" --batch-size "$BATCH" --size "$size" --precision "$precision" --seconds "$SECONDS_PER_WORKLOAD" \
        "${flags[@]}" --format json --out "$OUT/$name.json" --overwrite || echo "$name failed" >&2
      runs+=("$OUT/$name.json")
    done
  done
done

demo_s=0
if [ "$DEMO" = 1 ]; then
  echo "== demo"
  start=$(date +%s.%N)
  demo_real=()
  [ -d ../shared/data ] && demo_real=(--real-data ../shared/data)
  spectfsl -q demo --device "$DEVICE" --out "$OUT/demo" --overwrite "${demo_real[@]}" >"$OUT/demo.log" 2>&1 || echo "demo failed" >&2
  demo_s=$(python3 -c "import time; print(round(time.time() - $start, 1))")
fi

python3 - "$OUT" "$demo_s" "${runs[@]}" <<'EOF'
import json, sys
from pathlib import Path

out, demo_s, runs = Path(sys.argv[1]), float(sys.argv[2]), [Path(p) for p in sys.argv[3:]]
documents = [json.loads(p.read_text()) for p in runs if p.is_file()]
(out / "gpu-bench.json").write_text(json.dumps({"bench": documents, "demo_wall_s": demo_s}, indent=1) + "\n")
lines = [
    f"device: {documents[0]['device'] if documents else 'unknown'}; demo: {demo_s:.0f} s (0: not run)",
    "",
    "| size | precision | variant | workload | throughput | reference | unit | ratio | peak MiB |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
]
for document in documents:
    s = document["settings"]
    variant = "compile" if s["compile"] else "channels-last" if s.get("channels_last") else "plain"
    for w in document["workloads"]:
        lines.append(
            f"| {s['size']} | {s['precision']} | {variant} | {w['id']} | {w['throughput']:.1f} | "
            f"{w['reference_throughput']:.1f} | {w['unit']} | {w['ratio']:.2f} | {w['peak_memory_mb'] or 0:.0f} |"
        )
(out / "gpu-bench.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
