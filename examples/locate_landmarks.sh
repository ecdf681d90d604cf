#!/usr/bin/env bash
# One-shot landmark localisation: train PRNet on unlabelled scans (once), then find the points
# annotated on one reference slice in every target slice.
#
#   examples/locate_landmarks.sh MODEL.safetensors REFERENCE "NAME=x,y" TARGET... -- TRAIN_IMAGE...
#
# MODEL is trained from TRAIN_IMAGE... when it does not exist yet. REFERENCE and TARGET are 2D images
# or frames (PATH@N). Prints CSV (path,name,x,y,x_mm,y_mm,steps; path is the target) on stdout.
set -euo pipefail

if [ $# -lt 4 ]; then
  echo "usage: $0 MODEL REFERENCE NAME=x,y TARGET... [-- TRAIN_IMAGE...]" >&2
  exit 2
fi
model=$1 reference=$2 point=$3
shift 3
targets=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do targets+=("$1"); shift; done
[ $# -gt 0 ] && shift
if [ ! -f "$model" ]; then
  if [ $# -eq 0 ]; then
    echo "$model does not exist and no TRAIN_IMAGE was given after --" >&2
    exit 2
  fi
  spectfsl --quiet prnet train "$@" --out "$model" --epochs "${EPOCHS:-200}" --iters 10
fi
spectfsl --quiet prnet locate "${targets[@]}" --model "$model" --ref "$reference" --point "$point" --format csv
