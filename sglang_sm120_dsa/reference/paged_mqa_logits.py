"""Paged (decode) MQA logits in plain PyTorch: the semantics every kernel is tested against.

    logits[b * next_n + j, t] = kscale[t] * sum_h w[b * next_n + j, h] * relu(q[b, j, h] . k[t])     (FP8)
    logits[b * next_n + j, t] = sum_h w[b * next_n + j, h] * relu(q~[b, j, h] . k~[t])              (MXFP4)

for ``t`` in the row's valid set, ``-inf`` elsewhere (this implementation always cleans; with
``clean_logits=False`` the API leaves those columns unspecified). Token ``t`` of request ``b`` lives in page
``block_table[b, t // block_kv]``, slot ``t % block_kv``. Valid sets: 2-D ``context_lens`` ``t < ctx[b, j]``;
1-D ``t <= ctx[b] - next_n + j``; both capped at the block table's capacity ``max_blocks * block_kv``.
Page indices are clamped to ``[0, num_blocks)``, so a bad table can give wrong values but never a bad read.

Memory: the work is cut into (requests x tokens) chunks so that temporaries stay near ``workspace_bytes``
(64 MiB by default) whatever the batch and context. Chunk bounds come from shapes only; no host sync.
"""

from __future__ import annotations

import torch

from .._checks import PagedCall
from ..layout import page_bytes
from ..layout import split_fused_kv_pages
from .fp4 import dequant_fp4

__all__ = ["paged_mqa_logits", "WORKSPACE_BYTES"]

WORKSPACE_BYTES = 64 << 20


def row_lengths(call: PagedCall) -> torch.Tensor:
    """int64 ``[B, next_n]``: each row's valid columns are ``[0, length)``, before the capacity cap."""
    lens = call.context_lens.to(torch.int64)
    if call.lens_2d:
        return lens
    j = torch.arange(call.next_n, dtype=torch.int64, device=lens.device)
    return lens[:, None] - call.next_n + 1 + j


def _dequant_q(call: PagedCall, b0: int, b1: int) -> torch.Tensor:
    """float32 ``[b1 - b0, next_n * H, D]``."""
    if call.is_fp4:
        q = dequant_fp4(call.q[b0:b1], call.q_sf[b0:b1], call.head_dim)
    else:
        q = call.q[b0:b1].to(torch.float32)
    return q.reshape(b1 - b0, call.next_n * call.num_heads, call.head_dim)


def _gather_keys(call: PagedCall, pages: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Keys of ``pages`` (int32 [Bc, P]): float32 ``[Bc, P * block_kv, D]`` and FP8 scales ``[Bc, P * block_kv]``."""
    kv = call.kv_cache
    page_len = page_bytes(call.block_kv, call.head_dim, call.is_fp4)
    flat = kv.as_strided((call.num_blocks, page_len), (kv.stride(0), 1), kv.storage_offset())
    ids = pages.reshape(-1).to(torch.int64).clamp(0, call.num_blocks - 1)
    values, scales = split_fused_kv_pages(flat.index_select(0, ids), call.block_kv, call.head_dim, call.is_fp4)
    bc, tokens = pages.shape[0], pages.shape[1] * call.block_kv
    if call.is_fp4:
        keys = dequant_fp4(values, scales, call.head_dim)
        return keys.reshape(bc, tokens, call.head_dim), None
    return values.to(torch.float32).reshape(bc, tokens, call.head_dim), scales.reshape(bc, tokens)


def _chunk_sizes(call: PagedCall, n_tok: int, workspace_bytes: int) -> tuple[int, int]:
    """(requests, tokens) per chunk; tokens a multiple of block_kv."""
    nh = call.next_n * call.num_heads
    per_pair = 5 * call.head_dim + 8 + 8 * nh + 12 * call.next_n  # bytes per (request, token) of temporaries
    pairs = max(workspace_bytes // per_pair, call.block_kv)
    bkv = call.block_kv
    tokens_all = -(-n_tok // bkv) * bkv
    tokens = min(tokens_all, max(bkv, pairs // call.batch // bkv * bkv))
    return max(1, min(call.batch, pairs // tokens)), tokens


def paged_mqa_logits(call: PagedCall, out: torch.Tensor, *, workspace_bytes: int | None = None) -> None:
    """Fill ``out`` (``[B * next_n, width]``, any row stride) with the logits of ``call``."""
    if call.rows == 0 or call.width == 0:
        return
    bkv = call.block_kv
    cap = call.block_table.shape[1] * bkv
    n_tok = min(call.width, cap)  # columns past the block table are never valid
    out3 = out.unflatten(0, (call.batch, call.next_n))
    if n_tok < call.width:
        out3[:, :, n_tok:].fill_(float("-inf"))
    if n_tok == 0:
        return

    lengths = row_lengths(call).clamp(0, cap)
    weights = call.weights.reshape(call.batch, call.next_n, call.num_heads, 1)
    chunk_b, chunk_t = _chunk_sizes(call, n_tok, workspace_bytes or WORKSPACE_BYTES)
    for b0 in range(0, call.batch, chunk_b):
        b1 = min(b0 + chunk_b, call.batch)
        q = _dequant_q(call, b0, b1)
        for t0 in range(0, n_tok, chunk_t):
            t1 = min(t0 + chunk_t, n_tok)
            pages = call.block_table[b0:b1, t0 // bkv : -(-t1 // bkv)]
            keys, kscale = _gather_keys(call, pages)
            scores = torch.bmm(q, keys.transpose(1, 2)).relu_()  # [Bc, next_n * H, T]
            scores = scores.unflatten(1, (call.next_n, call.num_heads)).mul_(weights[b0:b1])
            logits = scores.sum(dim=2)  # [Bc, next_n, T]
            if kscale is not None:
                logits.mul_(kscale[:, None, :])
            cols = torch.arange(t0, t0 + logits.shape[2], device=out.device)
            valid = cols < lengths[b0:b1, :, None]
            logits = torch.where(valid, logits, float("-inf"))
            out3[b0:b1, :, t0:t1] = logits[:, :, : t1 - t0]
