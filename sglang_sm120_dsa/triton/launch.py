"""Launchers of the Triton family: map a validated call to a kernel launch.

Grids come from shapes only and every runtime integer is unspecialized, so one compiled variant per
(arch, operand mode, H, D, tile config, whether a tile lies in one page) serves every batch and context length,
and :func:`warmup` can compile them all before CUDA-graph capture.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import torch

from .. import configs as tables
from .. import envs
from .._checks import MetadataCall
from .._checks import PagedCall
from .._checks import RaggedCall
from ..layout import ceil_div
from . import fastlaunch
from .config import ATOM
from .config import CLEAN_BLOCK
from .config import arch_of
from .config import fp8_mode
from .config import log2_split
from .config import lowering
from .config import metadata_launch
from .config import one_page
from .config import paged_constexprs
from .config import paged_family
from .config import paged_tiles
from .config import programs_per_sm
from .config import ragged_buckets
from .config import ragged_constexprs
from .config import ragged_tiles
from .config import rows_per_group
from .config import sm90_tf32
from .kernels.decode import MODE_BYTES
from .kernels.decode import MODE_FP4
from .kernels.decode import MODE_NATIVE
from .kernels.metadata import _dsa_paged_mqa_metadata_kernel
from .kernels.paged import _dsa_paged_clean_logits_kernel
from .kernels.paged import _dsa_paged_mqa_logits_kernel
from .kernels.paged_sm90 import BLOCK_T as SM90_BLOCK_T
from .kernels.paged_sm90 import _dsa_paged_sm90_kernel
from .kernels.ragged import _dsa_mqa_logits_kernel

_ASM = os.environ.get("TRITON_INTERPRET") != "1"  # PTX decoding in compiled kernels; the interpreter runs none
# (the logits are passed as bytes: the kernels index them in elements of the runtime dtype)
_U8, _I32, _F32 = torch.uint8, torch.int32, torch.float32


def _settings() -> tuple[str | None, ...]:
    """The environment the launch choices read (operand mode, SM90 kernel, emulated arch): part of every plan's key,
    so that a changed setting takes effect at the next call."""
    return envs.TRITON_FP8.raw(), envs.TRITON_SM90.raw(), envs.TRITON_ARCH.raw()


def _operand(mode: int) -> torch.dtype:
    """Native mode takes e4m3 views, so the tiles stay in shared memory for the MMA; the other modes take bytes."""
    return torch.float8_e4m3fn if mode == MODE_NATIVE.value else _U8


def _mode(is_fp4: bool, device: torch.device, mode: int | None) -> int:
    """MXFP4's one operand mode, else the FP8 ``mode`` asked for (warmup, tuning), else the arch's."""
    if is_fp4:
        return MODE_FP4.value
    return mode if mode is not None else fp8_mode(device)


def _options(tiles: dict, lower: dict) -> dict:
    """Launch options of a tile config: warps and, when the table sets it, a register cap (occupancy); ``lower``:
    :func:`config.lowering`."""
    options = {"num_warps": tiles["num_warps"], "num_stages": 1, **lower}
    if tiles.get("maxnreg"):
        options["maxnreg"] = tiles["maxnreg"]
    return options


# Plans: everything a launch needs that the call's shapes, flags and settings decide (tiles, kernel variant, grid,
# constant arguments), computed once per key; a call then only gathers its pointers and sizes. The keys hold
# shapes that take few values (batch, heads) and never a length: the ragged plan goes by the table's bucket.


def forget_plans() -> None:
    """Drop every cached plan and kernel (tests that replace the jitted kernels, or change the tables)."""
    for plan in (_metadata_plan, _paged_plan, _ragged_plan, _ragged_buckets):
        plan.cache_clear()
    fastlaunch.forget()


@functools.lru_cache(maxsize=1024)
def _metadata_plan(device: torch.device, settings: tuple, batch: int, row_lens: int, num_sms: int) -> tuple:
    arch = arch_of(device)
    constexprs, num_warps = metadata_launch(batch, row_lens)
    kernel = fastlaunch.kernel(_dsa_paged_mqa_metadata_kernel, (_I32, _I32, _I32), constexprs,
                               {"num_warps": num_warps, **lowering(arch, device)})
    return kernel, (ceil_div(num_sms + 1, constexprs["SM_TILE"]),), log2_split(paged_family(arch, batch))


def get_paged_mqa_logits_metadata(call: MetadataCall) -> torch.Tensor:
    device = call.context_lens.device
    kernel, grid, log2 = _metadata_plan(device, _settings(), call.batch, call.next_n if call.lens_2d else 1,
                                        call.num_sms)
    meta = torch.empty((call.num_sms + 1, 2), dtype=_I32, device=device)
    idx = call.indices if call.indices is not None else call.context_lens
    kernel(grid, (call.context_lens, idx, meta), (call.batch, call.next_n, int(call.lens_2d),
                                                  int(call.indices is not None), call.num_sms, log2))
    return meta


def sm90_applies(arch: int | None, mode: int, tiles: dict, *, varlen: bool, next_n: int, head_dim: int,
                 block_kv: int) -> dict | None:
    """The SM90 Gluon kernel's settings for a call (the tile entry's ``sm90`` section), or None for the tl kernel:
    on sm_90 with FP8 keys (native or bytes) where the entry has the section and ``SGLANG_SM120_DSA_TRITON_SM90``
    allows it, for the calls that kernel serves: next_n <= 2 rows per request (no varlen ``indices``), head_dim
    128, pages holding whole 64-token tiles."""
    entry = tiles.get("sm90")
    if (not entry or arch != 90 or mode == MODE_FP4.value or varlen or next_n > 2 or head_dim != 128
            or block_kv < SM90_BLOCK_T.value or envs.TRITON_SM90.choice() == "off"):
        return None
    return entry


@dataclass(frozen=True)
class PagedPlan:
    kernel: fastlaunch.Kernel  # the Gluon kernel (sm90) or the tl kernel
    sm90: bool
    mode: int
    grid: tuple
    consts: tuple  # the kernel's trailing runtime integers, fixed by the key
    clean: fastlaunch.Kernel


def _make_paged_plan(device: torch.device, settings: tuple, heads: int, head_dim: int, next_n: int, batch: int,
                     block_kv: int, varlen: bool, lens_2d: bool, is_fp4: bool, dtype: torch.dtype, num_sms: int,
                     tiles: dict | None = None, mode: int | None = None) -> PagedPlan:
    arch = arch_of(device)
    mode = _mode(is_fp4, device, mode)
    family = paged_family(arch, batch)
    tiles = tiles or paged_tiles(arch, mode, heads, next_n, batch)
    lower = lowering(arch, device)
    bf16 = dtype == torch.bfloat16
    operand = _operand(mode)
    log2_block_kv = block_kv.bit_length() - 1
    clean = fastlaunch.kernel(_dsa_paged_clean_logits_kernel, (_I32, _U8), {"BLOCK": CLEAN_BLOCK}, lower)
    entry = sm90_applies(arch, mode, tiles, varlen=varlen, next_n=next_n, head_dim=head_dim, block_kv=block_kv)
    if entry:
        options = {"num_warps": 4, **({"maxnreg": entry["maxnreg"]} if entry.get("maxnreg") else {})}
        constexprs = {"H": heads, "D": head_dim, "R": next_n, "AHEAD": entry["ahead"], "OUT_BF16": bf16,
                      "BYTES": mode == MODE_BYTES.value, "TF32": sm90_tf32(entry)}
        kernel = fastlaunch.kernel(_dsa_paged_sm90_kernel, (operand, operand, _F32, _I32, _I32, _I32, _U8),
                                   constexprs, options)
        programs = entry["programs_per_sm"]
        consts = (log2_block_kv, int(lens_2d), log2_split(family), programs)
        return PagedPlan(kernel, True, mode, (num_sms * programs,), consts, clean)
    group = rows_per_group(heads, ATOM if varlen else next_n)  # rows per dot
    one = one_page(block_kv, tiles)
    programs = programs_per_sm(tiles, one)
    constexprs = paged_constexprs(arch, mode, heads, head_dim, group, tiles, one, _ASM)
    # q_sf: the query scales (MXFP4), else q's bytes as an unused placeholder (no FP8 type enters the signature:
    # Triton refuses e4m3 pointers below SM89 even unused; aot._signature compiles the same)
    views = (operand, _I32 if is_fp4 else _U8, operand, _F32, _I32, _I32, _I32, _I32, _U8)
    kernel = fastlaunch.kernel(_dsa_paged_mqa_logits_kernel, views, constexprs, _options(tiles, lower))
    consts = (block_kv, log2_block_kv, int(lens_2d), int(varlen), int(bf16), log2_split(family), programs)
    return PagedPlan(kernel, False, mode, (num_sms * programs,), consts, clean)


_paged_plan = functools.lru_cache(maxsize=1024)(_make_paged_plan)


def _paged_sm90(plan: PagedPlan, ptrs: tuple, ints: tuple, mode: int) -> None:
    """The Gluon kernel's launch (its own function: GPU tests check which calls reach it)."""
    plan.kernel(plan.grid, ptrs, ints)


