"""The kernel families on a GPU, one parameter per instruction path: Triton's FP8 paths (native, which on SM90 runs
the Gluon wgmma kernel where the tables enable it; ``portable``, native without it; and the SM80 byte path forced,
all three lowered for the GPU at hand, wgmma on Hopper), the whole Triton programs of SM80, SM86, SM89 and SM120
(``sm80``/``sm86``/``sm89``/``sm120``: SGLANG_SM120_DSA_TRITON_ARCH, their tables and operand modes lowered for
that arch, mma.sync), and TileLang in SM120 mode (SM120's mma.sync program compiled for sm_90a without wgmma);
MXFP4 on every path that has it.

Against the PyTorch reference on the whole contract, against DeepGEMM (SM90) on its own grid, for determinism,
CUDA-graph capture, independence from the SM count, 64-bit addressing and top-k agreement. Thresholds: calc_diff
< 5e-6 vs the dequantized reference (3e-5 for bf16 logits), < 1e-3 vs the bf16-input reference (0.02 for MXFP4),
exact -inf masks, bitwise-equal reruns.
"""

from __future__ import annotations

import importlib.util
import itertools
import os

import pytest
import torch

import sglang_sm120_dsa as dsa
from sglang_sm120_dsa.testing import assert_bitwise_equal
from sglang_sm120_dsa.testing import calc_diff
from sglang_sm120_dsa.testing import make_paged_case
from sglang_sm120_dsa.testing import make_ragged_case
from sglang_sm120_dsa.testing import topk_overlap
from sglang_sm120_dsa.testing.bench import capture

NEG_INF = float("-inf")
# "family-mode": Triton's FP8 operand paths, other archs' whole Triton programs (SGLANG_SM120_DSA_TRITON_ARCH: tables,
# operand mode, lowering; mma.sync) and TileLang's SM120 instruction set (when tilelang is installed)
PATHS = ["triton-native", "triton-portable", "triton-bytes", "triton-sm80", "triton-sm86", "triton-sm89",
         "triton-sm120"] + (
    ["tilelang-sm120"] if importlib.util.find_spec("tilelang") else [])
# FP4 has one operand mode: Hopper's program, and the mma.sync programs of the other archs
FP4_PATHS = [p for p in PATHS if p not in ("triton-bytes", "triton-portable")]

if torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET") == "1":  # tests/cpu's conftest sets it
    pytest.skip("TRITON_INTERPRET=1 in this process: run tests/gpu in a pytest process of its own "
                "(scripts/run_gpu_suite.sh does)", allow_module_level=True)


def check(out, ref, invalid, *, clean: bool, dtype, record=None) -> None:
    if clean:
        assert torch.equal(out == NEG_INF, invalid), "-inf mask differs"
    diff = calc_diff(out, ref, invalid)
    if record:
        record("calc_diff", diff)
    assert diff < (5e-6 if dtype == torch.float32 else 3e-5), diff


def paged(case, meta, clean, dtype, width=None):
    return dsa.fp8_fp4_paged_mqa_logits(case.q, case.kv_cache, case.weights, case.context_lens, case.block_table,
                                        meta, case.max_context_len if width is None else width, clean, dtype,
                                        case.indices)


def use(family, path: str) -> None:
    family(*path.split("-"))
    if path.startswith("triton-sm"):  # another arch's program: skipped where this GPU cannot hold it
        from sglang_sm120_dsa.errors import ImplementationError
        from sglang_sm120_dsa.triton import config

        try:
            config.arch_of(torch.device("cuda"))
        except ImplementationError as e:
            pytest.skip(str(e))


def run_paged(family, case, path, *, clean=True, dtype=torch.float32, num_sms=None):
    use(family, path)
    meta = dsa.get_paged_mqa_logits_metadata(case.context_lens, case.kv_bf16.shape[1],
                                             num_sms or dsa.get_num_sms(), case.indices)
    return paged(case, meta, clean, dtype)


def reference_paged(family, case):
    family("torch")
    return paged(case, torch.zeros(2, 2, dtype=torch.int32, device="cuda"), True, torch.float32)


@pytest.mark.parametrize("fragment", [False, True])
def test_byte_path_ptx_decoder_every_e4m3_byte(fragment) -> None:
    """The byte path's PTX decoder on all 256 codes, in its K orders (the logits tests cannot see a permutation)."""
    from sglang_sm120_dsa.testing.triton_probes import assert_decoded_e4m3
    from sglang_sm120_dsa.testing.triton_probes import decode_every_e4m3_byte

    assert_decoded_e4m3(*decode_every_e4m3_byte("cuda", asm=True, fragment=fragment))


