"""TileLang family without a GPU: kernel variants lowered for sm_120a (also what sm_121a compiles: TileLang lowers
both to the same CUDA, asserted below) and for sm_90a in SM120 mode, compiled by nvcc to cubins for sm_120a,
sm_121a and sm_90a, with SASS checks: FP8 mma.sync (QMMA on SM120/121; Hopper has no FP8 mma.sync in hardware and
ptxas emulates it with HMMA), bf16 MMA for MXFP4, cp.async gathers, and never wgmma.

CI compiles a representative set (both kernels, FP8 and MXFP4, both logits dtypes, small and large head counts,
both row classes). ``SGLANG_SM120_DSA_AOT_ALL=1`` compiles every variant (123 per arch): TileLang's lowering takes
5-40 s per variant and target on one core (most for the many-row variants of 8 and 16 heads), about an hour
cold on two cores. Every sm_90a variant is also compiled and run on the GPU by ``scripts/run_gpu_suite.sh``.
Lowered sources and cubins are cached under ``~/.cache/sglang-sm120-dsa/tilelang`` by variant and kernel-source
hash, so only changed kernels recompile and a warm run takes seconds."""

from __future__ import annotations

import logging
import os
import pathlib
import shutil
import subprocess

import pytest

pytest.importorskip("tilelang", reason="the tilelang extra is not installed")

from sglang_sm120_dsa.tilelang import config  # noqa: E402
from sglang_sm120_dsa.tilelang import variants  # noqa: E402

TARGETS = ((120, True), (121, True), (90, True))
# a representative set: both kernels, FP8 and MXFP4, small and large head counts, both row classes
SAMPLE = [variants.METADATA, variants.paged_variant(64, 128, 1, False, "float32", config.PAGED_DEFAULT),
          variants.paged_variant(8, 64, 2, False, "bfloat16", config.PAGED_DEFAULT),
          variants.ragged_variant(32, 32, False, "bfloat16", config.RAGGED_DEFAULT),
          variants.ragged_variant(64, 128, False, "float32", config.RAGGED_DEFAULT),
          variants.paged_variant(16, 64, 1, True, "float32", config.PAGED_DEFAULT),
          variants.ragged_variant(64, 128, True, "bfloat16", config.RAGGED_DEFAULT)]
EVERY_VARIANT = os.environ.get("SGLANG_SM120_DSA_AOT_ALL") == "1"
needs_nvcc = pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc")


def _cuobjdump() -> str:
    import triton

    bundled = pathlib.Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"
    found = str(bundled) if bundled.exists() else shutil.which("cuobjdump")
    if not found:
        pytest.skip("no cuobjdump (Triton's bundled one or on PATH)")
    return found


def _sass(cubin: bytes, tmp_path: pathlib.Path) -> str:
    path = tmp_path / "kernel.cubin"
    path.write_bytes(cubin)
    return subprocess.run([_cuobjdump(), "-sass", str(path)], capture_output=True, text=True, check=True).stdout


def _check_sass(variant: variants.Variant, arch: int, sass: str) -> None:
    where = f"{variant.describe()} on sm_{arch}"
    assert "Function : " in sass, f"no kernel in the cubin of {where}"
    assert "GMMA" not in sass, f"wgmma in SM120 mode: {where}"
    mma = {line.split()[1] for line in sass.splitlines() if "MMA." in line and len(line.split()) > 1}
    if variant.kernel == "metadata":
        assert not mma, where
        return
    assert "LDGSTS" in sass, f"the key tiles are not gathered with cp.async: {where}"
    if variant.get("FP4"):
        assert any(op.startswith("HMMA.16816.F32.BF16") for op in mma), (where, mma)
    elif arch >= 120:
        assert any(op.startswith("QMMA.16832.F32.E4M3.E4M3") for op in mma), (where, mma)
    else:
        assert any(op.startswith("HMMA") for op in mma), (where, mma)  # e4m3 mma.sync, emulated by ptxas


@needs_nvcc
def test_variants_compile_to_sm120_instructions(tmp_path, capsys) -> None:
    chosen = variants.kernel_variants(120) if EVERY_VARIANT else SAMPLE
    with capsys.disabled():  # a cold compile takes minutes: show progress
        variants.compile_cubins(chosen, TARGETS, progress=lambda line: print(f"  tilelang AOT {line}", flush=True))
    for variant in chosen:
        for arch, sm120 in TARGETS:
            _check_sass(variant, arch, _sass(variants.cubin(variant, arch, sm120), tmp_path))


@needs_nvcc
@pytest.mark.parametrize("variant", SAMPLE, ids=lambda v: v.describe())
def test_sm121_lowers_like_sm120(variant) -> None:
    """Why the sweep compiles the sm_120a source for sm_121a: TileLang makes no different choice for GB10."""
    assert variants.lower(variant, 121, True) == variants.lower(variant, 120, True)


@needs_nvcc
def test_sm120_mode_on_hopper_emits_fp8_mma_sync() -> None:
    """On sm_90a the FP8 MMA is SM120's mma.sync e4m3 in the source (ptxas then emulates it)."""
    source = variants.lower(SAMPLE[1], 90, True)
    assert "mma_sync<tl::DataType::kFloat8_e4m3" in source and "wgmma" not in source


def test_variant_table_covers_the_contract() -> None:
    """Every head count, head dim, row class, FP8/MXFP4 and logits dtype has a variant for SM120."""
    table = variants.kernel_variants(120)
    paged = {(v.get("H"), v.get("D"), v.get("ROWS"), v.get("FP4"), v.get("OUT")) for v in table if v.kernel == "paged"}
    for heads in (8, 16, 32, 64, 128):
        for next_n in range(1, 9):
            for fp4 in (False, True):
                for out in ("float32", "bfloat16"):
                    for d in (64, 128):
                        assert (heads, d, config.rows_per_block(heads, next_n), fp4, out) in paged
    ragged = {(v.get("H"), v.get("D"), v.get("FP4")) for v in table if v.kernel == "ragged"}
    assert {(h, 32, False) for h in (8, 16, 32, 64, 128)} <= ragged
    assert len(table) == len(set(table))


def test_unsupported_archs_and_versions(monkeypatch) -> None:
    assert config.unsupported(120) is None and config.unsupported(90) is None
    assert "sm_80" in config.unsupported(80)
    assert "sm_100" in config.unsupported(100)
    monkeypatch.setattr(config.importlib.metadata, "version", lambda name: "0.1.12")
    why = config.unsupported(120)
    assert "tilelang 0.1.12 is installed" in why and "0.1.15" in why


def test_sm120_mode_disables_wgmma_only_on_hopper() -> None:
    assert config.pass_configs(90, True)["tl.disable_wgmma"] is True
    assert "tl.disable_wgmma" not in config.pass_configs(90, False)
    assert config.pass_configs(120, True) == {**config.PASS_CONFIGS}
    assert config.target(120) == {"kind": "cuda", "arch": "sm_120a"}


@pytest.mark.parametrize("level", [logging.INFO, logging.DEBUG, logging.ERROR])
def test_compiles_quiet_tilelang_default_info_only(level) -> None:
    """TileLang's two INFO lines per compile are hidden during our compiles; a level the user set is kept."""
    logger = logging.getLogger("tilelang")
    saved = logger.level
    logger.setLevel(level)
    try:
        with variants._quiet_tilelang():
            inside = logger.level
        assert inside == (logging.WARNING if level == logging.INFO else level)
        assert logger.level == level
    finally:
        logger.setLevel(saved)
