"""Quantizers and decoders, and the reference against the bf16-input reference (DeepGEMM's 1e-3 / 0.02 bounds)."""

from __future__ import annotations

import pytest
import torch

import sglang_sm120_dsa as dsa
from sglang_sm120_dsa.reference.fp4 import decode_e2m1
from sglang_sm120_dsa.reference.fp4 import dequant_fp4
from sglang_sm120_dsa.reference.fp4 import ue8m0_scales
from sglang_sm120_dsa.testing import calc_diff
from sglang_sm120_dsa.testing import cast_to_fp4
from sglang_sm120_dsa.testing import make_paged_case
from sglang_sm120_dsa.testing import make_ragged_case
from sglang_sm120_dsa.testing.naive import e2m1_value
from sglang_sm120_dsa.testing.naive import e4m3_value


def test_e4m3_bit_decoder_matches_torch() -> None:
    ours = torch.tensor([e4m3_value(b) for b in range(256)], dtype=torch.float64)
    theirs = torch.arange(256, dtype=torch.int32).to(torch.uint8).view(torch.float8_e4m3fn).double()
    assert torch.equal(ours.isnan(), theirs.isnan()) and ours.isnan().sum() == 2
    assert torch.equal(ours.nan_to_num(), theirs.nan_to_num())


def test_e2m1_table_and_packing() -> None:
    assert [e2m1_value(c) for c in range(8)] == [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]
    packed = torch.tensor([0x21, 0xF8], dtype=torch.uint8)  # low nibble first
    assert decode_e2m1(packed).tolist() == [0.5, 1.0, -0.0, -6.0]


def test_fp4_rounding_ties_to_even_and_no_negative_zero() -> None:
    x = torch.tensor([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, -0.1, 6.0] + [0.0] * 23)
    packed, sf = cast_to_fp4(x)
    assert ((sf >> 0) & 0xFF).item() == 127  # amax 6 -> scale 1
    values = decode_e2m1(packed)[:9].tolist()
    assert values == [0.0, 1.0, 1.0, 2.0, 2.0, 4.0, 4.0, 0.0, 6.0]
    assert not (packed.view(torch.uint8)[:5] & 0x88).any()  # no sign bit on zeros


def test_fp4_scales_round_up_and_pad() -> None:
    x = torch.zeros(64)
    x[0], x[40] = 7.0, 0.3
    packed, sf = cast_to_fp4(x)
    scales = ue8m0_scales(sf)
    assert scales.tolist() == [2.0, 0.0625, 1.0, 1.0]  # 7/6 -> 2; 0.3/6 = 0.05 -> 1/16; unused bytes 127
    assert dequant_fp4(packed, sf, 64)[[0, 40]].tolist() == [8.0, 0.25]  # 3.5 ties up to 4; 4.8 -> 4


def test_ue8m0_extremes() -> None:
    words = torch.tensor([0 | (255 << 8) | (127 << 16) | (254 << 24)], dtype=torch.int64)
    words = torch.where(words >= 2**31, words - 2**32, words).to(torch.int32)
    s = ue8m0_scales(words)[0]
    assert s[0].item() == 2.0**-127 and torch.isnan(s[1]) and s[2].item() == 1.0 and s[3].item() == 2.0**127


@pytest.mark.parametrize("fp4,bound", [(False, 1e-3), (True, 0.02)])
def test_reference_close_to_bf16_inputs(fp4: bool, bound: float) -> None:
    """Quantization error of the builders at DeepGEMM's bounds: FP8 < 1e-3, MXFP4 < 0.02 (H=64, ~1.5K keys)."""
    case = make_paged_case(4, 2, 64, 128, 64, avg_context=1500, fp4=fp4, seed=1)
    meta = dsa.get_paged_mqa_logits_metadata(case.context_lens, 64, 4)
    out = dsa.fp8_fp4_paged_mqa_logits(case.q, case.kv_cache, case.weights, case.context_lens, case.block_table,
                                       meta, case.max_context_len, True)
    ref = case.bf16_reference()
    invalid = case.invalid_mask()
    assert torch.equal(out == float("-inf"), invalid) and torch.equal(ref == float("-inf"), invalid)
    assert calc_diff(out.masked_fill(invalid, 0), ref.masked_fill(invalid, 0)) < bound

    rc = make_ragged_case(128, 1024, 64, 128, cp=True, fp4=fp4, seed=2)
    out = dsa.fp8_fp4_mqa_logits(rc.q, rc.kv, rc.weights, rc.ks, rc.ke, clean_logits=True)
    invalid = rc.invalid_mask()
    assert calc_diff(out.masked_fill(invalid, 0), rc.bf16_reference().masked_fill(invalid, 0)) < bound


def test_builders_are_reproducible_and_poison_unused_table_entries() -> None:
    a = make_paged_case(5, 1, 16, 64, 32, context_lens=[10, 100, 0, 33, 64], seed=3)
    b = make_paged_case(5, 1, 16, 64, 32, context_lens=[10, 100, 0, 33, 64], seed=3)
    assert torch.equal(a.block_table, b.block_table) and torch.equal(a.kv_cache, b.kv_cache)
    used = torch.cat([a.block_table[i, : -(-n // 32)] for i, n in enumerate([10, 100, 0, 33, 64])])
    assert used.unique().numel() == used.numel() and (used >= 0).all()  # a permutation of pages
    unused = a.block_table[0, 1:]
    assert ((unused < 0) | (unused >= a.kv_cache.shape[0])).any()
