"""Output strides (DeepGEMM SM90's, measured values from deepgemm-indexer.md) and the fused page split."""

from __future__ import annotations

import pytest
import torch

from sglang_sm120_dsa import layout
from sglang_sm120_dsa.testing import kv_cache_cast_to_fp4
from sglang_sm120_dsa.testing import kv_cache_cast_to_fp8


@pytest.mark.parametrize("max_ctx,dtype,stride", [(4136, torch.float32, 4352), (3370, torch.bfloat16, 3584),
                                                  (1, torch.float32, 256), (256, torch.float32, 256),
                                                  (257, torch.bfloat16, 512), (0, torch.float32, 256)])
def test_paged_row_stride(max_ctx, dtype, stride) -> None:
    assert layout.paged_logits_row_stride(max_ctx, dtype) == stride


@pytest.mark.parametrize("skv,msk,dtype,stride", [(1000, 0, torch.float32, 1280), (1000, 0, torch.bfloat16, 1536),
                                                  (1000, 1000, torch.float32, 1024), (1000, 395, torch.float32, 512)])
def test_ragged_row_stride(skv, msk, dtype, stride) -> None:
    assert layout.ragged_logits_row_stride(skv, msk, dtype) == stride


def test_new_logits_view() -> None:
    out = layout.new_logits(3, 100, 256, torch.bfloat16, torch.device("cpu"))
    assert out.shape == (3, 100) and out.stride() == (256, 1)


@pytest.mark.parametrize("block_kv", [32, 64])
def test_fp8_page_layout(block_kv: int) -> None:
    """Values token-major first, then one fp32 scale per token: row t of the 4-D view is not token t."""
    x = torch.randn(3, block_kv, 1, 64).to(torch.bfloat16)
    cache = kv_cache_cast_to_fp8(x)
    assert cache.shape == (3, block_kv, 1, 68) and cache.dtype == torch.uint8
    pages = cache.reshape(3, -1)
    values, scales = layout.split_fused_kv_pages(pages, block_kv, 64, is_fp4=False)
    assert values.shape == (3, block_kv, 64) and scales.shape == (3, block_kv)
    raw = pages[1, 5 * 64 : 6 * 64].view(torch.float8_e4m3fn)  # token 5 of page 1
    assert torch.equal(values[1, 5].view(torch.uint8), raw.view(torch.uint8))
    scale_bytes = pages[1, block_kv * 64 + 20 : block_kv * 64 + 24]  # token 5's scale
    assert scales[1, 5].item() == scale_bytes.contiguous().view(torch.float32).item()
    dequant = values.float() * scales[..., None]
    assert (dequant - x.squeeze(2).float()).abs().max() <= 0.07 * x.abs().max()


def test_fp4_page_layout() -> None:
    x = torch.randn(2, 32, 1, 128).to(torch.bfloat16)
    cache = kv_cache_cast_to_fp4(x)
    assert cache.shape == (2, 32, 1, 68)
    values, scales = layout.split_fused_kv_pages(cache.reshape(2, -1), 32, 128, is_fp4=True)
    assert values.shape == (2, 32, 64) and values.dtype == torch.uint8 and scales.dtype == torch.int32


def test_page_bytes() -> None:
    assert layout.page_bytes(64, 128, False) == 8448
    assert layout.page_bytes(64, 128, True) == 64 * 68
