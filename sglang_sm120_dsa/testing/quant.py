"""Quantizers that produce the production layouts (the way DeepGEMM's tests build their inputs).

FP8: per-token ``sf = max(amax, 1e-4) / 448`` and ``x / sf`` cast to e4m3. MXFP4: one ue8m0 scale per 32
elements, ``2^ceil(log2(amax / 6))`` (exponent clamped to 1..254), values rounded to the nearest e2m1 magnitude
with ties to the even code, ``-0`` stored as ``+0``; four scale bytes per int32 word (unused bytes 127 = 1.0).
"""

from __future__ import annotations

import torch

from ..layout import FP4_SCALE_BLOCK

__all__ = [
    "cast_to_fp8_per_token",
    "kv_cache_cast_to_fp8",
    "cast_to_fp4",
    "kv_cache_cast_to_fp4",
]

_FP8_MAX = 448.0
_FP4_MAX = 6.0
_AMAX_FLOOR = 1e-4
_CHUNK_PAGES = 16384
# Nearest e2m1 magnitude index: the boundaries between the magnitudes 0, .5, 1, 1.5, 2, 3, 4, 6, and whether a
# tie at that boundary goes up (to the even code).
_E2M1_BOUNDARIES = ((0.25, False), (0.75, True), (1.25, False), (1.75, True), (2.5, False), (3.5, True), (5.0, False))


def cast_to_fp8_per_token(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``[..., D]`` -> (float8_e4m3fn ``[..., D]``, float32 scales ``[...]``)."""
    sf = x.abs().float().amax(dim=-1, keepdim=True).clamp_min(_AMAX_FLOOR) / _FP8_MAX
    return (x.float() * (1.0 / sf)).to(torch.float8_e4m3fn), sf.squeeze(-1)


def kv_cache_cast_to_fp8(x: torch.Tensor) -> torch.Tensor:
    """bf16 ``[num_blocks, block_kv, 1, D]`` -> fused uint8 ``[num_blocks, block_kv, 1, D + 4]`` (see layout.py)."""
    num_blocks, block_kv, one, head_dim = x.shape
    assert one == 1
    fused = torch.empty((num_blocks, block_kv * (head_dim + 4)), dtype=torch.uint8, device=x.device)
    for start in range(0, num_blocks, _CHUNK_PAGES):  # bounded float32 temporaries for multi-GB caches
        values, sf = cast_to_fp8_per_token(x[start : start + _CHUNK_PAGES].squeeze(2))
        fused[start : start + _CHUNK_PAGES, : block_kv * head_dim] = values.flatten(1).view(torch.uint8)
        fused[start : start + _CHUNK_PAGES, block_kv * head_dim :] = sf.contiguous().view(torch.uint8).flatten(1)
    return fused.view(num_blocks, block_kv, 1, head_dim + 4)


def _e2m1_codes(x: torch.Tensor) -> torch.Tensor:
    ax = x.abs()
    code = torch.zeros_like(x, dtype=torch.uint8)
    for boundary, tie_up in _E2M1_BOUNDARIES:
        code += (ax >= boundary if tie_up else ax > boundary).to(torch.uint8)
    negative = (x < 0) & (code != 0)
    return code | (negative.to(torch.uint8) << 3)


def cast_to_fp4(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``[..., D]`` (D a multiple of 32, at most 128) -> (int8 packed ``[..., D/2]``, int32 scale words ``[...]``)."""
    head_dim = x.shape[-1]
    assert head_dim % FP4_SCALE_BLOCK == 0 and head_dim <= 4 * FP4_SCALE_BLOCK
    blocks = x.float().unflatten(-1, (head_dim // FP4_SCALE_BLOCK, FP4_SCALE_BLOCK))
    amax = blocks.abs().amax(dim=-1).clamp_min(_AMAX_FLOOR)
    exponent = torch.ceil(torch.log2(amax / _FP4_MAX)).clamp(1 - 127, 254 - 127)
    codes = _e2m1_codes(blocks / torch.exp2(exponent).unsqueeze(-1)).flatten(-2)
    packed = (codes[..., 0::2] | (codes[..., 1::2] << 4)).view(torch.int8)
    sf_bytes = torch.full((*amax.shape[:-1], 4), 127, dtype=torch.int64, device=x.device)
    sf_bytes[..., : amax.shape[-1]] = (exponent + 127).to(torch.int64)
    shifts = torch.arange(0, 32, 8, dtype=torch.int64, device=x.device)
    words = (sf_bytes << shifts).sum(dim=-1)
    words = torch.where(words >= 2**31, words - 2**32, words)  # two's-complement int32
    return packed, words.to(torch.int32)


def kv_cache_cast_to_fp4(x: torch.Tensor) -> torch.Tensor:
    """bf16 ``[num_blocks, block_kv, 1, D]`` -> fused uint8 ``[num_blocks, block_kv, 1, D/2 + 4]``."""
    num_blocks, block_kv, one, head_dim = x.shape
    assert one == 1
    fused = torch.empty((num_blocks, block_kv * (head_dim // 2 + 4)), dtype=torch.uint8, device=x.device)
    for start in range(0, num_blocks, _CHUNK_PAGES):
        packed, sf = cast_to_fp4(x[start : start + _CHUNK_PAGES].squeeze(2))
        fused[start : start + _CHUNK_PAGES, : block_kv * head_dim // 2] = packed.flatten(1).view(torch.uint8)
        fused[start : start + _CHUNK_PAGES, block_kv * head_dim // 2 :] = sf.contiguous().view(torch.uint8).flatten(1)
    return fused.view(num_blocks, block_kv, 1, head_dim // 2 + 4)
