"""Argument validation for the public ops, run before dispatch.

Looks only at types, dtypes, shapes, strides, alignment and devices (never at tensor values: that would sync the
host and break CUDA-graph capture). Every failure raises :class:`IndexerArgumentError` naming the function, the
argument, what was expected and what was given. On success it returns a normalized, immutable call object; the
implementations take those and never re-parse the DeepGEMM signatures.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import NamedTuple

import torch

from .errors import IndexerArgumentError
from .errors import describe

__all__ = [
    "SUPPORTED_HEADS",
    "SUPPORTED_BLOCK_KV",
    "MAX_NEXT_N",
    "MetadataCall",
    "PagedCall",
    "RaggedCall",
    "check_metadata",
    "check_paged",
    "check_ragged",
]

SUPPORTED_HEADS = (8, 16, 32, 64, 128)
SUPPORTED_BLOCK_KV = (32, 64, 128)
MAX_NEXT_N = 8
PAGED_HEAD_DIMS = (64, 128)
RAGGED_FP8_HEAD_DIMS = (32, 64, 128)
FP4_HEAD_DIMS = (64, 128)
LOGITS_DTYPES = (torch.float32, torch.bfloat16)
FP4_Q_DTYPES = (torch.int8, torch.uint8)
_NEXT_NS = tuple(range(1, MAX_NEXT_N + 1))
_FP8_Q = (torch.float8_e4m3fn,)
_FP8_OR_FP4_Q = (torch.float8_e4m3fn, *FP4_Q_DTYPES)
_KV_ALIGN_BYTES = 16  # kernels read pages with 16-byte vector loads


# The call objects are NamedTuples: immutable, and built in a fraction of a frozen dataclass' time (every call builds
# one; the checks' whole budget is a few microseconds, see scripts/bench_host.py).
class MetadataCall(NamedTuple):
    context_lens: torch.Tensor  # int32 [B] or [B, next_n]
    block_kv: int
    num_sms: int
    indices: torch.Tensor | None  # int32 [B], varlen (next_n == 1)
    batch: int
    next_n: int

    @property
    def lens_2d(self) -> bool:
        return self.context_lens.dim() == 2


class PagedCall(NamedTuple):
    q: torch.Tensor  # FP8: e4m3 [B, next_n, H, D]; FP4: int8/uint8 [B, next_n, H, D/2]
    q_sf: torch.Tensor | None  # FP4: int32 [B, next_n, H]
    kv_cache: torch.Tensor  # uint8 [num_blocks, block_kv, 1, D + 4 | D/2 + 4], see layout.py
    weights: torch.Tensor  # float32 [B * next_n, H], stride(1) == 1
    context_lens: torch.Tensor  # int32 [B] or [B, next_n]
    block_table: torch.Tensor  # int32 [B, max_blocks], stride(1) == 1
    schedule_meta: torch.Tensor  # int32 [num_sms + 1, 2]
    clean_logits: bool
    indices: torch.Tensor | None
    logits_dtype: torch.dtype
    width: int  # max_context_len: columns of the returned logits
    batch: int
    next_n: int
    num_heads: int
    head_dim: int
    block_kv: int
    num_blocks: int
    is_fp4: bool

    @property
    def lens_2d(self) -> bool:
        return self.context_lens.dim() == 2

    @property
    def rows(self) -> int:
        return self.batch * self.next_n


class RaggedCall(NamedTuple):
    q: torch.Tensor  # FP8: e4m3 [S, H, D]; FP4: int8/uint8 [S, H, D/2]
    q_sf: torch.Tensor | None  # FP4: int32 [S, H]
    kv: torch.Tensor  # FP8: e4m3 [SKV, D]; FP4: int8/uint8 [SKV, D/2]
    kv_sf: torch.Tensor  # FP8: float32 [SKV]; FP4: int32 [SKV]
    weights: torch.Tensor  # float32 [S, H], stride(1) == 1
    ks: torch.Tensor  # int32 [S]
    ke: torch.Tensor  # int32 [S]
    clean_logits: bool
    max_seqlen_k: int
    logits_dtype: torch.dtype
    seq_len: int
    seq_len_kv: int
    num_heads: int
    head_dim: int
    is_fp4: bool

    @property
    def width(self) -> int:
        return self.max_seqlen_k if self.max_seqlen_k > 0 else self.seq_len_kv


class Text(str):
    """An already formatted description for :meth:`_Checker.fail`."""


class _Checker:
    """Collects the function name so that each check is one line at the call site."""

    def __init__(self, fn: str):
        self.fn = fn
        self.device: torch.device | None = None

    def fail(self, name: str, expected: str | Callable[[], str], got: object) -> IndexerArgumentError:
        """``expected``: the text, or a function making it (texts with values are formatted on failure only);
        ``got``: the offending value (described here) or, for derived facts, a ready-made ``Text``."""
        got_text = got if isinstance(got, Text) else describe(got)
        return IndexerArgumentError(f"{self.fn}: {name} must be {expected if isinstance(expected, str) else expected()}"
                                    f", got {got_text}")

    def tensor(self, name: str, x: object, dtypes: tuple[torch.dtype, ...], shape: tuple,
               expected: str | Callable[[], str]) -> torch.Tensor:
        """``shape`` entries: an int (exact) or None (any size). Also checks the device against earlier tensors."""
        if not isinstance(x, torch.Tensor) or x.dtype not in dtypes:
            raise self.fail(name, expected, x)
        sizes = x.shape  # (read once: each tensor attribute is a binding call, ~0.1 us)
        if len(sizes) != len(shape):
            raise self.fail(name, expected, x)
        for want, got in zip(shape, sizes, strict=False):  # (lengths compared above)
            if want is not None and got != want:
                raise self.fail(name, expected, x)
        device = x.device
        if self.device is None:
            self.device = device
        elif device != self.device:
            raise self.fail(name, f"on {self.device} like the other tensors", Text(f"a tensor on {device}"))
        return x

    def contiguous(self, name: str, x: torch.Tensor) -> None:
        if not x.is_contiguous():
            raise self.fail(name, "contiguous", Text(f"{describe(x)} with strides {tuple(x.stride())}"))

    def unit_last_stride(self, name: str, x: torch.Tensor) -> None:
        if x.shape[-1] > 1 and x.stride(-1) != 1:
            got = Text(f"{describe(x)} with strides {tuple(x.stride())}")
            raise self.fail(name, "a tensor with stride(-1) == 1", got)

    def one_of(self, name: str, value: int, allowed: tuple, why: str = "") -> None:
        if value not in allowed:
            raise self.fail(name, f"one of {allowed}{why}", Text(value))

    def integer(self, name: str, value: object, minimum: int) -> int:
        if isinstance(value, (bool, torch.Tensor)):  # a tensor's __index__ would sync with the GPU
            raise self.fail(name, f"an int >= {minimum}", value)
        try:
            as_int = operator.index(value)  # accepts numpy integers, rejects floats and tensors
        except TypeError:
            raise self.fail(name, f"an int >= {minimum}", value) from None
        if as_int < minimum:
            raise self.fail(name, f"an int >= {minimum}", Text(as_int))
        return as_int

    def boolean(self, name: str, value: object) -> bool:
        if not isinstance(value, bool):
            raise self.fail(name, "a bool", value)
        return value

    def logits_dtype(self, value: object) -> torch.dtype:
        if value not in LOGITS_DTYPES:
            raise self.fail("logits_dtype", "torch.float32 or torch.bfloat16", value)
        return value  # type: ignore[return-value]


def _split_q(c: _Checker, q: object, allow_fp4: bool) -> tuple[object, object]:
    """``q`` may be a tensor or a ``(q, q_sf)`` pair in the ``fp8_fp4_*`` functions."""
    if allow_fp4 and isinstance(q, (tuple, list)):
        if len(q) != 2:
            raise c.fail("q", "a tensor or a (q, q_sf) pair", q)
        return q[0], q[1]
    return q, None


def _check_q(c: _Checker, q: object, q_sf: object, allow_fp4: bool, lead: tuple, lead_text: str):
    """Returns ``(q, q_sf, is_fp4, num_heads, head_dim)``; ``lead`` are the leading dims (None = any)."""
    rank = len(lead) + 2

    def expected() -> str:
        fp8_text = f"float8_e4m3fn [{lead_text}, num_heads, head_dim]"
        return f"{fp8_text}, or FP4 int8 [{lead_text}, num_heads, head_dim / 2] with q_sf" if allow_fp4 else fp8_text

    q = c.tensor("q", q, _FP8_OR_FP4_Q if allow_fp4 else _FP8_Q, (*lead, None, None), expected)
    c.contiguous("q", q)
    is_fp4 = q.dtype != torch.float8_e4m3fn
    num_heads = q.shape[rank - 2]
    head_dim = q.shape[rank - 1] * (2 if is_fp4 else 1)
    if is_fp4:
        q_sf = c.tensor("q_sf", q_sf, (torch.int32,), (*q.shape[: rank - 1],),
                        lambda: f"int32 [{lead_text}, num_heads] (four ue8m0 bytes per head) for FP4 q")
        c.contiguous("q_sf", q_sf)
    elif q_sf is not None:
        raise c.fail("q_sf", "None with float8_e4m3fn q (MXFP8 q is not supported; FP4 q is int8)", q_sf)
    c.one_of("num_heads", num_heads, SUPPORTED_HEADS)
    return q, q_sf, is_fp4, num_heads, head_dim


def check_block_kv(fn: str, block_kv: object) -> int:
    c = _Checker(fn)
    value = c.integer("block_kv", block_kv, 1)
    c.one_of("block_kv", value, SUPPORTED_BLOCK_KV)
    return value


def check_metadata(context_lens: object, block_kv: object, num_sms: object, indices: object) -> MetadataCall:
    c = _Checker("get_paged_mqa_logits_metadata")
    lens_text = "int32 [batch] or [batch, next_n]"
    if not isinstance(context_lens, torch.Tensor) or context_lens.dim() not in (1, 2):
        raise c.fail("context_lens", lens_text, context_lens)
    lens = c.tensor("context_lens", context_lens, (torch.int32,), (None,) * context_lens.dim(), lens_text)
    c.contiguous("context_lens", lens)
    next_n = lens.shape[1] if lens.dim() == 2 else 1
    if lens.dim() == 2:
        c.one_of("context_lens.shape[1] (next_n)", next_n, _NEXT_NS)
    block_kv_int = check_block_kv(c.fn, block_kv)
    num_sms_int = c.integer("num_sms", num_sms, 1)
    idx = _check_indices(c, indices, lens.shape[0], next_n)
    return MetadataCall(lens, block_kv_int, num_sms_int, idx, lens.shape[0], next_n)


# The paged checks cost ~10 us of host time per call (DeepGEMM's whole call ~18, scripts/bench_host.py), and a decode
# server repeats a few argument signatures on every layer and step: a signature that passed once passes again. The
# signature is every fact the checks read (each tensor's dtype, shape, strides and device, the cache's alignment,
# the flags by type and value), so a hit skips only checks whose outcome it fixes; max_context_len, which changes
# from step to step, is checked on every call instead of keyed.
_PAGED_PASSED: dict[tuple, tuple] = {}
_PASSED_MAX = 1024


def forget_passed() -> None:
    """Empty the memo of paged signatures that passed (tests)."""
    _PAGED_PASSED.clear()


def _signature(tensors: tuple) -> list | None:
    """dtype, shape, strides and device of each tensor (None kept as None); None if one is neither (the full
    checks then say what is wrong)."""
    key: list = []
    for x in tensors:
        if x is None:
            key.append(None)
        elif type(x) is torch.Tensor:  # (subclasses take the full checks)
            key += (x.dtype, x.shape, x.stride(), x.device)
        else:
            return None
    return key


def check_paged(fn: str, q: object, kv_cache: object, weights: object, context_lens: object, block_table: object,
                schedule_meta: object, max_context_len: object, clean_logits: object, logits_dtype: object,
                indices: object, allow_fp4: bool) -> PagedCall:
    # (q and (q, None) check alike, so the pair's form is not keyed; a pair of another length fails _signature)
    q_t, q_sf = q if allow_fp4 and isinstance(q, (tuple, list)) and len(q) == 2 else (q, None)  # type: ignore[misc]
    key = _signature((q_t, q_sf, kv_cache, weights, context_lens, block_table, schedule_meta, indices))
    if key is not None:
        key += (fn, allow_fp4, type(clean_logits), clean_logits, logits_dtype,
                kv_cache.data_ptr() % _KV_ALIGN_BYTES)  # type: ignore[union-attr]
        key = tuple(key)
        sizes = _PAGED_PASSED.get(key)
        if sizes is not None and type(max_context_len) is int and max_context_len >= 0:
            return PagedCall(q_t, q_sf, kv_cache, weights, context_lens, block_table, schedule_meta,  # type: ignore[arg-type]
                             clean_logits, indices, logits_dtype, max_context_len, *sizes)  # type: ignore[arg-type]
    call = _check_paged(fn, q, kv_cache, weights, context_lens, block_table, schedule_meta, max_context_len,
                        clean_logits, logits_dtype, indices, allow_fp4)
    if key is not None:
        if len(_PAGED_PASSED) >= _PASSED_MAX:
            _PAGED_PASSED.clear()
        _PAGED_PASSED[key] = call[11:]
    return call


def _check_paged(fn: str, q: object, kv_cache: object, weights: object, context_lens: object, block_table: object,
                 schedule_meta: object, max_context_len: object, clean_logits: object, logits_dtype: object,
                 indices: object, allow_fp4: bool) -> PagedCall:
    c = _Checker(fn)
    q, q_sf = _split_q(c, q, allow_fp4)
    q, q_sf, is_fp4, num_heads, head_dim = _check_q(c, q, q_sf, allow_fp4, (None, None), "batch, next_n")
    batch, next_n = q.shape[0], q.shape[1]
    c.one_of("next_n (q.shape[1])", next_n, _NEXT_NS)
    c.one_of("head_dim", head_dim, FP4_HEAD_DIMS if is_fp4 else PAGED_HEAD_DIMS, " for FP4" if is_fp4 else "")

    row_bytes = (head_dim // 2 if is_fp4 else head_dim) + 4
    kv = c.tensor("kv_cache", kv_cache, (torch.uint8,), (None, None, 1, row_bytes),
                  lambda: f"uint8 [num_blocks, block_kv, 1, head_dim{' / 2' if is_fp4 else ''} + 4] "
                          f"(last dim {row_bytes} for head_dim {head_dim})")
    num_blocks, block_kv = kv.shape[0], kv.shape[1]
    c.one_of("block_kv (kv_cache.shape[1])", block_kv, SUPPORTED_BLOCK_KV)
    if num_blocks < 1:
        raise c.fail("kv_cache", "at least one page", kv)
    page = block_kv * row_bytes
    strides = kv.stride()
    if (strides[3] != 1 or strides[1] != row_bytes or strides[0] < page or strides[0] % _KV_ALIGN_BYTES
            or kv.data_ptr() % _KV_ALIGN_BYTES):
        raise c.fail("kv_cache", f"pages of {page} contiguous bytes (strides (S, {row_bytes}, *, 1) with S >= {page}, "
                     f"S and the data pointer multiples of {_KV_ALIGN_BYTES})",
                     Text(f"{describe(kv)} with strides {tuple(kv.stride())} "
                          f"at byte offset {kv.data_ptr() % 256} mod 256"))

    w = c.tensor("weights", weights, (torch.float32,), (batch * next_n, num_heads),
                 lambda: f"float32 [batch * next_n, num_heads] = [{batch * next_n}, {num_heads}]")
    c.unit_last_stride("weights", w)
    lens = _check_context_lens(c, context_lens, batch, next_n)
    bt = c.tensor("block_table", block_table, (torch.int32,), (batch, None),
                  lambda: f"int32 [batch, max_blocks] with batch {batch}")
    c.unit_last_stride("block_table", bt)
    meta = c.tensor("schedule_meta", schedule_meta, (torch.int32,), (None, 2),
                    "int32 [num_sms + 1, 2] from get_paged_mqa_logits_metadata")
    if meta.shape[0] < 2:
        raise c.fail("schedule_meta", "int32 [num_sms + 1, 2] with num_sms >= 1", meta)
    c.contiguous("schedule_meta", meta)
    width = c.integer("max_context_len", max_context_len, 0)
    clean = c.boolean("clean_logits", clean_logits)
    dtype = c.logits_dtype(logits_dtype)
    idx = _check_indices(c, indices, batch, next_n)
    return PagedCall(q, q_sf, kv, w, lens, bt, meta, clean, idx, dtype, width, batch, next_n, num_heads, head_dim,
                     block_kv, num_blocks, is_fp4)


def check_ragged(fn: str, q: object, kv: object, weights: object, ks: object, ke: object, clean_logits: object,
                 max_seqlen_k: object, logits_dtype: object, schedule_meta: object, allow_fp4: bool) -> RaggedCall:
    c = _Checker(fn)
    q, q_sf = _split_q(c, q, allow_fp4)
    q, q_sf, is_fp4, num_heads, head_dim = _check_q(c, q, q_sf, allow_fp4, (None,), "seq_len")
    seq_len = q.shape[0]
    c.one_of("head_dim", head_dim, FP4_HEAD_DIMS if is_fp4 else RAGGED_FP8_HEAD_DIMS, " for FP4" if is_fp4 else "")

    if not isinstance(kv, (tuple, list)) or len(kv) != 2:
        raise c.fail("kv", "a (values, scales) pair: " + (
            "(int8 [seq_len_kv, head_dim / 2], int32 [seq_len_kv]) for FP4 q" if is_fp4
            else "(float8_e4m3fn [seq_len_kv, head_dim], float32 [seq_len_kv])"), kv)
    if is_fp4:
        values = c.tensor("kv[0]", kv[0], FP4_Q_DTYPES, (None, head_dim // 2),
                          lambda: f"int8 [seq_len_kv, {head_dim // 2}] (FP4, like q)")
        scales = c.tensor("kv[1]", kv[1], (torch.int32,), (values.shape[0],),
                          lambda: f"int32 [{values.shape[0]}] (four ue8m0 bytes per token)")
    else:
        values = c.tensor("kv[0]", kv[0], (torch.float8_e4m3fn,), (None, head_dim),
                          lambda: f"float8_e4m3fn [seq_len_kv, {head_dim}] (FP8, like q)")
        scales = c.tensor("kv[1]", kv[1], (torch.float32,), (values.shape[0],),
                          lambda: f"float32 [{values.shape[0]}]")
    c.contiguous("kv[0]", values)
    c.contiguous("kv[1]", scales)

    w = c.tensor("weights", weights, (torch.float32,), (seq_len, num_heads),
                 lambda: f"float32 [seq_len, num_heads] = [{seq_len}, {num_heads}]")
    c.unit_last_stride("weights", w)
    for name, x in (("cu_seq_len_k_start", ks), ("cu_seq_len_k_end", ke)):
        t = c.tensor(name, x, (torch.int32,), (seq_len,), lambda: f"int32 [seq_len] = [{seq_len}]")
        c.contiguous(name, t)
    clean = c.boolean("clean_logits", clean_logits)
    msk = c.integer("max_seqlen_k", max_seqlen_k, 0)
    dtype = c.logits_dtype(logits_dtype)
    if schedule_meta is not None:
        raise c.fail("schedule_meta", "None (ragged scheduling metadata is a DeepGEMM SM100 feature; not needed here)",
                     schedule_meta)
    return RaggedCall(q, q_sf, values, scales, w, ks, ke, clean, msk, dtype, seq_len, values.shape[0], num_heads,
                      head_dim, is_fp4)


def _check_context_lens(c: _Checker, context_lens: object, batch: int, next_n: int) -> torch.Tensor:
    def expected() -> str:
        return f"int32 [batch] or [batch, next_n] = [{batch}] or [{batch}, {next_n}]"

    if isinstance(context_lens, torch.Tensor) and context_lens.dim() == 2:
        lens = c.tensor("context_lens", context_lens, (torch.int32,), (batch, next_n), expected)
    else:
        lens = c.tensor("context_lens", context_lens, (torch.int32,), (batch,), expected)
    c.contiguous("context_lens", lens)
    return lens


def _check_indices(c: _Checker, indices: object, batch: int, next_n: int) -> torch.Tensor | None:
    if indices is None:
        return None
    idx = c.tensor("indices", indices, (torch.int32,), (batch,), lambda: f"None or int32 [batch] = [{batch}]")
    c.contiguous("indices", idx)
    if next_n != 1:
        raise c.fail("indices", "None when next_n > 1 (varlen indices describe one query token per row)",
                     Text(f"indices with next_n = {next_n}"))
    return idx