@pytest.mark.parametrize("fragment", [False, True])
def test_fp4_ptx_decoder_every_code_and_scale(fragment) -> None:
    """The MXFP4 PTX decoder on every code at every position under all 256 scale bytes, in its K orders."""
    from sglang_sm120_dsa.testing.triton_probes import assert_decoded_fp4
    from sglang_sm120_dsa.testing.triton_probes import decode_every_fp4

    assert_decoded_fp4(*decode_every_fp4("cuda", asm=True, fragment=fragment))


PAGED_GRID = [  # heads, head_dim, block_kv, next_n, lens_2d, fp4, varlen
    (64, 128, 64, 1, True, False, False), (64, 128, 64, 2, False, False, False), (32, 128, 32, 3, True, False, False),
    (16, 64, 128, 6, False, False, False), (128, 128, 64, 2, True, False, False), (8, 64, 32, 1, False, False, False),
    (64, 64, 128, 8, True, False, False), (32, 128, 64, 1, True, False, True), (64, 128, 64, 1, True, True, False),
    (64, 128, 32, 2, False, True, False), (16, 64, 64, 1, True, True, True), (128, 64, 128, 4, True, True, False)]


def _paged_id(mode, heads, head_dim, block_kv, next_n, lens_2d, fp4, varlen) -> str:
    """A case's id, naming its MXFP4 and varlen cases (``-k fp4`` selects them)."""
    return (f"{mode}-H{heads}-D{head_dim}-page{block_kv}-n{next_n}-{'2d' if lens_2d else '1d'}"
            + ("-fp4" if fp4 else "") + ("-varlen" if varlen else ""))


@pytest.mark.parametrize("mode,heads,head_dim,block_kv,next_n,lens_2d,fp4,varlen",
                         [pytest.param(m, *case, id=_paged_id(m, *case))
                          for case in PAGED_GRID for m in PATHS if m in FP4_PATHS or not case[5]])
def test_paged_against_reference(family, record_property, mode, heads, head_dim, block_kv, next_n, lens_2d, fp4,
                                 varlen) -> None:
    case = make_paged_case(24, next_n, heads, head_dim, block_kv, avg_context=3000, lens_2d=lens_2d, fp4=fp4,
                           varlen=varlen, seed=heads + next_n, device="cuda")
    ref = reference_paged(family, case)
    invalid = case.invalid_mask()
    for clean, dtype in ((True, torch.float32), (False, torch.bfloat16)):
        out = run_paged(family, case, mode, clean=clean, dtype=dtype)
        check(out, ref, invalid, clean=clean, dtype=dtype, record=record_property if dtype == torch.float32 else None)
    bf16_ref = case.bf16_reference()
    assert calc_diff(out, bf16_ref, invalid) < (0.02 if fp4 else 1e-3)


@pytest.mark.parametrize("arch", [80, 89, 120])
def test_emulated_path_runs_that_archs_program(family, arch) -> None:
    """The triton-sm<arch> paths are what they claim: the paged and ragged kernels that ran were lowered for that arch
    (Triton's ``arch`` option: its TritonGPU and LLVM IR, tests/cpu/test_triton_aot.py) with mma.sync, no wgmma,
    and in that arch's operand mode (FP8 operands from SM89 on, bytes before)."""
    from sglang_sm120_dsa.triton.kernels.paged import _dsa_paged_mqa_logits_kernel
    from sglang_sm120_dsa.triton.kernels.ragged import _dsa_mqa_logits_kernel

    case = make_paged_case(3, 2, 64, 128, 64, avg_context=500, seed=arch, device="cuda")
    run_paged(family, case, f"triton-sm{arch}")
    rcase = make_ragged_case(64, 256, 64, 128, seed=arch, device="cuda")
    dsa.fp8_fp4_mqa_logits(rcase.q, rcase.kv, rcase.weights, rcase.ks, rcase.ke, True, 0)
    torch.cuda.synchronize()
    for kernel in (_dsa_paged_mqa_logits_kernel, _dsa_mqa_logits_kernel):
        compiled = [k for cache in kernel.device_caches.values() for k in cache[0].values()
                    if getattr(k, "metadata", None) is not None and k.metadata.arch == f"sm{arch}"]
        assert compiled, f"no {kernel.fn.__name__} lowered for sm_{arch} ran"
        for k in compiled:
            assert "mma.sync" in k.asm["ptx"] and "wgmma" not in k.asm["ptx"], k.metadata.name
        fp8 = [k for k in compiled if k.src.signature.get("kv_ptr") == "*fp8e4nv"]  # (launch._operand)
        assert bool(fp8) == (arch >= 89), "operand mode"
        assert all("e4m3.e4m3" in k.asm["ptx"] for k in fp8), "FP8 operands, not FP8 MMA"
        assert arch >= 89 or not any("e4m3" in k.asm["ptx"] for k in compiled), "FP8 in sm_80's program"


