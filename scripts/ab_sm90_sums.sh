#!/usr/bin/env bash
# The SM90 Gluon kernel's head sums, FFMA chains (the tables') against tf32 wgmmas ("sums": "tf32"), on a Hopper GPU
# in one command (~8 minutes; results under $OUT, default ./out):
#   bash scripts/ab_sm90_sums.sh     (AB_N2 / AB_N1: other case lists, e.g. only the >= 1M-token ones)
# 1. ab.txt: scripts/ab_sm90_entry.py, one process per form, alternating, twice (the pytest run between the rounds):
#    native next_n 2 and 1 (next_n 1 also at 96 registers x 5 programs per SM, which both forms fit), bytes next_n 2
#    once; DeepGEMM's time and calc_diff on every line.
# 2. pytest_sums.txt, junit_sums.xml: the Gluon kernel's GPU tests in both forms and the tf32 form against DeepGEMM
#    (its largest SM90 shapes, top-2048 overlap at 8K-128K); the junit file holds the calc_diffs and overlaps.
# 3. time_parts.txt: scripts/time_parts.py on the tables as they are, if the call's 10 minutes leave room.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/gpu_env.sh > /dev/null
cat "$OUT/gpu.txt"
# (nanobind's leak report ends without a newline and would swallow the next process's first line)
quiet() { sed -u 's/refleaks.html/refleaks.html\n/' | grep --line-buffered -v "leaked\|nanobind\|skipped remainder\|refleaks"; }
N2=${AB_N2:-64x65536x2,128x16384x2,256x8192x2,32x32768x2,8x32768x2,1x8192x2}
N1=${AB_N1:-64x65536x1,128x16384x1,256x8192x1,32x32768x1,1x8192x1}
start=$SECONDS
# Most telling first: a call cut short by the device budget still returns what it wrote under $OUT.
ab_round() {
  for section in "" sums=tf32; do python3 scripts/ab_sm90_entry.py native $N2 "$section" 2 2>&1 | quiet; done
  for section in "" sums=tf32 2,96,5 2,96,5,tf32; do
    python3 scripts/ab_sm90_entry.py native $N1 "$section" 1 2>&1 | quiet
  done
  echo "--- round $1: $((SECONDS - start)) s"
}
ab_round 1 2>&1 | tee "$OUT/ab.txt"
python3 -m pytest tests/gpu/test_kernel_families.py -q -o junit_family=legacy --junitxml="$OUT/junit_sums.xml" \
  -k "sm90 or tf32" 2>&1 | quiet | tee "$OUT/pytest_sums.txt" | grep -E "passed|failed|Error|FAILED"
echo "--- pytest: $((SECONDS - start)) s"
ab_round 2 2>&1 | tee -a "$OUT/ab.txt"
for section in "" sums=tf32; do
  python3 scripts/ab_sm90_entry.py bytes 64x65536x2,256x8192x2,8x32768x2 "$section" 2 2>&1 | quiet
done | tee -a "$OUT/ab.txt"
echo "--- $((SECONDS - start)) s"
left=$((560 - SECONDS))
[ "$left" -gt 60 ] && timeout "$left" python3 scripts/time_parts.py 2>&1 | quiet | tee "$OUT/time_parts.txt"
echo "--- $((SECONDS - start)) s"
