"""Launchers of the TileLang family: map a validated call to a compiled variant and its flat buffer views.

The kernels take 1-D views spanning exactly the elements a tensor's strides can reach (pages, weight rows, table
rows, logits rows), so any legal stride works and nothing outside the given tensors is addressable. Grids and
variants come from shapes only: no host synchronization, capturable in a CUDA graph once compiled.
"""

from __future__ import annotations

import functools

import torch

from .. import configs as tables
from .. import envs
from .._checks import MetadataCall
from .._checks import PagedCall
from .._checks import RaggedCall
from ..layout import ceil_div
from ..layout import page_bytes
from . import config
from . import variants

_OUT = {torch.float32: "float32", torch.bfloat16: "bfloat16"}


# Plans: the compiled variant and launch sizes a call's shapes, flags and the TileLang mode decide, found once per key
# (the arch query, table lookups and variant hashing cost more host time than the launch's own Python); a call then
# only builds its buffer views. The ragged plan goes by the table's bucket, never by a length.


def _settings() -> str | None:
    """The environment the plans depend on (``SGLANG_SM120_DSA_TILELANG_MODE``): part of every plan's key, so that a
    changed setting takes effect at the next call."""
    return envs.TILELANG_MODE.raw()


def forget_plans() -> None:
    """Drop every cached plan (tests and tuning that change the tables or the kernels)."""
    for plan in (_metadata_plan, _paged_plan, _ragged_bounds, _ragged_plan):
        plan.cache_clear()


@functools.lru_cache(maxsize=1024)
def _metadata_plan(device: torch.device, settings: str | None, batch: int) -> tuple:
    arch, sm120 = config.device_build(device)
    return variants.jit(variants.METADATA, arch, sm120), config.paged_sizes(arch, batch)["split_kv"]


@functools.lru_cache(maxsize=1024)
def _paged_plan(device: torch.device, settings: str | None, heads: int, head_dim: int, next_n: int, batch: int,
                is_fp4: bool, dtype: torch.dtype) -> tuple:
    arch, sm120 = config.device_build(device)
    sizes = config.paged_sizes(arch, batch)
    rows = config.rows_per_block(heads, next_n)
    kernel = variants.jit(variants.paged_variant(heads, head_dim, rows, is_fp4, _OUT[dtype], sizes), arch, sm120)
    return kernel, ceil_div(next_n, rows), sizes["split_kv"]


@functools.lru_cache(maxsize=64)
def _ragged_bounds(device: torch.device, settings: str | None) -> tuple[float, ...]:
    return config.ragged_bounds(config.device_build(device)[0])


@functools.lru_cache(maxsize=256)
def _ragged_plan(device: torch.device, settings: str | None, heads: int, head_dim: int, is_fp4: bool,
                 dtype: torch.dtype, bucket: float) -> tuple:
    arch, sm120 = config.device_build(device)
    sizes = config.ragged_sizes(arch, bucket)  # (a bucket's bound picks that bucket's entry)
    kernel = variants.jit(variants.ragged_variant(heads, head_dim, is_fp4, _OUT[dtype], sizes), arch, sm120)
    return kernel, sizes["chunk"]


def _span(x: torch.Tensor, rows: int, row_len: int, stride: int) -> torch.Tensor:
    """1-D view of ``rows`` rows of ``row_len`` elements, ``stride`` apart, starting at ``x``'s first element."""
    return x.as_strided(((rows - 1) * stride + row_len,), (1,), x.storage_offset())


def _values(x: torch.Tensor, fp4: bool) -> torch.Tensor:
    return x.view(torch.uint8 if fp4 else torch.float8_e4m3fn)


def get_paged_mqa_logits_metadata(call: MetadataCall) -> torch.Tensor:
    device = call.context_lens.device
    if call.batch == 0:  # every row is the sentinel (0, 0)
        return torch.zeros((call.num_sms + 1, 2), dtype=torch.int32, device=device)
    kernel, split_kv = _metadata_plan(device, _settings(), call.batch)
    meta = torch.empty((call.num_sms + 1, 2), dtype=torch.int32, device=device)
    kernel(call.context_lens.reshape(-1), meta.view(-1), call.batch, call.next_n if call.lens_2d else 1,
           call.num_sms, split_kv)
    return meta


def paged_mqa_logits(call: PagedCall, out: torch.Tensor) -> None:
    """Fill ``out`` (``[B * next_n, width]`` view)."""
    if call.rows == 0 or call.width == 0:
        return
    kernel, row_blocks, split_kv = _paged_plan(call.q.device, _settings(), call.num_heads, call.head_dim,
                                               call.next_n, call.batch, call.is_fp4, out.dtype)
    dq = call.head_dim // 2 if call.is_fp4 else call.head_dim
    kv, page = call.kv_cache, page_bytes(call.block_kv, call.head_dim, call.is_fp4)
    kv_bytes = _span(kv.view(torch.uint8), call.num_blocks, page, kv.stride(0))
    scales = kv_bytes.view(torch.int32 if call.is_fp4 else torch.float32)
    q_sf = call.q_sf.reshape(-1) if call.is_fp4 else call.context_lens.reshape(-1)  # unread placeholder for FP8
    table = call.block_table
    kernel(_values(call.q, call.is_fp4).reshape(-1, dq), q_sf, _values(kv_bytes, call.is_fp4), scales,
           _span(call.weights, call.rows, call.num_heads, call.weights.stride(0)), call.context_lens.reshape(-1),
           _span(table, call.batch, table.shape[1], table.stride(0)), _span(out, call.rows, call.width, out.stride(0)),
           call.batch, call.next_n, row_blocks, ceil_div(call.width, split_kv), split_kv, call.weights.stride(0),
           table.stride(0), kv.stride(0) // 16, out.stride(0),
           call.num_blocks, call.width, table.shape[1], call.block_kv, call.block_kv.bit_length() - 1,
           int(call.lens_2d), int(call.clean_logits))


def mqa_logits(call: RaggedCall, out: torch.Tensor) -> None:
    """Fill ``out`` (``[seq_len, width]`` view)."""
    if call.seq_len == 0 or call.width == 0:
        return
    if call.seq_len_kv == 0:  # no key is valid anywhere
        if call.clean_logits:
            out.fill_(float("-inf"))
        return
    settings = _settings()
    bounds = _ragged_bounds(call.q.device, settings)  # the plan goes by the bucket that holds the tokens
    kernel, chunk = _ragged_plan(call.q.device, settings, call.num_heads, call.head_dim, call.is_fp4, out.dtype,
                                 tables.bucket(bounds, call.seq_len * call.width))
    dq = call.head_dim // 2 if call.is_fp4 else call.head_dim
    q_sf = call.q_sf.reshape(-1) if call.is_fp4 else call.ks  # unread placeholder for FP8
    kernel(_values(call.q, call.is_fp4).reshape(-1, dq), q_sf, _values(call.kv, call.is_fp4), call.kv_sf,
           _span(call.weights, call.seq_len, call.num_heads, call.weights.stride(0)), call.ks, call.ke,
           _span(out, call.seq_len, call.width, out.stride(0)),
           ceil_div(call.width, chunk), call.weights.stride(0), out.stride(0), call.width,
           int(call.clean_logits), int(call.max_seqlen_k > 0))
