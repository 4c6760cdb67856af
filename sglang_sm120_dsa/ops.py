"""Public API: DeepGEMM's lightning-indexer functions with the same names, argument order, defaults and outputs.

Mirrors sgl-deep-gemm 0.2.3.post2 (the wheel SGLang 0.5.23 pins), so code holding ``deep_gemm`` can call this
module instead. Each function validates its arguments (shapes, dtypes, strides, devices only: no host sync),
asks :mod:`.dispatch` for the implementation family, allocates the output and lets the family fill it (the
``deepgemm`` family returns DeepGEMM's own output, which has the same layout).

Differences from DeepGEMM (all extensions; every input DeepGEMM accepts means the same here):

* ``context_lens`` may be 1-D ``[B]`` (row ``(b, j)`` valid for ``t <= ctx[b] - next_n + j``) or 2-D
  ``[B, next_n]`` (valid for ``t < ctx[b, j]``), for the metadata and the paged logits alike.
* next_n 1..8; heads 8, 16, 32, 64, 128; head_dim 64 and 128 (ragged FP8 also 32); block_kv 32, 64, 128;
  bf16 or fp32 logits for every function; ``indices`` (varlen) wherever next_n == 1.
* ``clean_logits=True`` works everywhere, paged and compressed ragged included: exactly ``-inf`` on every column
  of the returned width outside the row's valid set. With ``False`` those columns are unspecified.
* Nothing is written outside the returned tensor, whatever ``ks``/``ke``/``context_lens``/``max_context_len``.
  Context lengths are capped at the block table's capacity; page indices are clamped to the cache.
* ``schedule_meta`` may come from any ``num_sms`` (the kernels use ``schedule_meta.shape[0] - 1`` workers), but
  must come from this package's :func:`get_paged_mqa_logits_metadata` for the same implementation family.
* MXFP8 (e4m3 q with ``q_sf``), bf16 weights and ragged ``schedule_meta`` are not supported and raise.
"""

from __future__ import annotations

import functools
import importlib

import torch

from . import dispatch
from ._checks import check_block_kv
from ._checks import check_metadata
from ._checks import check_paged
from ._checks import check_ragged
from .errors import IndexerArgumentError
from .layout import new_logits
from .layout import paged_logits_row_stride
from .layout import ragged_logits_row_stride

__all__ = [
    "warmup",
    "get_num_sms",
    "set_num_sms",
    "get_paged_mqa_logits_metadata",
    "fp8_paged_mqa_logits",
    "fp8_fp4_paged_mqa_logits",
    "fp8_mqa_logits",
    "fp8_fp4_mqa_logits",
]

_num_sms: int | None = None


def _device_sms() -> int:
    if not torch.cuda.is_available():
        raise RuntimeError("get_num_sms: no CUDA device; pass num_sms explicitly or call set_num_sms(n) first")
    return _sms_of(torch.cuda.current_device())


@functools.cache
def _sms_of(index: int) -> int:
    # (a device's SM count does not change; reading its properties costs microseconds, and servers ask per step)
    return torch.cuda.get_device_properties(index).multi_processor_count


def get_num_sms() -> int:
    """SM count the paged kernels schedule for: the value of :func:`set_num_sms`, else the current device's."""
    return _num_sms if _num_sms is not None else _device_sms()


def set_num_sms(num_sms: int) -> None:
    """Limit the SMs the schedule uses (``0 < num_sms <= device SMs``; any positive value without CUDA)."""
    global _num_sms
    if isinstance(num_sms, bool) or not isinstance(num_sms, int) or num_sms <= 0:
        raise IndexerArgumentError(f"set_num_sms: num_sms must be a positive int, got {num_sms!r}")
    if torch.cuda.is_available() and num_sms > _device_sms():
        raise IndexerArgumentError(f"set_num_sms: num_sms must be <= {_device_sms()} (the device's SMs), got {num_sms}")
    _num_sms = num_sms


