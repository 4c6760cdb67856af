"""The PyTorch reference against DeepGEMM's SM90 kernels (sgl-deep-gemm 0.1.4.post1 on H100/H200).

Metadata must be bit-identical (same scheduler). Logits: DeepGEMM's FP8 arithmetic is not IEEE (deepgemm-indexer.md
§2.3) while the reference is exact, so they agree to calc_diff < 5e-6 (3e-5 for bf16 logits) on each row's valid
columns, DeepGEMM's own bound for a kernel against the dequantized reference. Grids: deepgemm-indexer.md §6.4.
"""

from __future__ import annotations

import itertools

import pytest
import torch

import sglang_sm120_dsa as dsa
from sglang_sm120_dsa.deepgemm import as_torch
from sglang_sm120_dsa.testing import calc_diff
from sglang_sm120_dsa.testing import make_paged_case
from sglang_sm120_dsa.testing import make_ragged_case

NEG_INF = float("-inf")
pytestmark = [pytest.mark.deepgemm, pytest.mark.usefixtures("reference_family")]


def metadata_lens(batch: int, next_n: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    lens = torch.randint(0, 70000, (batch,), generator=gen, dtype=torch.int32)
    lens[torch.rand(batch, generator=gen) < 0.15] = 0
    lens[0] = max(int(lens[0]), 1)  # DeepGEMM reads out of bounds when every length is 0 and batch % 32 == 0
    cols = (lens[:, None].float() * torch.rand(batch, next_n, generator=gen)).int()
    cols[:, -1] = lens
    return cols


@pytest.mark.parametrize("batch,next_n,num_sms", list(itertools.product(
    [1, 3, 5, 31, 32, 37, 64, 100, 128, 256, 1000, 4096], [1, 2], [132, 100, 7])))
def test_metadata_bitwise(deep_gemm, batch: int, next_n: int, num_sms: int) -> None:
    lens = metadata_lens(batch, next_n, batch * 7 + next_n + num_sms).cuda()
    ours = dsa.get_paged_mqa_logits_metadata(lens, 64, num_sms)
    theirs = as_torch(deep_gemm.get_paged_mqa_logits_metadata(lens, 64, num_sms))
    assert torch.equal(ours, theirs), (ours.T, theirs.T)


PAGED_GRID = [(b, avg, n, h, dt) for (b, avg), n, h, dt in itertools.product(
    [(256, 8192), (256, 65536), (4096, 8192)], [1, 2], [32, 64], [torch.float32, torch.bfloat16])]


@pytest.mark.parametrize("batch,avg,next_n,heads,dtype", PAGED_GRID)
def test_paged_logits(deep_gemm, record_property, batch, avg, next_n, heads, dtype) -> None:
    case = make_paged_case(batch, next_n, heads, 128, 64, avg_context=avg, seed=batch + avg + next_n + heads,
                           poison=False, device="cuda")
    meta_dg = as_torch(deep_gemm.get_paged_mqa_logits_metadata(case.context_lens, 64, deep_gemm.get_num_sms()))
    theirs = as_torch(deep_gemm.fp8_fp4_paged_mqa_logits((case.q, None), case.kv_cache, case.weights,
                                                         case.context_lens, case.block_table, meta_dg,
                                                         case.max_context_len, False, dtype))
    meta = dsa.get_paged_mqa_logits_metadata(case.context_lens, 64, dsa.get_num_sms())
    ours = dsa.fp8_fp4_paged_mqa_logits(case.q, case.kv_cache, case.weights, case.context_lens, case.block_table,
                                        meta, case.max_context_len, True, dtype)
    assert ours.shape == theirs.shape and ours.stride() == theirs.stride()
    invalid = case.invalid_mask()
    assert torch.equal(ours == NEG_INF, invalid)
    diff = calc_diff(ours, theirs, invalid)
    record_property("calc_diff", diff)
    assert diff < (5e-6 if dtype == torch.float32 else 3e-5), diff


# A spread of DeepGEMM's 192 SM90 ragged cases covering every value of every axis, the largest shape included. Each
# distinct (H, D, compressed, clean, dtype) is a DeepGEMM JIT compilation, so the spread is kept small.
RAGGED_SAMPLE = [  # seq, seq_kv, heads, head_dim, cp, (compressed, clean), logits dtype
    (2048, 8192, 32, 32, False, (False, True), torch.float32),
    (2048, 8192, 64, 64, True, (True, False), torch.bfloat16),
    (2048, 65536, 32, 128, True, (False, True), torch.bfloat16),
    (8192, 8192, 64, 128, False, (True, False), torch.float32),
    (8192, 65536, 64, 128, True, (False, True), torch.float32),
    (8192, 65536, 64, 128, False, (True, False), torch.float32),
    (2048, 8192, 64, 32, True, (True, False), torch.float32),
    (8192, 8192, 32, 64, True, (False, True), torch.float32),
    (2048, 65536, 64, 128, False, (False, True), torch.bfloat16),
    (8192, 65536, 32, 128, True, (True, False), torch.bfloat16),
]


@pytest.mark.parametrize("seq,seq_kv,heads,head_dim,cp,compressed_clean,dtype", RAGGED_SAMPLE)
def test_ragged_logits(deep_gemm, record_property, seq, seq_kv, heads, head_dim, cp, compressed_clean, dtype) -> None:
    compressed, clean = compressed_clean
    case = make_ragged_case(seq, seq_kv, heads, head_dim, cp=cp, compressed=compressed, seed=seq + seq_kv + heads,
                            device="cuda")
    theirs = as_torch(deep_gemm.fp8_fp4_mqa_logits((case.q, None), case.kv, case.weights, case.ks, case.ke, clean,
                                                   case.max_seqlen_k, dtype))
    ours = dsa.fp8_fp4_mqa_logits(case.q, case.kv, case.weights, case.ks, case.ke, clean, case.max_seqlen_k, dtype)
    assert ours.shape == theirs.shape
    invalid = case.invalid_mask()
    if clean:
        assert torch.equal(theirs == NEG_INF, invalid) and torch.equal(ours == NEG_INF, invalid)
    diff = calc_diff(ours, theirs, invalid)
    record_property("calc_diff", diff)
    assert diff < (5e-6 if dtype == torch.float32 else 3e-5), diff
