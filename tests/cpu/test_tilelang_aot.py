"""TileLang family without a GPU: kernels lowered for sm_120a, sm_121a and sm_90a in SM120 mode and compiled by
nvcc to cubins, with SASS checks: FP8 mma.sync (QMMA on SM120/121; Hopper has no FP8 mma.sync in hardware and
ptxas emulates it with HMMA), bf16 MMA for MXFP4, cp.async gathers, and never wgmma. Cubins are cached under
``~/.cache/sglang-sm120-dsa/tilelang`` by variant and kernel-source hash, so only changed kernels recompile.

A representative set, not every variant: one TileLang lowering takes 10-90 s on a CI core. Every variant of the
head counts a model uses is compiled on the GPU by ``warmup`` (``scripts/run_gpu_suite.sh``)."""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest

pytest.importorskip("tilelang", reason="the tilelang extra is not installed")

from sglang_sm120_dsa.tilelang import config  # noqa: E402
from sglang_sm120_dsa.tilelang import variants  # noqa: E402

FP8 = [variants.paged_variant(64, 128, 1, False, "float32", config.PAGED_DEFAULT),
       variants.paged_variant(8, 64, 2, False, "bfloat16", config.PAGED_DEFAULT),
       variants.ragged_variant(64, 128, False, "float32", config.RAGGED_DEFAULT),
       variants.ragged_variant(32, 32, False, "bfloat16", config.RAGGED_DEFAULT)]
FP4 = [variants.paged_variant(16, 64, 1, True, "float32", config.PAGED_DEFAULT)]
TARGETS = [(120, True), (121, True), (90, True)]
CASES = ([(v, a, m) for a, m in TARGETS for v in [variants.METADATA, *FP8]] + [(v, 120, True) for v in FP4])


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


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc")
@pytest.mark.parametrize("variant,arch,sm120", CASES, ids=lambda x: x.describe() if hasattr(x, "describe") else str(x))
def test_compiles_to_sm120_instructions(variant, arch, sm120, tmp_path) -> None:
    sass = _sass(variants.cubin(variant, arch, sm120), tmp_path)
    assert "Function : " in sass, "no kernel in the cubin"
    assert "GMMA" not in sass, "wgmma in SM120 mode"
    mma = {line.split()[1] for line in sass.splitlines() if "MMA." in line and len(line.split()) > 1}
    if variant.kernel == "metadata":
        assert not mma
        return
    assert "LDGSTS" in sass, "the key tiles are not gathered with cp.async"
    if variant.get("FP4"):
        assert any(op.startswith("HMMA.16816.F32.BF16") for op in mma), mma
    elif arch >= 120:
        assert any(op.startswith("QMMA.16832.F32.E4M3.E4M3") for op in mma), mma
    else:
        assert any(op.startswith("HMMA") for op in mma), mma  # e4m3 mma.sync, emulated by ptxas on sm_90a
        assert "mma_sync<tl::DataType::kFloat8_e4m3" in variants.lower(variant, arch, sm120)


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
