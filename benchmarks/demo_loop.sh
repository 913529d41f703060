#!/usr/bin/env bash
# `make demo` N times in a row (default 10) on this machine; prints each run's result and the count
# of green runs, keeps each run's output in $LOG_DIR, exits 0 only if every run was green.
#   benchmarks/demo_loop.sh [N]
set -u
runs=${1:-10}
cd "$(dirname "$0")/.." || exit 2
LOG_DIR=${LOG_DIR:-$(mktemp -d -t demo-loop-XXXXXX)}
mkdir -p "$LOG_DIR"
green=0
for i in $(seq 1 "$runs"); do
  started=$(date +%s)
  if make demo >"$LOG_DIR/demo-$i.log" 2>&1; then
    green=$((green + 1)); result=green
  else
    result="FAILED (see $LOG_DIR/demo-$i.log)"
  fi
  echo "run $i/$runs: $result in $(( $(date +%s) - started )) s"
done
echo "$green of $runs demo runs green (logs: $LOG_DIR)"
[ "$green" -eq "$runs" ]