# The tables' sm90 buckets (H=64, D=128): batch, next_n, 2-D lengths, page size; the byte path's are next_n 2's (B=1
# its own: 2 programs per SM) and next_n 1's from B=2 to 32
SM90_CASES = [(8, 1, True, 64), (24, 1, False, 128), (200, 1, True, 64), (100, 1, False, 128), (1, 2, True, 64),
              (4, 2, True, 128), (24, 2, False, 64), (100, 2, True, 64)]


@pytest.fixture
def plans_cleared():
    """The paged plan cache (keyed without the tables) empty before and after a test that changes the tables."""
    from sglang_sm120_dsa.triton import launch

    launch._paged_plan.cache_clear()
    yield
    launch._paged_plan.cache_clear()


def sm90_sums(monkeypatch, sums: str) -> None:
    """Every ``sm90`` section of the tables with ``"sums": sums`` for this test ("table": as they are); use with
    ``plans_cleared``."""
    from sglang_sm120_dsa.triton import launch

    if sums == "table":
        return
    table = launch.paged_tiles

    def tiles(*args):
        entry = table(*args)
        return {**entry, "sm90": {**entry["sm90"], "sums": sums}} if "sm90" in entry else entry

    monkeypatch.setattr(launch, "paged_tiles", tiles)


@pytest.mark.parametrize("sums", ["table", "tf32"])
@pytest.mark.parametrize("path,batch,next_n,lens_2d,block_kv",
                         [("triton-native", *c) for c in SM90_CASES]
                         + [("triton-bytes", *c) for c in SM90_CASES if c[1] == 2 or c[0] <= 32])
def test_paged_sm90_kernel_against_reference(family, monkeypatch, plans_cleared, record_property, path, batch,
                                             next_n, lens_2d, block_kv, sums) -> None:
    """The Gluon wgmma kernel where the tables enable it on SM90, in both FP8 modes, on the contract's other axes
    (both length forms, 64- and 128-token pages, clean, bf16): each call must have run it (and none with
    ``SGLANG_SM120_DSA_TRITON_SM90=off``), so that a selection change cannot leave this testing the tl kernel.
    ``sums``: the head sums as the tables have them, and as tf32 wgmmas (``"sums": "tf32"``, in no table yet)."""
    if torch.cuda.get_device_capability() != (9, 0):
        pytest.skip("the Gluon kernel runs on SM90 only")
    sm90_sums(monkeypatch, sums)
    from sglang_sm120_dsa import envs
    from sglang_sm120_dsa.triton import config
    from sglang_sm120_dsa.triton import launch
    from sglang_sm120_dsa.triton.kernels.decode import MODE_BYTES
    from sglang_sm120_dsa.triton.kernels.decode import MODE_NATIVE

    ran = []
    real = launch._paged_sm90
    monkeypatch.setattr(launch, "_paged_sm90",
                        lambda *args: (ran.append((args[-1], args[0].kernel.kwargs["TF32"])), real(*args)))
    case = make_paged_case(batch, next_n, 64, 128, block_kv, avg_context=3000, lens_2d=lens_2d, seed=batch + next_n,
                           device="cuda")
    ref = reference_paged(family, case)
    invalid = case.invalid_mask()
    mode = {"triton-native": MODE_NATIVE.value, "triton-bytes": MODE_BYTES.value}[path]
    tf32 = config.sm90_tf32(launch.paged_tiles(90, mode, 64, next_n, batch)["sm90"])
    assert tf32 or sums != "tf32"
    for clean, dtype in ((True, torch.float32), (False, torch.bfloat16), (True, torch.bfloat16)):
        out = run_paged(family, case, path, clean=clean, dtype=dtype)
        assert ran == [(mode, tf32)], f"the SM90 kernel ({sums}) did not run in {path}: {ran}"
        ran.clear()
        check(out, ref, invalid, clean=clean, dtype=dtype, record=record_property if dtype == torch.float32 else None)
    assert calc_diff(run_paged(family, case, path), case.bf16_reference(), invalid) < 1e-3
    ran.clear()
    use(family, path)
    monkeypatch.setenv(envs.TRITON_SM90.name, "off")
    paged(case, dsa.get_paged_mqa_logits_metadata(case.context_lens, block_kv, dsa.get_num_sms()), True,
          torch.float32)
    assert not ran, "SGLANG_SM120_DSA_TRITON_SM90=off still ran the SM90 kernel"


