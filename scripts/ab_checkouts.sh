#!/usr/bin/env bash
# A/B of a change on a GPU machine: bash scripts/ab_checkouts.sh BASE [ragged|paged|both]
# Runs scripts/ab_kernels.py for BASE and for this checkout, one process each, under the environment of
# scripts/gpu_env.sh (so with a carried .devcarry/triton.tar.xz, that Triton). BASE: a directory holding the base's
# sglang_sm120_dsa/ (the GPU machines get no .git: e.g. `git archive REV sglang_sm120_dsa | tar -x -C .devcarry/base`
# here, then carry .devcarry) or a git revision. Both use this checkout's configs/ (the editable install's).
# Set MODES, SIZES (ragged) and PMODES, PCASES (paged) to change the cases. Output: $OUT/ab.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/gpu_env.sh
if [ -d "$1/sglang_sm120_dsa" ]; then
  base=$(cd "$1" && pwd)
else
  base=$OUT/base && rm -rf "$base" && mkdir -p "$base"
  git archive "$1" sglang_sm120_dsa | tar -x -C "$base" || exit 1
fi
MODES=${MODES:-auto,bytes,sm80,sm89,fp4,sm80fp4}
SIZES=${SIZES:-2048x8192,8192x65536}
PMODES=${PMODES:-bytes,portable}
PCASES=${PCASES:-64x65536x1,64x65536x2,8x32768x2,1x8192x2}
for kernel in ragged paged; do
  [ "${2:-both}" = both ] || [ "$2" = $kernel ] || continue
  for side in base new; do
    src=$PWD; [ $side = base ] && src=$base
    if [ $kernel = ragged ]; then what=("$MODES" "$SIZES"); else what=("$PMODES" "$PCASES"); fi
    PYTHONPATH=$src:$PYTHONPATH python3 scripts/ab_kernels.py $kernel "${what[@]}" $side 2>&1 \
      | grep -v "leaked\|nanobind\|not tuned" | tee -a "$OUT/ab.txt"
  done
done