def paged_mqa_logits(call: PagedCall, out: torch.Tensor, tiles: dict | None = None, mode: int | None = None) -> None:
    """Fill ``out`` (``[B * next_n, width]`` view); ``tiles`` and ``mode`` override the table and the arch's
    operand mode (warmup, tuning)."""
    if call.rows == 0 or call.width == 0:
        return
    key = (call.q.device, _settings(), call.num_heads, call.head_dim, call.next_n, call.batch, call.block_kv,
           call.indices is not None, call.lens_2d, call.is_fp4, out.dtype, call.schedule_meta.shape[0] - 1)
    plan = _paged_plan(*key) if tiles is None and mode is None else _make_paged_plan(*key, tiles, mode)
    table_width = call.block_table.shape[1]
    # A block table without columns addresses no token (every row's valid set is empty), and the kernel's page-id
    # loads clamp their column into [0, table_width): only the cleaner has work then.
    if table_width > 0:
        ints = (call.weights.stride(0), call.block_table.stride(0), call.kv_cache.stride(0), out.stride(0),
                call.batch, call.next_n, call.num_blocks, call.width, table_width, *plan.consts)
        if plan.sm90:
            _paged_sm90(plan, (call.q, call.kv_cache, call.weights, call.context_lens, call.block_table,
                               call.schedule_meta, out), ints, plan.mode)
        else:
            idx = call.indices if call.indices is not None else call.context_lens
            plan.kernel(plan.grid, (call.q, call.q_sf if call.is_fp4 else call.q, call.kv_cache, call.weights,
                                    call.context_lens, call.block_table, call.schedule_meta, idx, out), ints)
    if call.clean_logits:
        plan.clean((call.rows, ceil_div(call.width, CLEAN_BLOCK)), (call.context_lens, out),
                   (out.stride(0), call.next_n, call.width, table_width * call.block_kv, int(call.lens_2d),
                    int(out.dtype == torch.bfloat16)))


