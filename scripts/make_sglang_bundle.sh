#!/usr/bin/env bash
# Packs SGLang 0.5.23 for the lent GPU machines (CPython 3.12, x86-64, no network, no SGLang) into
# .devcarry/sglang_site.tar.xz (git-ignored, ~36 MB): sglang/, SGLang with the import set of
# tests/plugin/requirements-cpu.txt, and deep_gemm/, sgl-deep-gemm 0.1.4.post1 (the build that loads with the image's
# torch 2.11) with its TVM FFI, apart so that the GPU tests can import it without SGLang's pins. It carries no TileLang: with
# ../shared/device/make_bundle.sh's 55 MB the two would pass the 64 MiB carry limit, and the SGLang GPU test does not
# need it. Left out to fit: SGLang's multimodal generation, tests, benchmarks and Rust server extensions, which
# SGLang imports lazily and the indexer paths never reach.
#   bash scripts/make_sglang_bundle.sh                  (in the repository root, ~2 minutes)
#   run: carry .devcarry/sglang_site.tar.xz; `source scripts/gpu_env.sh` unpacks it
#   then: python3 -m pytest tests/gpu/test_sglang_on_gpu.py
set -euo pipefail
root=$(git rev-parse --show-toplevel)
out="$root/.devcarry"
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -v '^#' "$root/tests/plugin/requirements-cpu.txt" | grep . > "$tmp/requirements.txt"
printf '%s\n' sgl-deep-gemm==0.1.4.post1 torch-c-dlpack-ext==0.1.5 >> "$tmp/requirements.txt"
platforms=()
for p in manylinux_2_34 manylinux_2_28 manylinux_2_27 manylinux_2_24 manylinux_2_17 manylinux2014; do
  platforms+=(--platform "${p}_x86_64")
done
echo "downloading $(wc -l < "$tmp/requirements.txt") wheels for CPython 3.12"
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  "${platforms[@]}" --platform any -d "$tmp/whl" -r "$tmp/requirements.txt" 2>&1 | grep -v "^WARNING: Location" || true
[ "$(ls "$tmp"/whl/*.whl | wc -l)" = "$(wc -l < "$tmp/requirements.txt")" ] || { echo "missing wheels"; exit 1; }
mkdir -p "$tmp"/site/{sglang,deep_gemm}
for w in "$tmp"/whl/*.whl; do
  case "$(basename "$w")" in sgl_deep_gemm-*|apache_tvm_ffi-*|torch_c_dlpack_ext-*) dest=deep_gemm ;; *) dest=sglang ;; esac
  python3 -m zipfile -e "$w" "$tmp/site/$dest"
done
rm -rf "$tmp"/site/sglang/sglang/{multimodal_gen,test,benchmark} "$tmp"/site/sglang/sglang/srt/rust_extensions/_*.so
find "$tmp/site" -name __pycache__ -prune -exec rm -rf {} +
echo "compressing $(du -sh "$tmp/site" | cut -f1)"
tar -C "$tmp/site" -cf - . | xz -T0 -6 > "$out/sglang_site.tar.xz"
ls -la "$out/sglang_site.tar.xz"
