"""The Triton family under TRITON_INTERPRET=1, both FP8 paths and MXFP4, against the PyTorch reference.

Small shapes (the interpreter runs every program in numpy) covering every feature of the contract; the same
kernels run compiled on GPUs in tests/gpu.
"""

from __future__ import annotations

import itertools

import pytest
import torch

import sglang_sm120_dsa as dsa
from sglang_sm120_dsa import _checks
from sglang_sm120_dsa.errors import ImplementationError
from sglang_sm120_dsa.errors import IndexerArgumentError
from sglang_sm120_dsa.reference.metadata import schedule_paged_tasks
from sglang_sm120_dsa.testing import assert_bitwise_equal
from sglang_sm120_dsa.testing import assert_logits_match
from sglang_sm120_dsa.testing import make_paged_case
from sglang_sm120_dsa.testing import make_ragged_case
from sglang_sm120_dsa.triton.interpreter import unsupported_reason

NEG_INF = float("-inf")
MODES = ["native", "bytes"]

pytestmark = pytest.mark.skipif(unsupported_reason() is not None, reason=str(unsupported_reason()))


def paged(case, meta, *, clean=True, dtype=torch.float32, width=None):
    return dsa.fp8_fp4_paged_mqa_logits(case.q, case.kv_cache, case.weights, case.context_lens, case.block_table,
                                        meta, case.max_context_len if width is None else width, clean, dtype,
                                        case.indices)


def compare_paged(family, case, mode, *, num_sms=4, clean=True, dtype=torch.float32, width=None):
    """Triton (with its own metadata) against the reference in fp32, which is exact to ~1e-15."""
    family("torch")
    ref = paged(case, torch.zeros(2, 2, dtype=torch.int32), clean=True, width=width)
    family("triton", mode)
    meta = dsa.get_paged_mqa_logits_metadata(case.context_lens, case.kv_bf16.shape[1], num_sms, case.indices)
    out = paged(case, meta, clean=clean, dtype=dtype, width=width)
    assert out.dtype == dtype
    assert_logits_match(out, ref.double(), clean=clean)
    return out


@pytest.mark.parametrize("fragment", [False, True])
def test_byte_path_decodes_every_e4m3_byte_in_order(fragment) -> None:
    """The kernels' tests cannot see how head_dim is ordered (q and keys share the decoder, and a dot product does
    not care), nor a rare byte decoded wrong by a little; this checks all 256 codes, in memory order and in the K
    order of the MMA's register fragment, against its spec. The PTX decoder gets the same check on a GPU (tests/gpu)."""
    from sglang_sm120_dsa.testing.triton_probes import assert_decoded_e4m3
    from sglang_sm120_dsa.testing.triton_probes import decode_every_e4m3_byte

    assert_decoded_e4m3(*decode_every_e4m3_byte("cpu", asm=False, fragment=fragment))


@pytest.mark.parametrize("fragment", [False, True])
def test_fp4_decoder_gives_every_code_under_every_scale_in_order(fragment) -> None:
    """MXFP4 likewise: every code at every position of a word under all 256 scale bytes, four per row, in memory
    order and in the fragment's K order (plain Triton here; tests/cpu/test_ptx_decoders.py runs the PTX decoder's
    text on a model of its instructions, tests/gpu the compiled one)."""
    from sglang_sm120_dsa.testing.triton_probes import assert_decoded_fp4
    from sglang_sm120_dsa.testing.triton_probes import decode_every_fp4

    assert_decoded_fp4(*decode_every_fp4("cpu", asm=False, fragment=fragment))