def warmup(device: torch.device | str | None = None, num_heads: int | None = None, progress=print,
           block_kv: int | None = None) -> int:
    """Compile every kernel variant the implementation chosen for ``device`` can use (only those for
    ``num_heads`` heads and pages of ``block_kv`` tokens if given), so that nothing compiles during CUDA-graph
    capture or the first request. Returns the number of variants run; ``progress`` gets one line each (None for
    silence). A no-op for the reference."""
    if block_kv is not None:
        block_kv = check_block_kv("warmup", block_kv)
    device = torch.device(device) if device is not None else torch.device("cuda", torch.cuda.current_device())
    family = dispatch.resolve("fp8_paged_mqa_logits", device)
    module = importlib.import_module(dispatch.family_module(family.impl))
    return module.warmup(device, num_heads, progress, block_kv) if hasattr(module, "warmup") else 0


def get_paged_mqa_logits_metadata(context_lens: torch.Tensor, block_kv: int, num_sms: int,
                                  indices: torch.Tensor | None = None) -> torch.Tensor:
    """Schedule for the paged logits kernels.

    Parameters
    ----------
    context_lens : int32 ``[B]`` or ``[B, next_n]``, the same tensor the logits call gets.
    block_kv : page size in tokens (32, 64 or 128).
    num_sms : number of persistent workers to split the work over (usually :func:`get_num_sms`).
    indices : optional int32 ``[B]`` (varlen, next_n == 1): equal consecutive values are tokens of one request.

    Returns
    -------
    int32 ``[num_sms + 1, 2]`` on ``context_lens``' device; same shape for any batch, deterministic.
    """
    call = check_metadata(context_lens, block_kv, num_sms, indices)
    return dispatch.resolve("get_paged_mqa_logits_metadata", call.context_lens.device).fn(call)


def _paged(fn: str, q, kv_cache, weights, context_lens, block_table, schedule_meta, max_context_len, clean_logits,
           logits_dtype, indices, allow_fp4: bool) -> torch.Tensor:
    call = check_paged(fn, q, kv_cache, weights, context_lens, block_table, schedule_meta, max_context_len,
                       clean_logits, logits_dtype, indices, allow_fp4)
    choice = dispatch.resolve(fn, call.q.device)
    if choice.owns_output:
        return choice.fn(call)
    stride = paged_logits_row_stride(call.width, call.logits_dtype)
    out = new_logits(call.rows, call.width, stride, call.logits_dtype, call.q.device)
    choice.fn(call, out)
    return out


def fp8_paged_mqa_logits(q: torch.Tensor, kv_cache: torch.Tensor, weights: torch.Tensor, context_lens: torch.Tensor,
                         block_table: torch.Tensor, schedule_meta: torch.Tensor, max_context_len: int,
                         clean_logits: bool = False, indices: torch.Tensor | None = None) -> torch.Tensor:
    """Decode-time indexer logits over a paged FP8 key cache.

    ``logits[b * next_n + j, t] = kscale[t] * sum_h weights[b * next_n + j, h] * relu(q[b, j, h] . k[t])``

    Parameters
    ----------
    q : float8_e4m3fn ``[B, next_n, H, D]``, contiguous (no q scale: fold it into ``weights``).
    kv_cache : uint8 ``[num_blocks, block_kv, 1, D + 4]``, fused pages (see :mod:`.layout`).
    weights : float32 ``[B * next_n, H]``, ``stride(1) == 1``.
    context_lens : int32 ``[B]`` or ``[B, next_n]``.
    block_table : int32 ``[B, max_blocks]``, ``stride(1) == 1``; token ``t`` of request ``b`` is in page
        ``block_table[b, t // block_kv]``.
    schedule_meta : int32 ``[num_sms + 1, 2]`` from :func:`get_paged_mqa_logits_metadata`.
    max_context_len : width of the result (columns ``>= width`` are not returned).
    clean_logits : write exactly ``-inf`` outside each row's valid set.
    indices : optional int32 ``[B]``, varlen (next_n == 1).

    Returns
    -------
    float32 ``[B * next_n, max_context_len]``, a view with ``stride(1) == 1`` and a 1024-byte-aligned row stride.
    """
    return _paged("fp8_paged_mqa_logits", q, kv_cache, weights, context_lens, block_table, schedule_meta,
                  max_context_len, clean_logits, torch.float32, indices, allow_fp4=False)


