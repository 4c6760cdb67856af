#!/usr/bin/env bash
# Packs another Triton (default 3.9.0, what torch 2.14 and so SGLang 0.5.23 bring) and DeepGEMM for the lent GPU
# machines, whose image has triton 3.6 (torch 2.11), into .devcarry/triton.tar.xz (git-ignored, ~53 MB):
#   bash scripts/make_triton_bundle.sh [VERSION]
# Carry it instead of site.tar.xz (the two pass the 64 MiB carry limit; this one has no TileLang): scripts/gpu_env.sh
# then puts that Triton first on PYTHONPATH, and the GPU suite and the benchmark run with it. The wheel (~290 MB) is cut
# to what compiles and launches CUDA kernels: libtriton.so stripped of its symbol tables (500 -> 190 MB), no AMD
# backend, profiler or Blackwell ptxas (TRITON_BACKENDS_IN_TREE / TRITON_PTXAS_BLACKWELL_PATH, set by gpu_env.sh).
# Wheels are for CPython 3.12 / x86-64, the GPU machine's interpreter. Takes ~3 minutes.
set -euo pipefail
version=${1:-3.9.0}
root=$(git rev-parse --show-toplevel)
out="$root/.devcarry"
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$tmp/whl" \
  "triton==$version" sgl-deep-gemm==0.1.4.post1 apache-tvm-ffi==0.1.11 torch-c-dlpack-ext==0.1.5
mkdir "$tmp/site"
for w in "$tmp"/whl/*.whl; do python3 -m zipfile -e "$w" "$tmp/site"; done
t="$tmp/site/triton"
rm -rf "$t/backends/amd" "$t/profiler" "$t/instrumentation" "$t/plugins" "$t/_C/libproton.so" \
  "$t"/backends/nvidia/lib/cupti* "$t/backends/nvidia/bin/ptxas-blackwell" "$t/backends/nvidia/bin/nvdisasm"
strip --strip-unneeded "$t/_C/libtriton.so"
chmod +x "$t"/backends/nvidia/bin/*
tar -C "$tmp/site" -cf - . | xz -T0 -7 > "$out/triton.tar.xz"
ls -la "$out/triton.tar.xz"
