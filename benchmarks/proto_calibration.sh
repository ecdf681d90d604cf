#!/usr/bin/env bash
# Calibration of `proto fit` defaults on the phantom: episodes x seeds x feature transforms.
# Fine-tunes on patients P001-P004, evaluates patient-disjoint on P005-P012 (600 episodes).
# Usage: bash benchmarks/proto_calibration.sh [WORKDIR]
set -euo pipefail
work=${1:-$(mktemp -d)}
cd "$work"
[ -d ph ] || spectfsl -q phantom --out ph --patients 12
labels() { for p in "$@"; do echo "ph/$p/spect.dcm"; done; for p in "$@"; do echo --labels "ph/$p/labels.npy"; done; }
[ -d train ] || spectfsl -q prepare $(labels P001 P002 P003 P004) --out train --no-slices
[ -d test ] || spectfsl -q prepare $(labels P005 P006 P007 P008 P009 P010 P011 P012) --out test --no-slices
accuracy() { python -c 'import json,sys; print(" ".join("%.4f" % m["accuracy"] for m in json.load(sys.stdin)["methods"]))'; }
echo "episodes seed transform accuracy"
for transform in none l2 cl2n; do
  echo "0 - $transform $(spectfsl -q proto evaluate test --weights random --transform $transform --split-by patient --format json | accuracy)"
done
for episodes in ${EPISODES:-10 50 100 200}; do
  for seed in ${SEEDS:-0 1 2}; do
    spectfsl -q proto fit train --out bank.safetensors --overwrite --weights random --episodes "$episodes" --seed "$seed"
    for transform in none l2 cl2n; do
      echo "$episodes $seed $transform $(spectfsl -q proto evaluate test --bank bank.safetensors --transform $transform --split-by patient --format json | accuracy)"
    done
  done
done
