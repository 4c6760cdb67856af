#!/usr/bin/env bash
# The benchmark in one command on a GPU machine: bash scripts/run_benchmark.sh [bench_indexer.py args]
# Writes the table, CSV and plot under $OUT (default ./out).
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/gpu_env.sh
python3 scripts/bench_indexer.py --out "$OUT" "$@" 2>&1 | tee "$OUT/bench.txt"
exit "${PIPESTATUS[0]}"
