"""Ragged (prefill) MQA logits in plain PyTorch.

    logits[i, t] = kv_sf[t] * sum_h w[i, h] * relu(q[i, h] . kv[t])      (FP8; MXFP4: block scales inside the dot)

Row ``i``'s valid keys are ``max(ks[i], 0) <= t < min(ke[i], seq_len_kv)``; every other column is ``-inf``
(this implementation always cleans). With ``max_seqlen_k > 0`` the output is compressed: column ``j`` of row
``i`` holds key ``ks[i] + j``, valid under the same rule. Chunked over rows and keys like the paged reference.
"""

from __future__ import annotations

import torch

from .._checks import RaggedCall
from . import paged_mqa_logits as _paged
from .fp4 import dequant_fp4

__all__ = ["mqa_logits"]


def _keys(call: RaggedCall, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Dequantized keys ``float32 [*index.shape, D]`` and FP8 scales ``[*index.shape]`` at int64 ``index``."""
    values = call.kv[index]
    if call.is_fp4:
        return dequant_fp4(values, call.kv_sf[index], call.head_dim), None
    return values.to(torch.float32), call.kv_sf[index]


def _chunk_sizes(call: RaggedCall, workspace_bytes: int) -> tuple[int, int]:
    """(rows, columns) per chunk."""
    per_pair = 8 * call.num_heads + 12 + (5 * call.head_dim + 8 if call.max_seqlen_k > 0 else 0)
    pairs = max(workspace_bytes // per_pair, 1)
    cols = min(call.width, max(256, pairs // max(call.seq_len, 1)))
    return max(1, min(call.seq_len, pairs // cols)), cols


def mqa_logits(call: RaggedCall, out: torch.Tensor, *, workspace_bytes: int | None = None) -> None:
    """Fill ``out`` (``[seq_len, width]``, any row stride) with the logits of ``call``."""
    if call.seq_len == 0 or call.width == 0:
        return
    if call.seq_len_kv == 0:
        out.fill_(float("-inf"))
        return
    device = out.device
    lo = call.ks.to(torch.int64).clamp_min(0)[:, None]
    hi = call.ke.to(torch.int64).clamp_max(call.seq_len_kv)[:, None]
    compressed = call.max_seqlen_k > 0
    chunk_r, chunk_c = _chunk_sizes(call, workspace_bytes or _paged.WORKSPACE_BYTES)
    for r0 in range(0, call.seq_len, chunk_r):
        r1 = min(r0 + chunk_r, call.seq_len)
        if call.is_fp4:
            q = dequant_fp4(call.q[r0:r1], call.q_sf[r0:r1], call.head_dim)
        else:
            q = call.q[r0:r1].to(torch.float32)  # [R, H, D]
        w = call.weights[r0:r1, :, None]
        for c0 in range(0, call.width, chunk_c):
            c1 = min(c0 + chunk_c, call.width)
            cols = torch.arange(c0, c1, dtype=torch.int64, device=device)[None, :]
            if compressed:
                key = call.ks[r0:r1, None].to(torch.int64) + cols  # [R, C]
                k, kscale = _keys(call, key.clamp(0, call.seq_len_kv - 1))
                scores = torch.bmm(q, k.transpose(1, 2))  # [R, H, C]
            else:
                key = cols.expand(r1 - r0, -1)
                k, kscale = _keys(call, cols[0].clamp_max(call.seq_len_kv - 1))
                scores = torch.matmul(q, k.T)  # [R, H, C]
                kscale = None if kscale is None else kscale[None, :]
            logits = scores.relu_().mul_(w).sum(dim=1)  # [R, C]
            if kscale is not None:
                logits.mul_(kscale)
            valid = (key >= lo[r0:r1]) & (key < hi[r0:r1])
            out[r0:r1, c0:c1] = torch.where(valid, logits, float("-inf"))
