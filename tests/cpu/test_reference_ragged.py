"""The PyTorch reference of the ragged ops against the independent float64 brute force."""

from __future__ import annotations

import itertools

import pytest
import torch

import sglang_sm120_dsa as dsa
from sglang_sm120_dsa.testing import assert_logits_match
from sglang_sm120_dsa.testing import calc_diff
from sglang_sm120_dsa.testing import make_ragged_case
from sglang_sm120_dsa.testing import naive_ragged_logits

NEG_INF = float("-inf")


def run(case, *, clean: bool, logits_dtype=torch.float32, max_seqlen_k: int | None = None):
    msk = case.max_seqlen_k if max_seqlen_k is None else max_seqlen_k
    return dsa.fp8_fp4_mqa_logits(case.q, case.kv, case.weights, case.ks, case.ke, clean, msk, logits_dtype)


def oracle(case, max_seqlen_k: int | None = None) -> torch.Tensor:
    q, q_sf = case.q if case.is_fp4 else (case.q, None)
    msk = case.max_seqlen_k if max_seqlen_k is None else max_seqlen_k
    return naive_ragged_logits(q, case.kv, case.weights, case.ks, case.ke, msk, q_sf=q_sf)


GRID = list(itertools.product([False, True], [False, True], [False, True], [torch.float32, torch.bfloat16],
                              [False, True]))


@pytest.mark.parametrize("fp4,cp,compressed,logits_dtype,clean", GRID)
def test_ragged_grid(fp4, cp, compressed, logits_dtype, clean) -> None:
    """DeepGEMM's ks/ke patterns (prefill or CP), plain or compressed, in every format, dtype and clean mode."""
    case = make_ragged_case(32, 128, 64, 128, cp=cp, compressed=compressed, fp4=fp4, seed=len(GRID))
    out = run(case, clean=clean, logits_dtype=logits_dtype)
    assert out.shape == (32, case.max_seqlen_k or 128) and out.dtype == logits_dtype
    assert_logits_match(out, oracle(case), clean=clean)


@pytest.mark.parametrize("heads", [8, 16, 32, 64, 128])
@pytest.mark.parametrize("head_dim", [32, 64, 128])
def test_ragged_heads_and_head_dims(heads: int, head_dim: int) -> None:
    case = make_ragged_case(6, 60, heads, head_dim, cp=True, seed=heads + head_dim)
    assert_logits_match(run(case, clean=True), oracle(case), clean=True)


@pytest.mark.parametrize("head_dim", [64, 128])
def test_ragged_fp4_head_dims(head_dim: int) -> None:
    case = make_ragged_case(6, 60, 16, head_dim, fp4=True, seed=head_dim)
    assert_logits_match(run(case, clean=True), oracle(case), clean=True)


def test_ragged_arbitrary_windows() -> None:
    """ks < 0, ke > SKV, ks > ke, empty windows: only [max(ks, 0), min(ke, SKV)) is valid, nothing breaks."""
    ks = torch.tensor([-5, 0, 10, 40, 50, 90, 0, 7], dtype=torch.int32)
    ke = torch.tensor([3, 0, 60, 30, 50, 500, 100, 8], dtype=torch.int32)
    for compressed in (False, True):
        case = make_ragged_case(8, 100, 16, 64, ks=ks, ke=ke, compressed=compressed, seed=1)
        for msk in ((None, 20, 700) if compressed else (None,)):
            out = run(case, clean=True, max_seqlen_k=msk)
            assert_logits_match(out, oracle(case, msk), clean=True)


def test_ragged_compressed_layout() -> None:
    """Column j of a compressed row holds key ks + j: scattering it back gives the plain result (up to float32
    rounding: the two layouts use different matrix products)."""
    case = make_ragged_case(16, 64, 32, 128, cp=True, seed=3)
    plain = run(case, clean=True)
    compressed = run(case, clean=True, max_seqlen_k=48)
    assert compressed.shape == (16, 48)
    for i in range(16):
        lo, hi = int(case.ks[i]), min(int(case.ke[i]), 64)
        n = max(min(hi - lo, 48), 0)
        torch.testing.assert_close(compressed[i, :n], plain[i, lo : lo + n], rtol=1e-5, atol=1e-5)
        assert (compressed[i, n:] == NEG_INF).all()


def test_ragged_empty_shapes() -> None:
    case = make_ragged_case(4, 8, 16, 64, seed=4)
    out = dsa.fp8_mqa_logits(case.q[:0], case.kv, case.weights[:0], case.ks[:0], case.ke[:0])
    assert out.shape == (0, 8)
    kv0 = (case.kv[0][:0], case.kv[1][:0])
    out = dsa.fp8_mqa_logits(case.q, kv0, case.weights, case.ks, case.ke, clean_logits=True)
    assert out.shape == (4, 0)
    out = dsa.fp8_mqa_logits(case.q, kv0, case.weights, case.ks, case.ke, clean_logits=True, max_seqlen_k=3)
    assert out.shape == (4, 3) and (out == NEG_INF).all()


def test_ragged_default_clean_is_false_and_stride_matches_deepgemm() -> None:
    case = make_ragged_case(301 - 1, 1000, 16, 64, seed=5)
    out = dsa.fp8_mqa_logits(case.q, case.kv, case.weights, case.ks, case.ke)
    assert out.stride(0) == 1280  # DeepGEMM SM90: align(SKV + 256, 256) for fp32


def test_ragged_chunked_matches(monkeypatch) -> None:
    from sglang_sm120_dsa.reference import paged_mqa_logits as ref_paged

    for compressed in (False, True):
        case = make_ragged_case(24, 96, 16, 64, cp=True, compressed=compressed, seed=6)
        full = run(case, clean=True)
        monkeypatch.setattr(ref_paged, "WORKSPACE_BYTES", 2048)
        small = run(case, clean=True)
        monkeypatch.undo()
        assert_logits_match(small, oracle(case), clean=True)
        assert calc_diff(small.masked_fill(small == NEG_INF, 0), full.masked_fill(full == NEG_INF, 0)) < 1e-12


def test_ragged_poisoned_output_buffer(poisoned_logits) -> None:
    ks = torch.tensor([0, 5, -3, 90], dtype=torch.int32)
    ke = torch.tensor([10, 200, 4, 95], dtype=torch.int32)
    case = make_ragged_case(4, 100, 16, 64, ks=ks, ke=ke, seed=7)
    for clean, msk in ((True, 0), (False, 0), (True, 30), (False, 30)):
        out = run(case, clean=clean, max_seqlen_k=msk)
        buf, width = poisoned_logits[-1]
        assert not torch.isnan(out).any()
        assert torch.isnan(buf[:, width:]).all()