@pytest.mark.parametrize("mode", PATHS + [f"{p}-fp4" for p in FP4_PATHS])
def test_ragged_against_reference(family, record_property, mode) -> None:
    fp4 = mode.endswith("-fp4")
    mode = mode.removesuffix("-fp4")
    for (seq, seq_kv, heads, head_dim), cp, compressed in itertools.product(
            [(512, 4096, 64, 128), (300, 2048, 32, 64), (256, 1024, 8, 64), (128, 2048, 128, 128)],
            [False, True], [False, True]):
        if head_dim == 32 and fp4:
            continue
        case = make_ragged_case(seq, seq_kv, heads, head_dim, cp=cp and seq % 2 == 0 and seq_kv % seq == 0,
                                compressed=compressed, fp4=fp4, seed=seq + heads, device="cuda")
        run = lambda clean, dtype, case=case: dsa.fp8_fp4_mqa_logits(  # noqa: E731
            case.q, case.kv, case.weights, case.ks, case.ke, clean, case.max_seqlen_k, dtype)
        family("torch")
        ref = run(True, torch.float32)
        use(family, mode)
        invalid = case.invalid_mask()
        for clean, dtype in ((True, torch.float32), (False, torch.bfloat16)):
            check(run(clean, dtype), ref, invalid, clean=clean, dtype=dtype)
        assert calc_diff(run(True, torch.float32), case.bf16_reference(), invalid) < (0.02 if fp4 else 1e-3)


@pytest.mark.parametrize("mode", PATHS)
def test_paged_reruns_graphs_and_sm_counts(family, mode) -> None:
    """20 bitwise-equal reruns; the same bits for 132, 100 and 7 schedule workers; capture and replay."""
    case = make_paged_case(64, 2, 64, 128, 64, context_lens=[131072] + [700] * 62 + [0], seed=1, device="cuda")
    first = run_paged(family, case, mode)
    for _ in range(19):
        assert_bitwise_equal(run_paged(family, case, mode), first, "rerun")
    invalid = case.invalid_mask()
    for num_sms in (100, 7):
        out = run_paged(family, case, mode, num_sms=num_sms)
        assert_bitwise_equal(out.masked_fill(invalid, 0), first.masked_fill(invalid, 0), f"num_sms={num_sms}")

    fresh = make_paged_case(64, 2, 64, 128, 64, context_lens=[131072] + [700] * 62 + [0], seed=2, device="cuda")
    use(family, mode)
    step = lambda: paged(case, dsa.get_paged_mqa_logits_metadata(case.context_lens, 64, 132), True,  # noqa: E731
                         torch.float32)
    graph, captured = capture(step)
    for name in ("q", "kv_cache", "weights"):
        getattr(case, name).copy_(getattr(fresh, name))
    graph.replay()
    torch.cuda.synchronize()
    assert_bitwise_equal(captured, step(), "graph replay")


