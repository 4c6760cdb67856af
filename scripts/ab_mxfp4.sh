#!/usr/bin/env bash
# The PTX MXFP4 decoder (4b39d30) and the ragged MXFP4 tables (f23bb03) on a Hopper GPU in one command (results under
# $OUT, default ./out):
#   git archive f0966c9 sglang_sm120_dsa | tar -x -C .devcarry/base     (here, before the call: the base's package)
#   bash scripts/ab_mxfp4.sh .devcarry/base     (carry .devcarry/triton.tar.xz and .devcarry/base)
# 1. pytest_fp4.txt: the compiled decoder's probe and every MXFP4 logits test of tests/gpu against the reference
#    (Hopper's own program and SM80's; a failure here makes the timings below moot).
# 2. ab.txt: scripts/ab_checkouts.sh, base then this checkout, MXFP4 ragged and paged in Hopper's and SM80's programs.
#    Both sides read this checkout's tables, so the ragged rows compare the decoders at the same 64-key tiles.
# 3. tune_fp4/: scripts/tune_triton.py --ops ragged --modes fp4 (the SASS-chosen entry against its candidates), if
#    the call's 10 minutes leave room.
set -uo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: bash scripts/ab_mxfp4.sh BASE, a directory holding the base package sglang_sm120_dsa/}
source scripts/gpu_env.sh > /dev/null
cat "$OUT/gpu.txt"
start=$SECONDS
python3 -m pytest tests/gpu/test_kernel_families.py -q -k "fp4" 2>&1 \
  | grep -v "leaked\|nanobind\|refleaks" | tee "$OUT/pytest_fp4.txt" | grep -E "passed|failed|Error|FAILED"
echo "--- pytest: $((SECONDS - start)) s"
MODES=${MODES:-fp4,sm80fp4} SIZES=${SIZES:-2048x8192,8192x65536} PMODES=${PMODES:-fp4,sm80fp4} \
  PCASES=${PCASES:-64x65536x1,64x65536x2,8x32768x2} bash scripts/ab_checkouts.sh "$base" both > /dev/null
echo "--- A/B: $((SECONDS - start)) s"
left=$((560 - SECONDS))
[ "$left" -gt 90 ] && timeout "$left" python3 scripts/tune_triton.py --ops ragged --modes fp4 --out "$OUT/tune_fp4" \
  2>&1 | grep -v "leaked\|nanobind\|refleaks" | tee "$OUT/tune_fp4.txt" | grep -E "^best|Error"
echo "--- $((SECONDS - start)) s"