def fp8_fp4_paged_mqa_logits(q, kv_cache: torch.Tensor, weights: torch.Tensor, context_lens: torch.Tensor,
                             block_table: torch.Tensor, schedule_meta: torch.Tensor, max_context_len: int,
                             clean_logits: bool = False, logits_dtype: torch.dtype = torch.float,
                             indices: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`fp8_paged_mqa_logits` for FP8 or MXFP4 operands, with a choice of logits dtype.

    ``q`` is an FP8 tensor (or ``(q, None)``), or the MXFP4 pair ``(int8 [B, next_n, H, D/2], int32 [B, next_n, H])``
    whose scale words hold four ue8m0 bytes (byte ``k`` scales elements ``[32k, 32k + 32)``). With MXFP4 q the
    cache is ``uint8 [num_blocks, block_kv, 1, D/2 + 4]`` (packed e2m1, then int32 scale words) and
    ``logits = sum_h w * relu(q~ . k~)`` with the block scales inside the dot (no per-token scale).
    ``logits_dtype`` is ``torch.float32`` or ``torch.bfloat16``.
    """
    return _paged("fp8_fp4_paged_mqa_logits", q, kv_cache, weights, context_lens, block_table, schedule_meta,
                  max_context_len, clean_logits, logits_dtype, indices, allow_fp4=True)


def _ragged(fn: str, q, kv, weights, ks, ke, clean_logits, max_seqlen_k, logits_dtype, schedule_meta,
            allow_fp4: bool) -> torch.Tensor:
    call = check_ragged(fn, q, kv, weights, ks, ke, clean_logits, max_seqlen_k, logits_dtype, schedule_meta, allow_fp4)
    choice = dispatch.resolve(fn, call.q.device)
    if choice.owns_output:
        return choice.fn(call)
    stride = ragged_logits_row_stride(call.seq_len_kv, call.max_seqlen_k, call.logits_dtype)
    out = new_logits(call.seq_len, call.width, stride, call.logits_dtype, call.q.device)
    choice.fn(call, out)
    return out


def fp8_mqa_logits(q: torch.Tensor, kv: tuple[torch.Tensor, torch.Tensor], weights: torch.Tensor, ks: torch.Tensor,
                   ke: torch.Tensor, clean_logits: bool = False, max_seqlen_k: int = 0) -> torch.Tensor:
    """Prefill-time indexer logits over a contiguous FP8 key tensor.

    ``logits[i, t] = kv_sf[t] * sum_h weights[i, h] * relu(q[i, h] . kv[t])`` for ``ks[i] <= t < ke[i]``.

    Parameters
    ----------
    q : float8_e4m3fn ``[S, H, D]``, contiguous.
    kv : ``(float8_e4m3fn [SKV, D], float32 [SKV])`` values and per-token scales (always a pair).
    weights : float32 ``[S, H]``, ``stride(1) == 1``.
    ks, ke : int32 ``[S]``, absolute key indices; row ``i`` attends to ``[ks[i], ke[i])``.
    clean_logits : write exactly ``-inf`` outside ``[ks[i], ke[i])``.
    max_seqlen_k : 0 for ``[S, SKV]`` logits; ``> 0`` for compressed ``[S, max_seqlen_k]`` logits whose column ``j``
        holds key ``ks[i] + j``.

    Returns
    -------
    float32 ``[S, SKV]`` or ``[S, max_seqlen_k]``, a view with a 1024-byte-aligned row stride.
    """
    return _ragged("fp8_mqa_logits", q, kv, weights, ks, ke, clean_logits, max_seqlen_k, torch.float32, None,
                   allow_fp4=False)


def fp8_fp4_mqa_logits(q, kv: tuple[torch.Tensor, torch.Tensor], weights: torch.Tensor,
                       cu_seq_len_k_start: torch.Tensor, cu_seq_len_k_end: torch.Tensor, clean_logits: bool = False,
                       max_seqlen_k: int = 0, logits_dtype: torch.dtype = torch.float,
                       schedule_meta: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`fp8_mqa_logits` for FP8 or MXFP4 operands, with a choice of logits dtype.

    MXFP4: ``q = (int8 [S, H, D/2], int32 [S, H])`` and ``kv = (int8 [SKV, D/2], int32 [SKV])``. ``schedule_meta``
    exists for signature compatibility and must be None.
    """
    return _ragged("fp8_fp4_mqa_logits", q, kv, weights, cu_seq_len_k_start, cu_seq_len_k_end, clean_logits,
                   max_seqlen_k, logits_dtype, schedule_meta, allow_fp4=True)