@pytest.mark.parametrize("mode", [p for p in PATHS if p.startswith("triton")])
def test_paged_nonsense_metadata_writes_only_the_output(family, mode, guarded_logits) -> None:
    """Compiled code (the interpreter runs none of the PTX, such as the L2 prefetches of a program's first tile):
    whatever the metadata holds, nothing is read out of bounds (a fault would surface at the synchronize) and
    nothing is written outside the logits (guard rows and columns stay NaN)."""
    num_sms = dsa.get_num_sms()
    rng = torch.Generator().manual_seed(5)
    metas = [torch.randint(-(1 << 31), (1 << 31) - 1, (num_sms + 1, 2), generator=rng, dtype=torch.int64)
             for _ in range(3)]
    metas += [torch.randint(-3, 6, (num_sms + 1, 2), generator=rng, dtype=torch.int64) for _ in range(3)]
    metas.append(torch.tensor([(0, (1 << 31) - 1), (1, 1 << 30)] * (num_sms // 2 + 1))[:num_sms + 1])
    case = make_paged_case(4, 2, 64, 128, 64, context_lens=[40, 0, 3000, 700], seed=9, device="cuda")
    use(family, mode)
    for i, meta in enumerate(metas):
        paged(case, meta.to(torch.int32).cuda(), False, torch.float32, width=3100)
        torch.cuda.synchronize()
        guarded_logits(f"metadata {i}")


@pytest.mark.parametrize("mode", [p for p in PATHS if p.startswith("triton")])
def test_direct_launches_follow_triton_specializations(family, monkeypatch, mode) -> None:
    """triton/fastlaunch.py (forced on: SGLANG_SM120_DSA_TRITON_LAUNCH=direct, so any Triton from 3.6 is tested):
    after a class of arguments' first call through Triton's JIT, calls launch the compiled kernel directly;
    arguments Triton compiles another variant for (key scales off 16-byte alignment: a slice of the keys) get that
    variant, in either order, and every result matches the reference and its own rerun."""
    from sglang_sm120_dsa import envs
    from sglang_sm120_dsa.triton import fastlaunch
    from sglang_sm120_dsa.triton.kernels.ragged import _dsa_mqa_logits_kernel

    monkeypatch.setenv(envs.TRITON_LAUNCH.name, "direct")  # (read when a kernel is first used: none is cached yet)

    case = make_ragged_case(257, 2048, 64, 128, seed=11, device="cuda")
    shifted = (case.kv[0][1:], case.kv[1][1:])  # the values stay 16-byte aligned (128-byte rows), the scales not
    assert shifted[1].data_ptr() % 16 and not shifted[0].data_ptr() % 16
    run = lambda kv: dsa.fp8_mqa_logits(case.q, kv, case.weights, case.ks, case.ke, True)  # noqa: E731
    family("torch")
    refs = [run(case.kv), run(shifted)]
    use(family, mode)
    firsts = [run(case.kv), run(shifted)]
    for kv, first, ref in ((shifted, firsts[1], refs[1]), (case.kv, firsts[0], refs[0])):
        out = run(kv)
        assert_bitwise_equal(out, first, "direct launch against the JIT's")
        assert torch.equal(out == NEG_INF, ref == NEG_INF), "-inf mask differs"
        assert calc_diff(out, ref, ref == NEG_INF) < 5e-6
    kernels = [k for k in fastlaunch._KERNELS.values() if k.fn is _dsa_mqa_logits_kernel and k.compiled]
    assert len(kernels) == 1 and len(kernels[0].compiled) == 2, [k.compiled.keys() for k in kernels]

    paged_case = make_paged_case(3, 2, 64, 128, 64, avg_context=900, seed=12, device="cuda")
    outs = [run_paged(family, paged_case, mode) for _ in range(2)]
    assert_bitwise_equal(outs[1], outs[0], "direct launch against the JIT's")
    assert any(k.compiled for k in fastlaunch._KERNELS.values() if k.fn is not _dsa_mqa_logits_kernel
               and "H" in k.kwargs), "the paged kernel was not launched directly"


@pytest.mark.parametrize("mode", PATHS)
def test_ragged_reruns_and_graphs(family, mode) -> None:
    case = make_ragged_case(2048, 8192, 64, 128, cp=True, seed=3, device="cuda")
    use(family, mode)
    step = lambda: dsa.fp8_mqa_logits(case.q, case.kv, case.weights, case.ks, case.ke, True)  # noqa: E731
    first = step()
    for _ in range(19):
        assert_bitwise_equal(step(), first, "rerun")
    graph, captured = capture(step)
    case.kv[0].copy_(make_ragged_case(2048, 8192, 64, 128, cp=True, seed=4, device="cuda").kv[0])
    graph.replay()
    torch.cuda.synchronize()
    assert_bitwise_equal(captured, step(), "graph replay")
    assert not torch.equal(captured, first)


def test_64_bit_addressing(family) -> None:
    """Pages past 2^31 bytes of cache and logits rows past 2^31 elements: 4096 rows x 1M columns."""
    batch, width, block_kv, head_dim = 4096, 1 << 20, 64, 128
    long_pages = width // block_kv
    num_blocks = 270_000 + long_pages  # 270K pages * 8448 B > 2^31 B before the long request's pages
    gen = torch.Generator("cuda").manual_seed(5)
    kv = torch.empty(num_blocks, block_kv * (head_dim + 4), dtype=torch.uint8, device="cuda")
    kv[:, : block_kv * head_dim] = (torch.randn(num_blocks, block_kv * head_dim, device="cuda", generator=gen) * 30
                                    ).to(torch.float8_e4m3fn).view(torch.uint8)
    kv[:, block_kv * head_dim :] = (torch.rand(num_blocks, block_kv, device="cuda", generator=gen) + 0.5).view(
        torch.uint8)
    kv = kv.view(num_blocks, block_kv, 1, head_dim + 4)
    table = torch.zeros(batch, long_pages, dtype=torch.int32, device="cuda")
    table[:, 0] = torch.arange(batch, dtype=torch.int32, device="cuda")
    table[-1] = torch.arange(270_000, num_blocks, dtype=torch.int32, device="cuda")
    lens = torch.full((batch, 1), 64, dtype=torch.int32, device="cuda")
    lens[-1] = width
    q = torch.randn(batch, 1, 64, head_dim, device="cuda", generator=gen).to(torch.float8_e4m3fn)
    weights = torch.randn(batch, 64, device="cuda", generator=gen)
    for mode in PATHS:
        use(family, mode)
        meta = dsa.get_paged_mqa_logits_metadata(lens, block_kv, 132)
        out = dsa.fp8_paged_mqa_logits(q, kv, weights, lens, table, meta, width, True)
        for row, pages in ((batch - 1, table[-1]), (batch - 2, table[-2, :1])):
            k_pages = kv.view(num_blocks, -1)[pages.long()]
            k = k_pages[:, : block_kv * head_dim].view(torch.float8_e4m3fn).double().reshape(-1, head_dim)
            s = k_pages[:, block_kv * head_dim :].contiguous().view(torch.float32).double().reshape(-1)
            exact = ((q[row, 0].double() @ k.T).relu() * weights[row].double()[:, None]).sum(0) * s
            assert calc_diff(out[row, : exact.numel()].double(), exact) < 5e-6, (mode, row)
        assert (out[batch - 2, 64:] == NEG_INF).all()
        del out


@pytest.mark.parametrize("mode", PATHS)
def test_paged_against_deepgemm(deep_gemm, family, record_property, mode) -> None:
    """DeepGEMM's SM90 paged grid (24 cases), compared on each row's valid columns."""
    results = []
    for (batch, avg), next_n, heads, dtype in itertools.product(
            [(256, 8192), (256, 65536), (4096, 8192)], [1, 2], [32, 64], [torch.float32, torch.bfloat16]):
        case = make_paged_case(batch, next_n, heads, 128, 64, avg_context=avg, seed=batch + next_n + heads,
                               poison=False, device="cuda")
        meta_dg = deep_gemm.get_paged_mqa_logits_metadata(case.context_lens, 64, deep_gemm.get_num_sms())
        theirs = deep_gemm.fp8_fp4_paged_mqa_logits((case.q, None), case.kv_cache, case.weights, case.context_lens,
                                                     case.block_table, meta_dg, case.max_context_len, False, dtype)
        ours = run_paged(family, case, mode, clean=True, dtype=dtype)
        invalid = case.invalid_mask()
        assert torch.equal(ours == NEG_INF, invalid)
        diff = calc_diff(ours, theirs, invalid)
        results.append(diff)
        assert diff < (5e-6 if dtype == torch.float32 else 3e-5), (batch, avg, next_n, heads, dtype, diff)
    record_property("max_calc_diff", max(results))


@pytest.mark.parametrize("mode", PATHS)
def test_ragged_against_deepgemm(deep_gemm, family, mode) -> None:
    for seq, seq_kv, heads, head_dim, cp, compressed, dtype in [
            (2048, 8192, 64, 128, False, False, torch.float32), (2048, 8192, 32, 64, True, True, torch.bfloat16),
            (4096, 32768, 64, 128, True, False, torch.bfloat16), (8192, 65536, 64, 128, False, False, torch.float32),
            (2048, 65536, 32, 32, True, True, torch.float32)]:
        case = make_ragged_case(seq, seq_kv, heads, head_dim, cp=cp, compressed=compressed, seed=seq, device="cuda")
        clean = not compressed
        theirs = deep_gemm.fp8_fp4_mqa_logits((case.q, None), case.kv, case.weights, case.ks, case.ke, clean,
                                              case.max_seqlen_k, dtype)
        use(family, mode)
        ours = dsa.fp8_fp4_mqa_logits(case.q, case.kv, case.weights, case.ks, case.ke, clean, case.max_seqlen_k,
                                      dtype)
        invalid = case.invalid_mask()
        check(ours, theirs, invalid, clean=clean, dtype=dtype)


@pytest.mark.parametrize("context", [8192, 32768, 131072])
def test_topk_agreement_with_deepgemm(deep_gemm, family, record_property, context) -> None:
    """index_topk = 2048: the selected token sets from our logits and DeepGEMM's overlap >= 99.9%."""
    case = make_paged_case(32, 1, 64, 128, 64, context_lens=[context] * 32, seed=context, poison=False,
                           device="cuda")
    meta_dg = deep_gemm.get_paged_mqa_logits_metadata(case.context_lens, 64, deep_gemm.get_num_sms())
    theirs = deep_gemm.fp8_paged_mqa_logits(case.q, case.kv_cache, case.weights, case.context_lens,
                                            case.block_table, meta_dg, context, False)
    for mode in PATHS:
        ours = run_paged(family, case, mode, clean=True)
        shared, members = topk_overlap(ours, theirs[:, :context], 2048)
        fraction = shared / members
        record_property(f"overlap_{mode}", fraction)
        assert fraction >= 0.999, (mode, fraction)


@pytest.mark.parametrize("next_n", [1, 2])
def test_tf32_sums_against_deepgemm(deep_gemm, family, monkeypatch, plans_cleared, record_property, next_n) -> None:
    """The SM90 kernel's head sums as tf32 wgmmas (``"sums": "tf32"``, in no table yet), whose scores are truncated
    to tf32 on the way: DeepGEMM's largest SM90 shapes (calc_diff < 5e-6, 3e-5 with bf16 logits; equal masks) and
    the top-2048 sets at 8K-128K contexts (overlap >= 99.9%)."""
    if torch.cuda.get_device_capability() != (9, 0):
        pytest.skip("the Gluon kernel runs on SM90 only")
    from sglang_sm120_dsa.triton import launch

    sm90_sums(monkeypatch, "tf32")
    ran = []
    real = launch._paged_sm90
    monkeypatch.setattr(launch, "_paged_sm90", lambda *args: (ran.append(args[0].kernel.kwargs["TF32"]), real(*args)))

    def both(case, dtype):
        meta_dg = deep_gemm.get_paged_mqa_logits_metadata(case.context_lens, 64, deep_gemm.get_num_sms())
        theirs = deep_gemm.fp8_fp4_paged_mqa_logits((case.q, None), case.kv_cache, case.weights, case.context_lens,
                                                     case.block_table, meta_dg, case.max_context_len, False, dtype)
        ran.clear()
        ours = run_paged(family, case, "triton-native", clean=True, dtype=dtype)
        assert ran == [True], f"the tf32 form did not run: {ran}"
        invalid = case.invalid_mask()
        return ours, theirs.masked_fill(invalid, NEG_INF), invalid

    diffs = []
    for (batch, avg), dtype in itertools.product([(256, 8192), (64, 65536)], [torch.float32, torch.bfloat16]):
        case = make_paged_case(batch, next_n, 64, 128, 64, avg_context=avg, seed=batch + next_n, poison=False,
                               device="cuda")
        ours, theirs, invalid = both(case, dtype)
        check(ours, theirs, invalid, clean=True, dtype=dtype)
        diffs.append(calc_diff(ours, theirs, invalid))
    record_property("max_calc_diff", max(diffs))
    for context in (8192, 32768, 131072):
        case = make_paged_case(32, next_n, 64, 128, 64, context_lens=[context] * 32, seed=context, poison=False,
                               device="cuda")
        ours, theirs, _ = both(case, torch.float32)
        shared, members = topk_overlap(ours, theirs, 2048)
        fraction = shared / members
        record_property(f"overlap_{context}", fraction)
        assert fraction >= 0.999, (context, fraction)
