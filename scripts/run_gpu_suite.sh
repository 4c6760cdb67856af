#!/usr/bin/env bash
# The whole GPU suite in one command, for a lent H100/H200 (or any CUDA machine):
#   bash scripts/run_gpu_suite.sh            (in the repository root; results under $OUT, default ./out)
# Unpacks the TileLang/DeepGEMM bundle if it was carried (.devcarry/site.tar.xz, from ../shared/device/make_bundle.sh),
# or the SGLang/DeepGEMM one (.devcarry/sglang_site.tar.xz, scripts/make_sglang_bundle.sh) that
# tests/gpu/test_sglang_on_gpu.py needs; together they pass the 64 MiB carry limit, so that test gets its own call.
# installs this package without dependencies, runs the doctor on the GPU, both test tiers (tests/gpu compares with
# DeepGEMM on SM90) and records DeepGEMM's metadata golden vectors.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/gpu_env.sh
status=0
python3 -m sglang_sm120_dsa 2>&1 | tee "$OUT/doctor.txt" || status=1
# TileLang compiles on first use: compile every variant the tests use in parallel first (TileLang's disk cache).
if python3 -c "import tilelang" 2>/dev/null; then
  SGLANG_SM120_DSA_IMPL=tilelang SGLANG_SM120_DSA_TILELANG_MODE=sm120 python3 -c "import sglang_sm120_dsa as d; d.warmup()" \
    2>&1 | grep -E "^compiled .*0/|^\[[0-9]+/[0-9]+\]" | tail -3 || status=1
fi
python3 scripts/capture_deepgemm_golden.py --out "$OUT/deepgemm_sm90_metadata.json" 2>&1 | tail -3 || status=1
# Separate processes: tests/cpu runs the Triton kernels under TRITON_INTERPRET=1, set for its whole process.
python3 -m pytest tests/gpu -q -rs -o junit_family=legacy --durations=10 --junitxml="$OUT/junit_gpu.xml" "$@" 2>&1 \
  | tee "$OUT/pytest_gpu.txt"
[ "${PIPESTATUS[0]}" = 0 ] || status=1
python3 -m pytest tests/cpu -q -rs -o junit_family=legacy --junitxml="$OUT/junit_cpu.xml" > "$OUT/pytest_cpu.txt" 2>&1 \
  || status=1
tail -3 "$OUT/pytest_cpu.txt"
exit $status