@pytest.mark.parametrize("k", [64, 128])
def test_fp4_fragment_order_gives_each_fragment_lane_a_quarter_row(k) -> None:
    from sglang_sm120_dsa.testing.triton_probes import operand_k_order

    order = operand_k_order(k, fragment=True, per_word=8)
    assert sorted(order.tolist()) == list(range(k))
    assert torch.equal(order // (k // 4), torch.arange(k) % 8 // 2)


@pytest.mark.parametrize("k", [32, 64, 128])
def test_fragment_k_order_gives_each_fragment_lane_a_quarter_row(k) -> None:
    """The point of the order: lane q of a wgmma or m16n8k16 fragment row (K indices n with n % 8 // 2 == q) gets
    exactly the contiguous quarter q of the row, so it loads whole 16-byte words; and every byte lands exactly
    once."""
    from sglang_sm120_dsa.testing.triton_probes import operand_k_order

    order = operand_k_order(k, fragment=True)
    assert sorted(order.tolist()) == list(range(k))
    assert torch.equal(order // (k // 4), torch.arange(k) % 8 // 2)


LENGTHS = [0, 1, 63, 64, 65, 31, 129, 200, 97]


@pytest.fixture
def one_page_tiles(monkeypatch):
    """The default tile entry with ``one_page``: pages of 64 or more tokens then take the one-page form, 32-token
    pages still the page window (the tables set it per entry)."""
    from sglang_sm120_dsa.triton import config

    monkeypatch.setitem(config.PAGED_TILE_DEFAULT, "one_page", True)


@pytest.mark.parametrize("mode", MODES + ["fp4"])
@pytest.mark.parametrize("heads,head_dim,block_kv,next_n,lens_2d", [
    (64, 128, 64, 1, True), (64, 128, 64, 2, False), (32, 128, 32, 3, True), (16, 64, 128, 6, False),
    (128, 128, 64, 2, True), (8, 64, 32, 1, False), (64, 64, 128, 8, True)])
@pytest.mark.parametrize("one_page", [False, True])
def test_paged(family, mode, heads, head_dim, block_kv, next_n, lens_2d, one_page, request) -> None:
    if one_page:
        request.getfixturevalue("one_page_tiles")
    fp4 = mode == "fp4"
    case = make_paged_case(3, next_n, heads, head_dim, block_kv, context_lens=LENGTHS[next_n % 4: next_n % 4 + 3],
                           lens_2d=lens_2d, fp4=fp4, seed=heads + next_n)
    compare_paged(family, case, "auto" if fp4 else mode)


@pytest.mark.parametrize("mode", MODES + ["fp4"])
@pytest.mark.parametrize("clean,dtype", list(itertools.product([True, False], [torch.float32, torch.bfloat16])))
def test_paged_clean_and_dtypes(family, mode, clean, dtype) -> None:
    case = make_paged_case(4, 2, 32, 128, 64, context_lens=[130, 0, 64, 1], fp4=mode == "fp4", seed=3)
    compare_paged(family, case, "auto" if mode == "fp4" else mode, clean=clean, dtype=dtype, width=300)


@pytest.mark.parametrize("mode", MODES + ["fp4"])
def test_paged_varlen(family, mode) -> None:
    case = make_paged_case(12, 1, 32, 128, 64, context_lens=[70, 3, 0, 130, 64, 65, 1, 90, 200, 5, 63, 10],
                           varlen=True, fp4=mode == "fp4", seed=4)
    assert case.indices.unique().numel() < 12
    compare_paged(family, case, "auto" if mode == "fp4" else mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("block_kv", [32, 64])  # tiles over two pages (the window), tiles in one page
def test_paged_long_and_empty_requests_many_splits(family, mode, block_kv, one_page_tiles) -> None:
    """A request much longer than the split size among empty and short ones, on several SM counts."""
    case = make_paged_case(5, 2, 16, 64, block_kv, context_lens=[0, 1400, 0, 3, 600], seed=5)
    outs = [compare_paged(family, case, mode, num_sms=n) for n in (1, 3, 16)]
    for other in outs[1:]:
        assert_bitwise_equal(other, outs[0], "results for different num_sms")


@pytest.mark.parametrize("mode", MODES)
def test_paged_shares_start_inside_tasks_and_pages(family, mode, one_page_tiles, monkeypatch) -> None:
    """With one-page tiles an SM's programs share its range in 64-token tile slots, not whole tasks: on one SM, 3
    programs cut a 1000-token request's two 512-token tasks (16 slots) at slots 5 and 10, tokens 320 and 640, inside
    128-token pages. Against the reference, and bitwise equal across SM and program counts."""
    from sglang_sm120_dsa.triton import config
    from sglang_sm120_dsa.triton import launch

    assert config.PAGED_FAMILY_DEFAULT["split_kv"] == 512  # (no table on CPU)
    case = make_paged_case(3, 2, 16, 64, 128, context_lens=[1000, 70, 5], seed=10)
    outs = []
    for programs in (3, 2):
        monkeypatch.setattr(launch, "paged_tiles",
                            lambda *a, p=programs: {**config.PAGED_TILE_DEFAULT, "programs_per_sm": p})
        outs += [compare_paged(family, case, mode, num_sms=n) for n in (1, 2, 7)]
    for other in outs[1:]:
        assert_bitwise_equal(other, outs[0], "results for different SM or program counts")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("split", [128, 4096])
def test_paged_split_spans_several_page_windows(family, mode, split, monkeypatch) -> None:
    """A run reads its page ids 64 pages at a time: with 32-token pages, a 4096-token split spans two windows, and
    a run of 128-token splits spans them too; the table row ends inside the second window."""
    from sglang_sm120_dsa.triton import launch

    monkeypatch.setattr(launch, "paged_family", lambda arch, batch: {"split_kv": split})
    case = make_paged_case(3, 1, 16, 64, 32, context_lens=[2600, 5, 1100], seed=8)
    assert 64 * 32 < 2600 < case.block_table.shape[1] * 32 < 2 * 64 * 32  # the second window overruns the row
    compare_paged(family, case, mode, num_sms=1)


@pytest.mark.parametrize("meta_rows", [
    [(0, 1 << 30)] * 4,
    [(-7, -3), (2, 5), (1, (1 << 31) - 1), (1 << 30, 0)],
    [(3, 0), (0, 0), (2, 1 << 20), (-(1 << 31), 1 << 30)],
    [(0, 0), (1, (1 << 31) - 1), (1, (1 << 31) - 1), (3, 0)],  # the task count overflows int32
    "random"])
@pytest.mark.parametrize("block_kv", [32, 64])
def test_paged_nonsense_metadata_writes_only_the_output(family, meta_rows, block_kv, monkeypatch,
                                                        guarded_logits, one_page_tiles) -> None:
    """Whatever the metadata holds (it is a tensor the caller may get wrong), the kernel writes nowhere but the
    returned logits: guard rows and columns around them stay NaN. The values written are unspecified."""
    from sglang_sm120_dsa.triton import config
    from sglang_sm120_dsa.triton import launch

    # 3 programs per SM: an overflowed task count then splits into shares that are not multiples of 2**32 tokens
    monkeypatch.setattr(launch, "paged_tiles", lambda *a: {**config.PAGED_TILE_DEFAULT, "programs_per_sm": 3})
    if meta_rows == "random":
        meta = torch.randint(-(1 << 31), (1 << 31) - 1, (4, 2), generator=torch.Generator().manual_seed(3),
                             dtype=torch.int64).to(torch.int32)
    else:
        meta = torch.tensor(meta_rows, dtype=torch.int32)
    case = make_paged_case(3, 2, 16, 64, block_kv, context_lens=[40, 0, 300], seed=9)
    for mode in MODES:
        family("triton", mode)
        paged(case, meta, clean=False, width=310)
        guarded_logits(mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("block_kv", [32, 64])
def test_paged_edges(family, mode, block_kv, one_page_tiles) -> None:
    """Width narrower/wider than the contexts, contexts beyond the table, negative lengths, strided inputs."""
    case = make_paged_case(3, 1, 16, 64, block_kv, context_lens=[64, 10, 64], seed=6)
    case.context_lens = torch.tensor([[1000], [-4], [50]], dtype=torch.int32)  # table holds 64 tokens per request
    for width in (40, 64, 150):
        compare_paged(family, case, mode, width=width)
    nb, bkv, _, row = case.kv_cache.shape
    padded = torch.zeros(nb, bkv * row + 48, dtype=torch.uint8)
    padded[:, : bkv * row] = case.kv_cache.reshape(nb, -1)
    case.kv_cache = padded[:, : bkv * row].view(nb, bkv, 1, row)
    case.weights = torch.zeros(3, 24)[:, 5:21].copy_(case.weights)
    table = torch.zeros(6, case.block_table.shape[1], dtype=torch.int32)
    table[::2] = case.block_table
    case.block_table = table[::2]
    compare_paged(family, case, mode, width=100)


@pytest.mark.parametrize("clean", [True, False])
def test_paged_block_table_without_columns(family, one_page_tiles, poisoned_logits, monkeypatch, clean) -> None:
    """A table with no columns addresses no token: the logits kernel does not run (its page-id loads need a column),
    the cleaner writes -inf everywhere, or nothing is written."""
    from sglang_sm120_dsa.triton import launch

    case = make_paged_case(2, 1, 16, 64, 64, context_lens=[10, 70], seed=10)
    meta = dsa.get_paged_mqa_logits_metadata(case.context_lens, 64, 2)
    grids = []
    kernel = launch._dsa_paged_mqa_logits_kernel
    monkeypatch.setattr(launch, "_dsa_paged_mqa_logits_kernel",
                        type("Spy", (), {"__getitem__": lambda self, grid: grids.append(grid) or kernel[grid]})())
    family("triton")
    out = dsa.fp8_paged_mqa_logits(case.q, case.kv_cache, case.weights, case.context_lens, case.block_table[:, :0],
                                   meta, 80, clean_logits=clean)
    assert grids == []
    assert (torch.isneginf(out).all() if clean else torch.isnan(out).all()), out


@pytest.mark.parametrize("block_kv", [32, 64])
def test_paged_poisoned_buffer(family, poisoned_logits, block_kv, one_page_tiles) -> None:
    case = make_paged_case(3, 2, 16, 64, block_kv, context_lens=[0, 33, 90], seed=7)
    for clean in (True, False):
        family("triton")
        meta = dsa.get_paged_mqa_logits_metadata(case.context_lens, block_kv, 3)
        out = paged(case, meta, clean=clean, width=95)
        buf, width = poisoned_logits[-1]
        assert torch.isnan(buf[:, width:]).all(), "wrote past the returned width"
        written = ~torch.isnan(out)
        if clean:
            assert written.all()
        else:  # every valid entry is written; the rest is unspecified
            valid = torch.arange(95)[None, :] < case.row_lengths()[:, None]
            assert written[valid].all()


RAGGED_SHAPES = [(64, 128), (32, 64), (8, 32), (128, 128), (16, 64)]


@pytest.mark.parametrize("mode,heads,head_dim", [(m, h, d) for m in MODES + ["fp4"] for h, d in RAGGED_SHAPES
                                                 if m != "fp4" or d != 32])  # MXFP4 head_dim is 64 or 128
@pytest.mark.parametrize("cp,compressed", [(False, False), (True, False), (True, True), (False, True)])
def test_ragged(family, mode, heads, head_dim, cp, compressed) -> None:
    fp4 = mode == "fp4"
    case = make_ragged_case(8, 96, heads, head_dim, cp=cp, compressed=compressed, fp4=fp4, seed=heads + head_dim)
    run = lambda clean, dtype: dsa.fp8_fp4_mqa_logits(  # noqa: E731
        case.q, case.kv, case.weights, case.ks, case.ke, clean, case.max_seqlen_k, dtype)
    family("torch")
    ref = run(True, torch.float32)
    family("triton", "auto" if fp4 else mode)
    for clean, dtype in ((True, torch.float32), (False, torch.bfloat16)):
        assert_logits_match(run(clean, dtype), ref.double(), clean=clean)


@pytest.mark.parametrize("mode", MODES)
def test_ragged_arbitrary_windows(family, mode, poisoned_logits) -> None:
    ks = torch.tensor([-5, 0, 10, 40, 50, 90, 0, 7, 3], dtype=torch.int32)
    ke = torch.tensor([3, 0, 60, 30, 50, 500, 100, 8, 99], dtype=torch.int32)
    for compressed in (False, True):
        case = make_ragged_case(9, 100, 32, 64, ks=ks, ke=ke, compressed=compressed, seed=8)
        for msk in ((20, 130) if compressed else (0,)):
            for clean in (True, False):
                run = lambda: dsa.fp8_mqa_logits(case.q, case.kv, case.weights, case.ks, case.ke, clean, msk)  # noqa
                family("torch")
                ref = run()
                family("triton", mode)
                out = run()
                assert_logits_match(out, ref.double(), clean=clean)
                buf, width = poisoned_logits[-1]
                assert torch.isnan(buf[:, width:]).all(), "wrote past the returned width"


@pytest.mark.parametrize("lane_sums", [False, True])
def test_ragged_head_sum_forms(family, monkeypatch, lane_sums) -> None:
    """The one-dot ragged kernel's two head-sum forms (config.ragged_lane_sums: FFMA chains over each lane's columns
    where the accumulator has the MMA layout, tl.sum's tree on tcgen05), 1 to 16 query rows per dot."""
    from sglang_sm120_dsa.triton import config
    from sglang_sm120_dsa.triton import launch

    monkeypatch.setattr(config, "ragged_lane_sums", lambda arch, block_kv: lane_sums)
    monkeypatch.setattr(config, "ragged_row_dots", lambda arch, heads: False)
    launch._ragged_plan.cache_clear()
    try:
        for heads, head_dim in ((8, 32), (16, 64), (64, 64), (128, 32)):
            case = make_ragged_case(8, 96, heads, head_dim, cp=True, seed=heads)
            family("torch")
            ref = dsa.fp8_mqa_logits(case.q, case.kv, case.weights, case.ks, case.ke, True)
            family("triton")
            out = dsa.fp8_mqa_logits(case.q, case.kv, case.weights, case.ks, case.ke, True)
            assert_logits_match(out, ref.double(), clean=True)
    finally:
        launch._ragged_plan.cache_clear()


def test_ragged_many_chunks_and_rows(family) -> None:
    """More columns than one program's chunk and rows that do not fill the last row block."""
    from sglang_sm120_dsa.triton import config

    case = make_ragged_case(5, 300, 64, 64, cp=False, seed=9)
    family("torch")
    ref = dsa.fp8_mqa_logits(case.q, case.kv, case.weights, case.ks, case.ke, True)
    family("triton")
    old = dict(config.RAGGED_TILE_DEFAULT)
    config.RAGGED_TILE_DEFAULT.update(chunk=64, block_kv=32)
    try:
        out = dsa.fp8_mqa_logits(case.q, case.kv, case.weights, case.ks, case.ke, True)
    finally:
        config.RAGGED_TILE_DEFAULT.update(old)
    assert_logits_match(out, ref.double(), clean=True)


def _family_split(batch: int) -> int:
    from sglang_sm120_dsa.triton import config

    return config.paged_family(None, batch)["split_kv"]


@pytest.mark.parametrize("batch,next_n,two_d,num_sms", [
    (0, 1, False, 4), (1, 1, True, 1), (3, 2, True, 7), (37, 3, True, 20), (200, 1, False, 16), (300, 8, True, 33),
    (129, 2, False, 132), (1100, 2, True, 132)])
def test_metadata_kernel_matches_scheduler(family, batch, next_n, two_d, num_sms) -> None:
    gen = torch.Generator().manual_seed(batch + num_sms)
    lens = torch.randint(-2, 3000, (batch, next_n) if two_d else (batch,), generator=gen, dtype=torch.int32)
    lens[torch.rand(lens.shape, generator=gen) < 0.2] = 0
    family("triton")
    meta = dsa.get_paged_mqa_logits_metadata(lens, 64, num_sms)
    call = _checks.check_metadata(lens, 64, num_sms, None)
    assert torch.equal(meta, schedule_paged_tasks(call, split_kv=_family_split(batch), atom=8))


@pytest.mark.parametrize("batch,seed", [(9, 0), (150, 1), (300, 2), (700, 3)])
def test_metadata_kernel_varlen(family, batch, seed) -> None:
    """Runs across B_CHUNK boundaries, including a run longer than one atom and ids that come back later."""
    gen = torch.Generator().manual_seed(seed)
    sizes = torch.randint(1, 12, (batch,), generator=gen).tolist()
    ids: list[int] = []
    while len(ids) < batch:
        ids += [len(ids) % 5] * sizes[len(ids)]  # ids repeat non-consecutively: only runs count
    indices = torch.tensor(ids[:batch], dtype=torch.int32)
    lens = torch.randint(0, 2500, (batch,), generator=gen, dtype=torch.int32)
    family("triton")
    meta = dsa.get_paged_mqa_logits_metadata(lens, 64, 11, indices)
    call = _checks.check_metadata(lens, 64, 11, indices)
    assert torch.equal(meta, schedule_paged_tasks(call, split_kv=_family_split(batch), atom=8))


def test_metadata_chunk_by_batch_and_every_chunk_agrees(family, monkeypatch) -> None:
    """The batch picks the slots per pass (one pass up to 512 slots); more passes give the same schedule."""
    from sglang_sm120_dsa.triton import launch
    from sglang_sm120_dsa.triton.config import metadata_launch

    def forced(chunk):
        monkeypatch.setattr(launch, "metadata_launch",
                            lambda num_slots, row_lens: ({**metadata_launch(1, row_lens)[0], "B_CHUNK": chunk}, 4))
        return launch.get_paged_mqa_logits_metadata(call)

    assert [metadata_launch(b, 2)[0]["B_CHUNK"] for b in (0, 1, 128, 129, 256, 257, 512, 513, 4096)] == \
        [128, 128, 128, 256, 256, 512, 512, 512, 512]
    # the row class holds every length of a row (NEXT_N_P2 >= lengths per row): 2 up to 2, else 8
    assert [metadata_launch(1, r)[0]["NEXT_N_P2"] for r in range(1, 9)] == [2, 2, 8, 8, 8, 8, 8, 8]
    gen = torch.Generator().manual_seed(4)
    lens = torch.randint(0, 9000, (300, 2), generator=gen, dtype=torch.int32)
    family("triton")
    call = _checks.check_metadata(lens, 64, 40, None)
    metas = [forced(chunk) for chunk in (128, 256, 512)]  # 3, 2 and 1 passes
    assert all(torch.equal(m, metas[0]) for m in metas)
    assert torch.equal(metas[0], schedule_paged_tasks(call, split_kv=_family_split(300), atom=8))


def test_fp8_mode_selection(monkeypatch) -> None:
    from sglang_sm120_dsa.triton import config

    cuda = torch.device("cuda", 0)
    monkeypatch.setattr(config, "arch_of", lambda device: 80)
    for value, expected in (("auto", 1), ("bytes", 1)):
        monkeypatch.setenv("SGLANG_SM120_DSA_TRITON_FP8", value)
        assert config.fp8_mode(cuda) == expected
    monkeypatch.setenv("SGLANG_SM120_DSA_TRITON_FP8", "native")
    with pytest.raises(ImplementationError, match="FP8 tensor-core operands need SM89 or newer, this is sm_80"):
        config.fp8_mode(cuda)
    monkeypatch.setattr(config, "arch_of", lambda device: 120)
    assert config.fp8_mode(cuda) == 0
    monkeypatch.setenv("SGLANG_SM120_DSA_TRITON_FP8", "fast")
    with pytest.raises(ImplementationError, match="SGLANG_SM120_DSA_TRITON_FP8='fast' is not valid"):
        config.fp8_mode(cuda)


def test_rows_per_group() -> None:
    from sglang_sm120_dsa.triton.config import rows_per_group

    assert [rows_per_group(64, n) for n in (1, 2, 3, 8)] == [1, 2, 2, 2]
    assert [rows_per_group(32, n) for n in (1, 2, 3)] == [1, 4, 4]
    assert [rows_per_group(h, 8) for h in (8, 16, 32, 128)] == [8, 8, 4, 1]
    assert rows_per_group(8, 1) == 2  # tl.dot needs N >= 16


def test_warmup_runs_every_variant_for_the_heads(family) -> None:
    from sglang_sm120_dsa.triton.variants import kernel_variants

    family("triton")
    lines: list[str] = []
    count = dsa.warmup("cpu", num_heads=64, progress=lines.append)
    expected = [v for v in kernel_variants(None) if v.get("H") in (None, 64) and v.get("MODE") in (None, 0, 2)]
    assert count == len(expected) == len(lines) and count >= 8
    assert lines[-1].startswith(f"[{count}/{count}]")
    assert all("ONE_PAGE=False" in line for line in lines if "paged[" in line)  # (no table entry asks for it)
    with pytest.raises(IndexerArgumentError, match=r"warmup: block_kv must be one of \(32, 64, 128\), got 48"):
        dsa.warmup("cpu", block_kv=48)
    family("torch")
    assert dsa.warmup("cpu") == 0


def test_warmup_of_one_page_size(family, one_page_tiles) -> None:
    """An entry with ``one_page`` compiles two paged variants; ``block_kv`` picks the one its pages use."""
    family("triton")
    every: list[str] = []
    count = dsa.warmup("cpu", num_heads=16, progress=every.append)
    paged = [line for line in every if "paged[" in line]
    assert sum("ONE_PAGE=True" in line for line in paged) == sum("ONE_PAGE=False" in line for line in paged) > 0
    for block_kv, one in ((64, True), (32, False)):
        lines: list[str] = []
        assert dsa.warmup("cpu", num_heads=16, progress=lines.append, block_kv=block_kv) == count - len(paged) // 2
        assert all(f"ONE_PAGE={one}" in line for line in lines if "paged[" in line)
