"""Byte layouts shared by every implementation: the fused paged KV cache and the logits buffers.

Fused paged KV cache (DeepGEMM's layout). ``kv_cache`` is uint8 ``[num_blocks, block_kv, 1, head_dim + 4]``,
but that shape is only a byte count: page ``p`` starts at byte ``p * kv_cache.stride(0)`` and holds

* FP8: ``block_kv * head_dim`` e4m3 bytes, token-major (token ``t`` at ``[t * D, (t + 1) * D)``), then ``block_kv``
  fp32 scales (token ``t``'s at ``block_kv * D + 4 * t``).
* FP4 (MXFP4): ``block_kv * head_dim / 2`` bytes of packed e2m1 (element ``2i`` in the low nibble), then ``block_kv``
  int32 words of four ue8m0 scale bytes (byte ``k`` scales elements ``[32k, 32k + 32)``).

So row ``t`` of the 4-D view is **not** token ``t``.

Logits. Every implementation writes into a buffer allocated here, so the returned stride is a property of the
API, not of the implementation that ran: a ``[rows, width]`` view, ``stride(1) == 1``, row stride a multiple of
1024 bytes (DeepGEMM SM90's formulas, ``deepgemm-indexer.md`` §4.6 and §5.1).
"""

from __future__ import annotations

import torch

__all__ = [
    "FP4_SCALE_BLOCK",
    "align",
    "ceil_div",
    "page_bytes",
    "paged_logits_row_stride",
    "ragged_logits_row_stride",
    "new_logits",
    "split_fused_kv_pages",
]

FP4_SCALE_BLOCK = 32  # elements of head_dim per ue8m0 scale byte
_ROW_ALIGN_BYTES = 1024
_SPLIT_ALIGN = 256  # DeepGEMM SM90's SPLIT_KV / BLOCK_KV; kept so our strides equal DeepGEMM's


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def align(a: int, b: int) -> int:
    return ceil_div(a, b) * b


def page_bytes(block_kv: int, head_dim: int, is_fp4: bool) -> int:
    """Bytes of one fused page (values + scales)."""
    return block_kv * ((head_dim // 2 if is_fp4 else head_dim) + 4)


def paged_logits_row_stride(max_context_len: int, dtype: torch.dtype) -> int:
    per_row = _ROW_ALIGN_BYTES // dtype.itemsize
    return max(align(align(max_context_len, _SPLIT_ALIGN), per_row), per_row)


def ragged_logits_row_stride(seq_len_kv: int, max_seqlen_k: int, dtype: torch.dtype) -> int:
    per_row = _ROW_ALIGN_BYTES // dtype.itemsize
    if max_seqlen_k > 0:
        return align(align(max_seqlen_k, _SPLIT_ALIGN), per_row)
    return align(seq_len_kv + _SPLIT_ALIGN, per_row)


def new_logits(rows: int, width: int, row_stride: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A fresh ``[rows, width]`` tensor with row stride ``row_stride`` (DeepGEMM's layout; the last row's padding is
    not allocated, nothing writes there). One allocation, no view: a third of the host time of slicing a
    ``[rows, row_stride]`` buffer. Tests replace this to poison buffers."""
    return torch.empty_strided((rows, width), (row_stride, 1), dtype=dtype, device=device)


def split_fused_kv_pages(pages: torch.Tensor, block_kv: int, head_dim: int, is_fp4: bool):
    """Split gathered pages ``uint8 [N, page_bytes]`` into values and scales.

    Returns ``(values, scales)``: FP8 ``float8_e4m3fn [N, block_kv, D]`` and ``float32 [N, block_kv]``;
    FP4 ``uint8 [N, block_kv, D/2]`` and ``int32 [N, block_kv]``. Both are views of ``pages``.
    """
    value_bytes = head_dim // 2 if is_fp4 else head_dim
    n = pages.shape[0]
    values = pages[:, : block_kv * value_bytes].reshape(n, block_kv, value_bytes)
    scales = pages[:, block_kv * value_bytes : block_kv * (value_bytes + 4)]
    if is_fp4:
        return values, scales.contiguous().view(torch.int32)
    return values.view(torch.float8_e4m3fn), scales.contiguous().view(torch.float32)