@functools.lru_cache(maxsize=256)
def _ragged_buckets(device: torch.device, settings: tuple, heads: int, head_dim: int, is_fp4: bool) -> tuple:
    return ragged_buckets(arch_of(device), _mode(is_fp4, device, None), heads, head_dim)


def _make_ragged_plan(device: torch.device, settings: tuple, heads: int, head_dim: int, is_fp4: bool, tokens: float,
                      tiles: dict | None = None, mode: int | None = None) -> tuple:
    arch = arch_of(device)
    mode = _mode(is_fp4, device, mode)
    tiles = tiles or ragged_tiles(arch, mode, heads, head_dim, tokens)
    constexprs = ragged_constexprs(arch, mode, heads, head_dim, tiles, _ASM)
    operand = _operand(mode)
    views = (operand, _I32 if is_fp4 else _U8, operand, _I32 if is_fp4 else _F32, _F32, _I32, _I32, _U8)
    kernel = fastlaunch.kernel(_dsa_mqa_logits_kernel, views, constexprs, _options(tiles, lowering(arch, device)))
    return kernel, constexprs["BLOCK_Q"], tiles["chunk"]


_ragged_plan = functools.lru_cache(maxsize=256)(_make_ragged_plan)


def mqa_logits(call: RaggedCall, out: torch.Tensor, tiles: dict | None = None, mode: int | None = None) -> None:
    """Fill ``out`` (``[seq_len, width]`` view); ``tiles`` and ``mode`` override the table and the operand mode."""
    if call.seq_len == 0 or call.width == 0:
        return
    key = (call.q.device, _settings(), call.num_heads, call.head_dim, call.is_fp4)
    tokens = call.seq_len * call.width
    if tiles is None and mode is None:
        # the plan goes by the bucket that holds tokens (config.ragged_tiles)
        kernel, block_q, chunk = _ragged_plan(*key, tables.bucket(_ragged_buckets(*key), tokens))
    else:
        kernel, block_q, chunk = _make_ragged_plan(*key, tokens, tiles, mode)
    kernel((ceil_div(call.seq_len, block_q), ceil_div(call.width, chunk)),
           (call.q, call.q_sf if call.is_fp4 else call.q, call.kv, call.kv_sf, call.weights, call.ks, call.ke, out),
           (call.weights.stride(0), out.stride(0), call.seq_len, call.seq_len_kv, call.width, int(call.clean_logits),
            int(call.max_seqlen_k > 0), int(out.dtype == torch.bfloat16)))
