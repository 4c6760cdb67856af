"""The PyTorch reference of the paged ops against the independent float64 brute force, on the issue's grid."""

from __future__ import annotations

import itertools

import pytest
import torch

import sglang_sm120_dsa as dsa
from sglang_sm120_dsa import _checks
from sglang_sm120_dsa.reference import paged_mqa_logits as ref_paged
from sglang_sm120_dsa.testing import assert_logits_match
from sglang_sm120_dsa.testing import calc_diff
from sglang_sm120_dsa.testing import make_paged_case
from sglang_sm120_dsa.testing import naive_paged_logits

NEG_INF = float("-inf")

# Context lengths around the page boundaries, 0 and 1 included, plus other non-multiples of every page size.
EDGE_LENGTHS = [0, 1, 63, 64, 65, 31, 33, 127, 129, 200, 96, 250]


def lengths_for(batch: int, offset: int) -> list[int]:
    return [EDGE_LENGTHS[(offset + i) % len(EDGE_LENGTHS)] for i in range(batch)]


def run_paged(case, *, clean: bool, logits_dtype=torch.float32, num_sms: int = 5, width: int | None = None):
    meta = dsa.get_paged_mqa_logits_metadata(case.context_lens, case.kv_bf16.shape[1], num_sms, case.indices)
    return dsa.fp8_fp4_paged_mqa_logits(case.q, case.kv_cache, case.weights, case.context_lens, case.block_table,
                                        meta, case.max_context_len if width is None else width, clean,
                                        logits_dtype, case.indices)


def oracle(case, width: int | None = None) -> torch.Tensor:
    q, q_sf = case.q if case.is_fp4 else (case.q, None)
    return naive_paged_logits(q, case.kv_cache, case.weights, case.context_lens, case.block_table,
                              case.max_context_len if width is None else width, q_sf=q_sf)


# The main axes in full product; the secondary axes rotate through their values so that each one meets
# many combinations of the main ones (the full secondary product is covered separately below).
MAIN_GRID = list(itertools.product([1, 3, 64], [1, 2, 3, 6], [16, 32, 64]))


