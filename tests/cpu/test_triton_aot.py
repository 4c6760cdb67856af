"""Every Triton kernel variant compiled ahead of time for every target arch, without a GPU.

For sm_80, 86, 89, 90, 100, 120 and 121: every variant the launchers can produce (triton/variants.py) compiles
(sm_121's assembled by ptxas from sm_120's PTX, which a full sm_121 compile reproduces: aot.SAME_LOWERING);
its PTX uses the tensor-core instruction of its (arch, operand mode) and, on sm_80/86, no FP8 type at all; its
shared memory fits the arch's per-block limit; and the SASS of one variant per (kernel, operand mode, head_dim)
shows the tensor-core opcode (HMMA on sm_80/86, QMMA E4M3 on sm_89/120/121, QGMMA/HGMMA on sm_90, UTCQMMA/
UTCHMMA on sm_100) and, on sm_80/86, no E4M3; on sm_90 the byte path's decoded key tile reaches the wgmma from
registers (no shared-memory round trip); no loop that holds a dot copies a loop-invariant tensor to shared memory
every iteration; and every paged tile entry's ``programs_per_sm`` programs fit one SM together (shared memory and
registers of the compiled variant). Runs in spawned workers: the kernels must not be
interpreter objects.
"""

from __future__ import annotations

import multiprocessing
import os
import re
from concurrent.futures import ProcessPoolExecutor

import pytest

from sglang_sm120_dsa._versions import installed_version  # imports no kernel: workers import this module

ARCHS = [80, 86, 89, 90, 100, 120, 121]
TRITON = installed_version("triton")
# The expectations are those of the Triton CI installs (3.9). Observed with 3.6 on an H200 machine: sm_121 FP8 dots
# are not lowered to e4m3 MMA, and its bundled cuobjdump cannot decode sm_121.
pytestmark = pytest.mark.skipif(TRITON < (3, 9), reason=f"needs triton >= 3.9 (CI's); this is {TRITON}")


PARTS = 3  # per arch: 21 similar tasks keep the workers busy to the end (the archs' variant counts differ ~2x)


def _check(task: tuple[int, int]) -> dict:
    os.environ.pop("TRITON_INTERPRET", None)
    from sglang_sm120_dsa.triton.aot import check_arch

    return check_arch(*task, PARTS)


@pytest.fixture(scope="module")
def reports() -> dict[int, dict]:
    from sglang_sm120_dsa.triton.aot import SAME_LOWERING

    # the archs whose PTX others are assembled from first, those others last: their compiles are Triton cache hits
    sources = [arch for arch in ARCHS if arch in SAME_LOWERING.values()]
    compiled = sources + [arch for arch in ARCHS if arch not in sources and arch not in SAME_LOWERING]
    tasks = [(arch, part) for part in range(PARTS) for arch in compiled]
    tasks += [(arch, part) for arch in SAME_LOWERING for part in range(PARTS)]
    with ProcessPoolExecutor(max(1, min(len(tasks), os.cpu_count() or 1)),
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        parts = list(pool.map(_check, tasks))
    merged = {}
    for r in parts:
        m = merged.setdefault(r["arch"], {"variants": 0, "sass_checked": 0, "problems": [], "sass_unavailable": ""})
        m["variants"] += r["variants"]
        m["sass_checked"] = max(m["sass_checked"], r["sass_checked"])  # each part checks one per (kernel, mode, D)
        m["problems"] += r["problems"]
        m["sass_unavailable"] = m["sass_unavailable"] or r["sass_unavailable"]
    return merged


@pytest.mark.parametrize("arch", ARCHS)
def test_every_variant_compiles_with_the_right_instructions(reports, arch) -> None:
    report = reports[arch]
    assert not report["problems"], "\n".join(report["problems"])
    if report["sass_unavailable"]:  # compiled, PTX and shared memory checked; the SASS part could not run here
        pytest.skip(report["sass_unavailable"])
    assert report["variants"] >= 40 and report["sass_checked"] >= 7


_CHANGES = {  # to the PTX check_arch assembles sm_121's from
    "code": lambda ptx: re.sub(r"^(\.target .*)$", r"\1\n// not what Triton emits for this arch", ptx, count=1,
                               flags=re.MULTILINE),
    # what a Triton cache hit compiled in another checkout looks like (the cache key omits source paths): other
    # paths in the .file lines and in the DWARF sections' strings ('/' -> '_', same length)
    "source paths": lambda ptx: re.sub(r'^(\s*\.file\s+\d+\s+")', r"\1/another/checkout", ptx, flags=re.MULTILINE)
    .replace(".b8 47\n", ".b8 95\n"),
}


def _assembled_from_other_ptx(change: str) -> list[str]:
    """check_arch(121) on the clean kernel, with the PTX it assembles from sm_120's changed."""
    os.environ.pop("TRITON_INTERPRET", None)
    from sglang_sm120_dsa.triton import aot

    retarget = aot._retargeted_ptx

    def changed(ptx, arch):
        out = _CHANGES[change](retarget(ptx, arch))
        assert out != retarget(ptx, arch), "the change must change the PTX"
        return out

    aot._retargeted_ptx = changed
    every = aot.kernel_variants
    aot.kernel_variants = lambda arch: [v for v in every(arch) if v.kernel == "clean"]
    return aot.check_arch(121)["problems"]


def _check_121_with_changed_source_ptx(change: str) -> list[str]:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_assembled_from_other_ptx, change).result()


