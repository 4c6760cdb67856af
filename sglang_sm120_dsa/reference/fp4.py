"""MXFP4 decoding: e2m1 nibbles and ue8m0 block scales (``deepgemm-indexer.md`` §3.4).

Dequantized values are exact in float32 (two significant bits times a power of two), so every product of two
of them is exact too, also on TF32 or bf16 tensor cores.
"""

from __future__ import annotations

import torch

from ..layout import FP4_SCALE_BLOCK

__all__ = ["decode_e2m1", "ue8m0_scales", "dequant_fp4"]


def _e2m1(code: torch.Tensor) -> torch.Tensor:
    """Nibbles (int32) -> float32: bit 3 sign, bits 1-2 exponent (bias 1), bit 0 mantissa. Arithmetic rather than a
    lookup table, because building a table on the GPU is a host-to-device copy, which CUDA-graph capture forbids.
    -0 decodes to -0.0, which no sum can tell from +0.0."""
    exponent = ((code >> 1) & 3).to(torch.float32)
    mantissa = (code & 1).to(torch.float32)
    magnitude = torch.where(exponent == 0, 0.5 * mantissa, (1 + 0.5 * mantissa) * torch.exp2(exponent - 1))
    return torch.where((code & 8) != 0, -magnitude, magnitude)


def decode_e2m1(packed: torch.Tensor) -> torch.Tensor:
    """``int8/uint8 [..., m]`` packed codes (element ``2i`` in the low nibble) -> ``float32 [..., 2m]``."""
    b = packed.view(torch.uint8).to(torch.int32)
    return torch.stack((_e2m1(b & 0xF), _e2m1(b >> 4)), dim=-1).flatten(-2)


def ue8m0_scales(sf: torch.Tensor) -> torch.Tensor:
    """``int32 [...]`` words of four ue8m0 bytes -> ``float32 [..., 4]``, byte ``k`` = ``2^(byte - 127)``.

    Byte 255 is NaN (OCP MX); byte 0 is ``2^-127``, a float32 subnormal.
    """
    shifts = torch.arange(0, 32, 8, dtype=torch.int32, device=sf.device)
    e = ((sf.unsqueeze(-1) >> shifts) & 0xFF).to(torch.float64)
    scale = torch.exp2(e - 127.0)
    return torch.where(e == 255, torch.nan, scale).to(torch.float32)


def dequant_fp4(packed: torch.Tensor, sf: torch.Tensor, head_dim: int) -> torch.Tensor:
    """``[..., D/2]`` codes with ``int32 [...]`` scale words -> ``float32 [..., D]``."""
    values = decode_e2m1(packed)
    scales = ue8m0_scales(sf)[..., : head_dim // FP4_SCALE_BLOCK]
    return values * scales.repeat_interleave(FP4_SCALE_BLOCK, dim=-1)
