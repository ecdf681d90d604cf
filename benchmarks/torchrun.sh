#!/usr/bin/env bash
# Wall time of one process against `torchrun --standalone --nproc_per_node=N` on this machine, for
# `prnet train` (DDP) and `proto predict` (sharded), process start-up included; REPEATS runs each,
# one line per run on stdout (`workload,processes,batch_per_rank,run,seconds`).
# Usage: bash benchmarks/torchrun.sh [N] [REPEATS]   (DEVICE=cuda on a GPU node; WORK=scratch folder)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2}
REPEATS=${2:-3}
DEVICE=${DEVICE:-cpu}
WORK=${WORK:-$(mktemp -d)}
STEPS_EPOCHS=${STEPS_EPOCHS:-30}  # x 10 iterations
spectfsl() { python -m spectfsl "$@"; }
launch() { python -m torch.distributed.run --standalone --nproc_per_node="$N" -m spectfsl "$@"; }
seconds() { python -c "import time; print(f'{time.time() - $1:.1f}')"; }

if [ ! -d "$WORK/ph" ]; then
  spectfsl -q phantom --out "$WORK/ph" --patients 12 --seed 7
  args=(); labels=()
  for p in "$WORK"/ph/P0*/; do args+=("$p/spect.dcm"); labels+=(--labels "$p/labels.npy"); done
  spectfsl -q prepare "${args[@]}" "${labels[@]}" --out "$WORK/crops"
  spectfsl -q proto fit "$WORK/crops" --episodes 0 --weights random --out "$WORK/bank.safetensors"
fi
slices=()
for p in P001 P002 P003 P004 P005 P006 P007 P008; do slices+=("$WORK/ph/$p/spect.dcm@16-47"); done
crops=("$WORK/crops/slices" "$WORK/crops/myocardium" "$WORK/crops/ventricles" "$WORK/crops/liver")

echo "workload,processes,batch_per_rank,run,seconds"
for run in $(seq "$REPEATS"); do
  for setting in "1 16" "$N 16" "$N $((16 / N))"; do
    read -r processes batch <<<"$setting"
    start=$(date +%s.%N)
    if [ "$processes" = 1 ]; then
      spectfsl -q prnet train "${slices[@]}" --epochs "$STEPS_EPOCHS" --batch-size "$batch" --device "$DEVICE" \
        --out "$WORK/m.safetensors" --overwrite
    else
      launch -q prnet train "${slices[@]}" --epochs "$STEPS_EPOCHS" --batch-size "$batch" --device "$DEVICE" \
        --out "$WORK/m.safetensors" --overwrite 2>/dev/null
    fi
    echo "prnet_train,$processes,$batch,$run,$(seconds "$start")"
  done
  for processes in 1 "$N"; do
    start=$(date +%s.%N)
    if [ "$processes" = 1 ]; then
      spectfsl -q proto predict "${crops[@]}" --bank "$WORK/bank.safetensors" --device "$DEVICE" --format csv >"$WORK/one.csv"
    else
      launch -q proto predict "${crops[@]}" --bank "$WORK/bank.safetensors" --device "$DEVICE" --format csv \
        >"$WORK/many.csv" 2>/dev/null
    fi
    echo "proto_predict,$processes,256,$run,$(seconds "$start")"
  done
  cmp -s "$WORK/one.csv" "$WORK/many.csv" || echo "proto predict: the sharded output differs from one process's" >&2
done
echo "rows: $(($(wc -l <"$WORK/one.csv") - 1)) predictions; scratch: $WORK" >&2