def test_an_arch_assembled_from_another_ptx_fails_when_triton_lowers_it_differently() -> None:
    problems = _check_121_with_changed_source_ptx("code")
    assert len(problems) == 1 and "Triton lowers it differently from sm_120" in problems[0], problems


def test_the_lowering_check_ignores_source_paths() -> None:
    assert _check_121_with_changed_source_ptx("source paths") == []


def _emulation_problems(arch: int, lower: bool) -> list[str]:
    os.environ.pop("TRITON_INTERPRET", None)
    from sglang_sm120_dsa.triton.aot import emulation_problems

    return emulation_problems(arch, 90, lower)


@pytest.mark.parametrize("arch", [80, 89, 120])
def test_emulated_arch_runs_that_archs_program_on_sm90(arch) -> None:
    """SGLANG_SM120_DSA_TRITON_ARCH on Hopper: the arch's own TritonGPU and LLVM IR, mma.sync in the SASS; without
    the lowering option the same compile is Hopper's program (the check can fail)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert pool.submit(_emulation_problems, arch, True).result() == []
        if arch == 89:
            unlowered = pool.submit(_emulation_problems, arch, False).result()
            assert any("ttgir differs" in p for p in unlowered) and any("not mma.sync" in p for p in unlowered)


def _tf32_sums_loops() -> dict:
    """The SM90 Gluon kernel with ``TF32`` head sums (a section's ``"sums": "tf32"``, in no table yet), compiled for
    sm_90: per (H, R, BYTES, OUT_BF16), its token loop's opcodes and sm90_sass_problems, with the FFMA form's loop
    length beside it."""
    os.environ.pop("TRITON_INTERPRET", None)
    from sglang_sm120_dsa.triton import aot
    from sglang_sm120_dsa.triton.variants import Variant

    out = {}
    for heads, rows, byte, bf16 in [(64, 2, False, False), (64, 1, False, True), (64, 2, True, False),
                                    (64, 1, True, False), (8, 1, False, False), (128, 1, False, False)]:
        loops = {}
        for tf32 in (False, True):
            const = (("H", heads), ("D", 128), ("R", rows), ("AHEAD", 2), ("OUT_BF16", bf16), ("BYTES", byte),
                     ("TF32", tf32))
            maxnreg = 168 if byte else 128  # (the tables' registers per mode)
            code = aot.sass(aot.compile_variant(Variant("paged_sm90", const, 4, maxnreg), 90).asm["cubin"])
            loops[tf32] = (aot.mma_loop_lines(code), aot.sm90_sass_problems(code))
        loop, problems = loops[True]
        out[(heads, rows, byte, bf16)] = {
            "tf32_mma": sum("HGMMA.64x8x8.F32.TF32" in line for line in loop),
            "ffma": sum(re.search(r"\bFFMA\b", line) is not None for line in loop),
            "shfl": sum("SHFL" in line for line in loop), "problems": problems,
            "length": len(loop), "ffma_form_length": len(loops[False][0])}
    return out


def test_tf32_head_sums_are_one_wgmma_chain_per_tile() -> None:
    """``TF32``: per tile, N / 8 tf32 wgmmas (k = 8) sum the heads of every row where the FFMA form runs an FFMA
    chain and quad shuffles; none of them is left in the loop, nothing spills or serializes the scores' wgmma, and
    the loop is shorter. (Compiled only: tests/gpu checks its results when a section enables it.)"""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        loops = pool.submit(_tf32_sums_loops).result()
    for (heads, rows, byte, bf16), got in loops.items():
        assert got["tf32_mma"] == heads * rows // 8, (heads, rows, byte, bf16, got)
        assert got["ffma"] == 0 and got["shfl"] == 0 and got["problems"] == [], (heads, rows, byte, bf16, got)
        assert got["length"] < got["ffma_form_length"], (heads, rows, byte, bf16, got)


def _warps_of_split_variants() -> dict:
    os.environ.pop("TRITON_INTERPRET", None)
    from sglang_sm120_dsa.triton.aot import compile_variant
    from sglang_sm120_dsa.triton.variants import kernel_variants

    found = {}
    for arch in (80, 89):
        for v in kernel_variants(arch):
            key = (v.get("SPLIT"), v.get("MODE"))
            if (v.kernel == "paged" and v.get("H") == 64 and v.get("D") == 128 and v.get("ROWS") == 1
                    and key not in found):
                found[key] = set(re.findall(r"nvidia_mma<\{[^}]*(warpsPerCTA = \[\d+, \d+\])",
                                             compile_variant(v, arch).asm["ttgir"]))
    return found


def test_split_heads_gives_each_warp_whole_tokens() -> None:
    """What config.split_heads relies on: on sm_80 a next_n 1 row's two half-head dots get warpsPerCTA [4, 1]
    (each warp whole tokens, an in-warp head sum), a lone dot (sm_89's native FP8 keeps one) [2, 2]."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        found = pool.submit(_warps_of_split_variants).result()
    assert found[(True, 1)] == {"warpsPerCTA = [4, 1]"} and found[(True, 2)] == {"warpsPerCTA = [4, 1]"}, found
    assert found[(False, 0)] == {"warpsPerCTA = [2, 2]"}, found


def _warps_of_ragged_dots() -> dict:
    os.environ.pop("TRITON_INTERPRET", None)
    from sglang_sm120_dsa.triton.aot import compile_variant
    from sglang_sm120_dsa.triton.variants import ragged_variants

    found = {}
    for v in ragged_variants(80):
        if v.get("D") == 128 and v.get("H") in (64, 128) and (v.get("H"), v.get("MODE")) not in found:
            found[v.get("H"), v.get("MODE")] = set(re.findall(r"nvidia_mma<\{[^}]*(warpsPerCTA = \[\d+, \d+\])",
                                                              compile_variant(v, 80).asm["ttgir"]))
    return found


def test_ragged_row_dots_give_each_warp_whole_tokens() -> None:
    """What config.ragged_row_dots relies on: on sm_80 the ragged kernel's dot per row (H=64, two rows) gets
    warpsPerCTA [4, 1] (each warp whole tokens) with bytes and MXFP4, while one dot of 128 columns (H=128) puts each
    token's heads on several warps (64-key tiles in both modes since 2026-12-08: MXFP4 had [2, 2] at 128)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        found = pool.submit(_warps_of_ragged_dots).result()
    assert found == {(64, 1): {"warpsPerCTA = [4, 1]"}, (64, 2): {"warpsPerCTA = [4, 1]"},
                     (128, 1): {"warpsPerCTA = [1, 4]"}, (128, 2): {"warpsPerCTA = [1, 4]"}}, found


def _ragged_head_sum_loops() -> dict:
    """Per (arch, H, MODE): the ragged one-dot kernel's token loop (length, FMULs) with tl.sum's tree and with
    config.ragged_lane_sums' FFMA chains, and whether the table's variant takes the chains."""
    os.environ.pop("TRITON_INTERPRET", None)
    from sglang_sm120_dsa.triton import aot
    from sglang_sm120_dsa.triton.variants import Variant
    from sglang_sm120_dsa.triton.variants import ragged_variants

    wanted = {(90, 64, 0), (90, 64, 1), (80, 32, 1), (89, 32, 0)}
    found = {}
    for arch in sorted({a for a, _, _ in wanted}):
        for v in ragged_variants(arch):
            key = (arch, v.get("H"), v.get("MODE"))
            if v.get("D") != 128 or key not in wanted or key in found or v.get("ROW_DOTS"):
                continue
            forms = []
            for lanes in (False, True):
                const = tuple((k, lanes if k == "LANE_SUMS" else x) for k, x in v.constexprs)
                code = aot.sass(aot.compile_variant(Variant("ragged", const, v.num_warps, v.maxnreg), arch)
                                .asm["cubin"])
                loop = aot.mma_loop_lines(code, mma_sync=arch != 90)
                forms.append((len(loop), sum(re.search(r"\bFMUL\b", line) is not None for line in loop)))
            found[key] = (*forms, v.get("LANE_SUMS"))
    return found


def test_ragged_lane_sums_shorten_the_token_loop() -> None:
    """config.ragged_lane_sums' claim: where the accumulator has the MMA layout, the one-dot ragged kernel's head sums
    as FFMA chains leave fewer FMULs and a shorter token loop than tl.sum's tree (sm_90 native and bytes at H=64,
    sm_80 bytes and sm_89 native at H=32), and the variants take them."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        found = pool.submit(_ragged_head_sum_loops).result()
    assert len(found) == 4, found
    for key, (tree, lanes, taken) in found.items():
        assert taken and lanes[0] > 0, (key, found[key])  # (the variant's flag on; a loop around an MMA found)
        assert lanes[0] < tree[0] and lanes[1] < tree[1], (key, found[key])


_LOOP_IR = """
    %q = tt.load %q_ptrs : tensor<128x128x!tt.ptr<f8E4M3FN>, #blocked>
    %r:2 = scf.for %t = %lo to %hi step %c1 iter_args(%acc = %c0, %tok = %tok0) -> (i32, !ttg.async.token)  : i64 {
      %k = ttg.local_load %keys token %tok : !ttg.memdesc<64x128xf8E4M3FN, #shared> -> tensor<64x128xf8E4M3FN, #b>
      %k_s = ttg.local_alloc %k : (tensor<64x128xf8E4M3FN, #b>) -> !ttg.memdesc<64x128xf8E4M3FN, #shared, #smem>
      %q_s = ttg.local_alloc {OPERAND} : (tensor<128x128xf8E4M3FN, #b>) -> !ttg.memdesc<128x128xf8E4M3FN, #s, #smem>
      %d = ttng.warp_group_dot %k_s, %q_s, %cst {isAsync = true} : ... -> tensor<64x128xf32>
      scf.yield %acc, %tok : i32, !ttg.async.token
    }
"""


@pytest.mark.parametrize("operand, found", [("%q", ["%q"]), ("%k", []), ("%acc", [])])
def test_invariant_copy_check(operand, found) -> None:
    """check_arch's check for a loop-invariant tensor stored to shared memory every iteration: the query loaded
    before the loop is flagged; a key tile loaded in it, or a loop-carried value, is not."""
    from sglang_sm120_dsa.triton.aot import invariant_copies

    assert invariant_copies(_LOOP_IR.replace("{OPERAND}", operand)) == found


def _fastlaunch_layouts() -> dict:
    os.environ.pop("TRITON_INTERPRET", None)
    import torch

    from sglang_sm120_dsa.triton import aot
    from sglang_sm120_dsa.triton import fastlaunch
    from sglang_sm120_dsa.triton.variants import kernel_variants

    found = {}
    for variant in kernel_variants(90):
        fn, signature, attrs = aot._signature(variant)
        runtime = [name for name in fn.arg_names if signature[name] != "constexpr"]
        ptrs = [name for name in runtime if signature[name].startswith("*")]
        kernel = fastlaunch.Kernel(fn, [torch.uint8] * len(ptrs), dict(variant.constexprs), {"num_warps": 4})
        found.setdefault(variant.kernel, []).append({
            "direct": kernel.direct, "pointers_first": runtime[: len(ptrs)] == ptrs,
            "specialized": sorted([ptrs[i] for i in kernel.aligned] + [runtime[len(ptrs) + i] for i in kernel.special]),
            "aot_aligned": sorted(fn.arg_names[i] for (i,) in attrs),
            "tail": kernel.tail == tuple(dict(variant.constexprs)[n] for n in fn.arg_names if n not in runtime)})
    return found


def test_fastlaunch_classes_cover_what_triton_specializes() -> None:
    """For every kernel the launchers use: fastlaunch.Kernel launches directly (Triton 3.9), finds the pointers
    before the integers, passes the variant's constexprs in order, and counts as specialized exactly the pointers and
    integers aot compiles with 16-byte divisibility (what valid inputs give): a class key that missed one would let
    a call reuse a kernel compiled for another specialization."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        found = pool.submit(_fastlaunch_layouts).result()
    assert set(found) == {"paged", "paged_sm90", "ragged", "metadata", "clean"}, set(found)
    for kernel, layouts in found.items():
        for layout in layouts:
            assert layout["direct"] and layout["pointers_first"] and layout["tail"], (kernel, layout)
            assert layout["specialized"] == layout["aot_aligned"], (kernel, layout)
