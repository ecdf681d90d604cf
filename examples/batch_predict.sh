#!/usr/bin/env bash
# Classify every DICOM file under a folder into one CSV, as a batch job on a cluster would.
#
#   examples/batch_predict.sh BANK.safetensors INPUT_DIR OUT.csv
#
# Each file is classified on its own, so one unreadable file does not stop the job: it is logged
# and skipped, and the job exits 2 at the end. Exit codes follow spectfsl's: 0 all classified,
# 2 some input was bad, 1 an internal error (stops the job), 130 interrupted.
set -uo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 BANK.safetensors INPUT_DIR OUT.csv" >&2
  exit 2
fi
bank=$1 input=$2 out=$3
partial=$(mktemp "${out}.XXXXXX")
trap 'rm -f "$partial" "$partial.one"' EXIT

failed=0 count=0
while IFS= read -r -d '' file; do
  spectfsl --quiet proto predict "$file" --bank "$bank" --format csv --out "$partial.one" --overwrite
  status=$?
  case $status in
    0)
      if [ $count -eq 0 ]; then cat "$partial.one" >>"$partial"; else tail -n +2 "$partial.one" >>"$partial"; fi
      count=$((count + 1)) ;;
    2) echo "skipped $file (bad input, see the error above)" >&2; failed=$((failed + 1)) ;;
    130) echo "interrupted" >&2; exit 130 ;;
    *) echo "internal error on $file (exit $status): stopping" >&2; exit 1 ;;
  esac
done < <(find "$input" -type f -name '*.dcm' -print0 | sort -z)

if [ $count -eq 0 ]; then
  echo "no DICOM file could be classified under $input" >&2
  exit 2
fi
mv "$partial" "$out"
echo "classified $count files into $out ($failed skipped)" >&2
[ $failed -eq 0 ] || exit 2
