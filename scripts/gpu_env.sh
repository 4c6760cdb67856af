# Sourced by the GPU scripts: $OUT, the carried bundle on PYTHONPATH, this package installed without dependencies.
OUT=${OUT:-$PWD/out}
mkdir -p "$OUT"
export OUT PYTHONUNBUFFERED=1 TRITON_DEFAULT_FP_FUSION=1
if [ -f .devcarry/site.tar.xz ]; then
  mkdir -p /tmp/site && tar -C /tmp/site -xJf .devcarry/site.tar.xz
  export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
else
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
# Another Triton (and DeepGEMM) from scripts/make_triton_bundle.sh, ahead of the image's: its wheel is cut down, so
# backends are found in its tree and its sm_90 ptxas stands in for the Blackwell one it looks for.
if [ -f .devcarry/triton.tar.xz ]; then
  mkdir -p /tmp/triton_site && tar -C /tmp/triton_site -xJf .devcarry/triton.tar.xz
  export PYTHONPATH=/tmp/triton_site:$PYTHONPATH TRITON_BACKENDS_IN_TREE=1 \
    TRITON_PTXAS_BLACKWELL_PATH=/tmp/triton_site/triton/backends/nvidia/bin/ptxas
fi
# SGLang 0.5.23 (scripts/make_sglang_bundle.sh) for tests/gpu/test_sglang_on_gpu.py only, which puts it on its SGLang
# process's path: on everyone's path its pinned packages would shadow the image's.
if [ -f .devcarry/sglang_site.tar.xz ]; then
  mkdir -p /tmp/sglang_site && tar -C /tmp/sglang_site -xJf .devcarry/sglang_site.tar.xz
  export SGLANG_SM120_DSA_TEST_SGLANG_SITE=/tmp/sglang_site/sglang
  python3 -c "import deep_gemm" 2>/dev/null || export PYTHONPATH=$PYTHONPATH:/tmp/sglang_site/deep_gemm
fi
python3 -m pip install -q --no-deps --no-build-isolation -e . > "$OUT/install.log" 2>&1 \
  || echo "editable install failed (see install.log); using PYTHONPATH"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)" | tee -a "$OUT/gpu.txt"
# SGLang's TileLang indexer kernel for the benchmark's sglang-tilelang column (the GPU machines have no sglang): carry
# a copy from a local SGLang 0.5.23 install as .devcarry/sglang_tilelang_kernel.py
# (sglang/kernels/ops/attention/dsa/tilelang_kernel.py).
if [ -f .devcarry/sglang_tilelang_kernel.py ] && [ -z "${SGLANG_TILELANG_KERNEL:-}" ]; then
  export SGLANG_TILELANG_KERNEL=$PWD/.devcarry/sglang_tilelang_kernel.py
fi