@pytest.mark.parametrize("index", range(len(MAIN_GRID)))
def test_paged_grid(index: int) -> None:
    batch, next_n, heads = MAIN_GRID[index]
    lens_2d, clean, fp4 = index % 2 == 0, (index // 2) % 2 == 0, (index // 4) % 2 == 1
    block_kv = (32, 64, 128)[index % 3]
    head_dim = (128, 64)[(index // 3) % 2]
    logits_dtype = (torch.float32, torch.bfloat16)[(index // 5) % 2]
    case = make_paged_case(batch, next_n, heads, head_dim, block_kv, context_lens=lengths_for(batch, index),
                           lens_2d=lens_2d, fp4=fp4, seed=index)
    out = run_paged(case, clean=clean, logits_dtype=logits_dtype)
    assert out.dtype == logits_dtype
    assert_logits_match(out, oracle(case), clean=clean)


@pytest.mark.parametrize("fp4", [False, True], ids=["fp8", "fp4"])
@pytest.mark.parametrize("block_kv", [32, 64, 128])
@pytest.mark.parametrize("head_dim", [64, 128])
def test_paged_secondary_axes(fp4: bool, block_kv: int, head_dim: int) -> None:
    """Every (lens form, clean, logits dtype) for every (format, page size, head_dim), at B=3, next_n=2."""
    for i, (lens_2d, clean, dtype) in enumerate(itertools.product([True, False], [True, False],
                                                                  [torch.float32, torch.bfloat16])):
        case = make_paged_case(3, 2, 32, head_dim, block_kv, context_lens=lengths_for(3, i), lens_2d=lens_2d,
                               fp4=fp4, seed=100 + i)
        assert_logits_match(run_paged(case, clean=clean, logits_dtype=dtype), oracle(case), clean=clean)


@pytest.mark.parametrize("heads", [8, 128])
def test_paged_other_head_counts(heads: int) -> None:
    case = make_paged_case(3, 2, heads, 128, 64, context_lens=[65, 1, 190], seed=heads)
    assert_logits_match(run_paged(case, clean=True), oracle(case), clean=True)


@pytest.mark.parametrize("next_n", [4, 5, 7, 8])
def test_paged_larger_next_n(next_n: int) -> None:
    case = make_paged_case(3, next_n, 16, 64, 32, context_lens=[9, 70, 33], lens_2d=next_n % 2 == 0, seed=next_n)
    assert_logits_match(run_paged(case, clean=True), oracle(case), clean=True)


def test_paged_one_d_lens_mask() -> None:
    """1-D lens: row (b, j) sees t <= ctx[b] - next_n + j, i.e. one key fewer per earlier MTP token."""
    case = make_paged_case(2, 3, 16, 64, 32, context_lens=[5, 40], lens_2d=False, seed=1)
    out = run_paged(case, clean=True)
    valid = (out != NEG_INF).sum(dim=1).tolist()
    assert valid == [3, 4, 5, 38, 39, 40]


@pytest.mark.parametrize("fp4", [False, True], ids=["fp8", "fp4"])
def test_paged_varlen_indices(fp4: bool) -> None:
    case = make_paged_case(20, 1, 32, 128, 64, context_lens=lengths_for(20, 3), varlen=True, fp4=fp4, seed=5)
    assert case.indices is not None and case.indices.unique().numel() < 20  # some requests have several tokens
    out = run_paged(case, clean=True)
    assert_logits_match(out, oracle(case), clean=True)
    no_indices = dsa.fp8_fp4_paged_mqa_logits(case.q, case.kv_cache, case.weights, case.context_lens,
                                              case.block_table, torch.zeros(9, 2, dtype=torch.int32),
                                              case.max_context_len, True)
    assert torch.equal(out, no_indices)  # indices only steer scheduling


def test_paged_batch_64_long_and_empty_mix() -> None:
    lens = lengths_for(64, 0)
    lens[5], lens[40] = 2000, 1500
    case = make_paged_case(64, 2, 64, 128, 64, context_lens=lens, seed=9)
    assert_logits_match(run_paged(case, clean=True), oracle(case), clean=True)


def test_width_wider_and_narrower_than_contexts() -> None:
    case = make_paged_case(3, 2, 16, 64, 32, context_lens=[50, 100, 7], seed=2)
    wide = run_paged(case, clean=True, width=300)
    assert wide.shape == (6, 300) and (wide[:, 100:] == NEG_INF).all()
    assert_logits_match(wide, oracle(case, 300), clean=True)
    narrow = run_paged(case, clean=True, width=40)
    assert narrow.shape == (6, 40)
    assert_logits_match(narrow, oracle(case, 40), clean=True)
    assert torch.equal(narrow, wide[:, :40])
    empty = run_paged(case, clean=True, width=0)
    assert empty.shape == (6, 0)


def test_contexts_beyond_the_block_table_are_capped() -> None:
    case = make_paged_case(2, 1, 16, 64, 32, context_lens=[64, 64], seed=3)
    case.context_lens = torch.tensor([[1000], [-5]], dtype=torch.int32)  # table holds 2 pages = 64 tokens
    out = run_paged(case, clean=True, width=100)
    assert (out[0, :64] != NEG_INF).all() and (out[0, 64:] == NEG_INF).all()
    assert (out[1] == NEG_INF).all()  # negative length = empty
    assert_logits_match(out, oracle(case, 100), clean=True)


def test_strided_inputs() -> None:
    """Padded pages (page stride > page bytes), weights with a row stride, every other block-table row."""
    case = make_paged_case(4, 1, 16, 128, 64, context_lens=[70, 5, 130, 64], seed=4)
    nb, bkv, _, row = case.kv_cache.shape
    padded = torch.zeros(nb, bkv * row + 64, dtype=torch.uint8)
    padded[:, : bkv * row] = case.kv_cache.reshape(nb, -1)
    kv_strided = padded[:, : bkv * row].view(nb, bkv, 1, row)
    assert kv_strided.stride(0) == bkv * row + 64
    w_strided = torch.zeros(4, 40)[:, 3:19].copy_(case.weights)
    table2 = torch.zeros(8, case.block_table.shape[1], dtype=torch.int32)
    table2[::2] = case.block_table
    meta = dsa.get_paged_mqa_logits_metadata(case.context_lens, 64, 3)
    out = dsa.fp8_paged_mqa_logits(case.q, kv_strided, w_strided, case.context_lens, table2[::2], meta,
                                   case.max_context_len, True)
    assert_logits_match(out, oracle(case), clean=True)


def test_empty_batch() -> None:
    case = make_paged_case(1, 2, 16, 64, 32, context_lens=[10], seed=5)
    q = case.q[:0]
    meta = dsa.get_paged_mqa_logits_metadata(case.context_lens[:0], 32, 4)
    out = dsa.fp8_paged_mqa_logits(q, case.kv_cache, case.weights[:0], case.context_lens[:0], case.block_table[:0],
                                   meta, 16, True)
    assert out.shape == (0, 16)


def test_chunked_computation_matches(monkeypatch) -> None:
    """A workspace of a few KiB forces many (request, token) chunks; the result must not change."""
    case = make_paged_case(5, 2, 16, 64, 32, context_lens=[300, 7, 0, 129, 64], seed=6)
    full = run_paged(case, clean=True)
    calls = []
    original = ref_paged._gather_keys

    def counting(*args):
        calls.append(args[1].shape)
        return original(*args)

    monkeypatch.setattr(ref_paged, "_gather_keys", counting)
    monkeypatch.setattr(ref_paged, "WORKSPACE_BYTES", 4096)
    small = run_paged(case, clean=True)
    assert len(calls) > 10
    assert_logits_match(small, oracle(case), clean=True)
    assert calc_diff(small.masked_fill(small == NEG_INF, 0), full.masked_fill(full == NEG_INF, 0)) < 1e-12


def test_workspace_bound_for_batch_64_context_128k() -> None:
    """The chunk plan for B=64 x 128K (next_n 1 and 2, H=64, D=128) stays within the workspace budget."""
    for next_n in (1, 2):
        case = make_paged_case(64, next_n, 64, 128, 64, context_lens=[1] * 64, seed=0)
        call = _checks.check_paged("fp8_paged_mqa_logits", case.q, case.kv_cache, case.weights, case.context_lens,
                               case.block_table, torch.zeros(2, 2, dtype=torch.int32), 131072, False, torch.float32,
                               None, False)
        chunk_b, chunk_t = ref_paged._chunk_sizes(call, 131072, ref_paged.WORKSPACE_BYTES)
        nh = next_n * 64
        temporaries = chunk_b * chunk_t * (5 * 128 + 8 + 8 * nh + 12 * next_n)
        assert temporaries <= ref_paged.WORKSPACE_BYTES and chunk_t % 64 == 0
        assert 131072 // chunk_t * -(-64 // chunk_b) < 2000  # and not absurdly many Python iterations


def test_poisoned_output_buffer(poisoned_logits) -> None:
    """Every returned element is written, and nothing past the returned width in the row stride is touched."""
    case = make_paged_case(3, 2, 16, 64, 32, context_lens=[0, 33, 90], seed=8)
    for clean in (True, False):
        out = run_paged(case, clean=clean, width=95)
        buf, width = poisoned_logits[-1]
        assert not torch.isnan(out).any()
        assert torch.isnan(buf[:, width:]).all()


def test_outputs_deterministic() -> None:
    case = make_paged_case(3, 3, 32, 128, 64, context_lens=[100, 1, 250], lens_2d=False, seed=10)
    first = run_paged(case, clean=False)
    for _ in range(3):
        assert torch.equal(run_paged(case, clean=False), first)
