"""SGLang's indexer query quantization without Triton's FP8 type, for SM80/86.

SGLang falls back to ``sglang.kernels.ops.quantization.act_quant_triton.act_quant`` when its fused CUDA path is
off; that kernel stores ``float8e4nv``, which Triton refuses below SM89. This is the same computation in PyTorch
ops (graph-capturable, no host sync): per ``block_size`` group, ``amax`` floored at 1e-4, scale ``amax / 448``
(or its power-of-two ceiling with a ``scale_fmt``), ``x / scale`` clamped to ±448 and rounded to e4m3.
"""

from __future__ import annotations

import torch

__all__ = ["act_quant"]

_FP8_MAX = 448.0


def act_quant(x: torch.Tensor, block_size: int = 128,
              scale_fmt: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(float8_e4m3fn like x, float32 [..., x.size(-1) // block_size])``, as SGLang's Triton ``act_quant``."""
    if not x.is_contiguous():
        raise ValueError(f"act_quant: x must be contiguous, got strides {tuple(x.stride())}")
    if x.size(-1) % block_size:
        raise ValueError(f"act_quant: the last dimension ({x.size(-1)}) must be a multiple of block_size "
                         f"({block_size})")
    groups = x.float().unflatten(-1, (x.size(-1) // block_size, block_size))
    amax = groups.abs().amax(dim=-1).clamp_min(1e-4)
    scale = amax * (1.0 / _FP8_MAX)
    if scale_fmt is not None:
        scale = torch.exp2(torch.ceil(torch.log2(scale)))
    y = (groups / scale.unsqueeze(-1)).clamp(-_FP8_MAX, _FP8_MAX).to(torch.float8_e4m3fn)
    return y.flatten(-2), scale
