"""Launchers of the Triton family: map a validated call to a kernel launch.

Grids come from shapes only and every runtime integer is unspecialized, so one compiled variant per
(arch, operand mode, H, D, tile config, whether a tile lies in one page) serves every batch and context length,
and :func:`warmup` can compile them all before CUDA-graph capture.
"""

from __future__ import annotations

import os

import torch
import triton

from .. import envs
from .._checks import MetadataCall
from .._checks import PagedCall
from .._checks import RaggedCall
from .config import ATOM
from .config import CLEAN_BLOCK
from .config import arch_of
from .config import fp8_mode
from .config import fragment_order
from .config import log2_split
from .config import lowering
from .config import metadata_launch
from .config import one_page
from .config import paged_family
from .config import paged_tiles
from .config import programs_per_sm
from .config import ragged_block_q
from .config import ragged_fragment
from .config import ragged_row_dots
from .config import ragged_tiles
from .config import rows_per_group
from .config import split_heads
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


def _bytes(out: torch.Tensor) -> torch.Tensor:
    """The logits view as uint8 (same base pointer); the kernels index it in elements of the runtime dtype."""
    return out.view(torch.uint8)


def _operand(x: torch.Tensor, mode: int) -> torch.Tensor:
    """Native mode takes e4m3 views, so the tiles stay in shared memory for the MMA; the other modes take bytes."""
    return x.view(torch.float8_e4m3fn if mode == MODE_NATIVE.value else torch.uint8)


def _q_sf(call) -> torch.Tensor:
    """The query scales (MXFP4), else any tensor as an unused placeholder: a byte view, so that no FP8 type enters the
    kernel's signature (Triton refuses e4m3 pointers below SM89 even unused) and every launch has the signature the
    ahead-of-time checks compile (aot._signature)."""
    return call.q_sf if call.is_fp4 else call.q.view(torch.uint8)


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


def get_paged_mqa_logits_metadata(call: MetadataCall) -> torch.Tensor:
    arch = arch_of(call.context_lens.device)
    family = paged_family(arch, call.batch)
    meta = torch.empty((call.num_sms + 1, 2), dtype=torch.int32, device=call.context_lens.device)
    constexprs, num_warps = metadata_launch(call.batch, call.next_n if call.lens_2d else 1)
    grid = (triton.cdiv(call.num_sms + 1, constexprs["SM_TILE"]),)
    idx = call.indices if call.indices is not None else call.context_lens
    _dsa_paged_mqa_metadata_kernel[grid](
        call.context_lens, idx, meta, call.batch, call.next_n, int(call.lens_2d), int(call.indices is not None),
        call.num_sms, log2_split(family), num_warps=num_warps, **constexprs,
        **lowering(arch, call.context_lens.device))
    return meta


def sm90_applies(call: PagedCall, arch: int | None, mode: int, tiles: dict) -> dict | None:
    """The SM90 Gluon kernel's settings for this call (the tile entry's ``sm90`` section), or None for the tl kernel:
    on sm_90 with FP8 keys (native or bytes) where the entry has the section and ``SGLANG_SM120_DSA_TRITON_SM90``
    allows it, for the calls that kernel serves: next_n <= 2 rows per request (no varlen ``indices``), head_dim
    128, pages holding whole 64-token tiles."""
    entry = tiles.get("sm90")
    if (not entry or arch != 90 or mode == MODE_FP4.value or call.indices is not None or call.next_n > 2
            or call.head_dim != 128 or call.block_kv < SM90_BLOCK_T.value or envs.TRITON_SM90.choice() == "off"):
        return None
    return entry


def _paged_sm90(call: PagedCall, out: torch.Tensor, entry: dict, family: dict, num_sms: int, mode: int) -> None:
    options = {"num_warps": 4, **({"maxnreg": entry["maxnreg"]} if entry.get("maxnreg") else {})}
    _dsa_paged_sm90_kernel[(num_sms * entry["programs_per_sm"],)](
        _operand(call.q, mode), _operand(call.kv_cache, mode), call.weights,
        call.context_lens, call.block_table, call.schedule_meta, _bytes(out),
        call.weights.stride(0), call.block_table.stride(0), call.kv_cache.stride(0), out.stride(0),
        call.batch, call.next_n, call.num_blocks, call.width, call.block_table.shape[1],
        call.block_kv.bit_length() - 1, int(call.lens_2d), log2_split(family), entry["programs_per_sm"],
        H=call.num_heads, D=call.head_dim, R=call.next_n, AHEAD=entry["ahead"],
        OUT_BF16=out.dtype == torch.bfloat16, BYTES=mode == MODE_BYTES.value, **options)


def paged_mqa_logits(call: PagedCall, out: torch.Tensor, tiles: dict | None = None, mode: int | None = None) -> None:
    """Fill ``out`` (``[B * next_n, width]`` view); ``tiles`` and ``mode`` override the table and the arch's
    operand mode (warmup, tuning)."""
    if call.rows == 0 or call.width == 0:
        return
    arch = arch_of(call.q.device)
    mode = _mode(call.is_fp4, call.q.device, mode)
    family = paged_family(arch, call.batch)
    tiles = tiles or paged_tiles(arch, mode, call.num_heads, call.next_n, call.batch)
    group = rows_per_group(call.num_heads, ATOM if call.indices is not None else call.next_n)  # rows per dot
    q_sf = _q_sf(call)
    idx = call.indices if call.indices is not None else call.context_lens
    num_sms = call.schedule_meta.shape[0] - 1
    one = one_page(call.block_kv, tiles)
    programs = programs_per_sm(tiles, one)
    out_bf16 = int(out.dtype == torch.bfloat16)
    lower = lowering(arch, call.q.device)
    sm90 = sm90_applies(call, arch, mode, tiles)
    # A block table without columns addresses no token (every row's valid set is empty), and the kernel's page-id
    # loads clamp their column into [0, table_width): only the cleaner has work then.
    if call.block_table.shape[1] > 0 and sm90:
        _paged_sm90(call, out, sm90, family, num_sms, mode)
    elif call.block_table.shape[1] > 0:
        _dsa_paged_mqa_logits_kernel[(num_sms * programs,)](
            _operand(call.q, mode), q_sf, _operand(call.kv_cache, mode), call.weights, call.context_lens,
            call.block_table, call.schedule_meta, idx, _bytes(out),
            call.weights.stride(0), call.block_table.stride(0), call.kv_cache.stride(0), out.stride(0),
            call.batch, call.next_n, call.num_blocks, call.width, call.block_table.shape[1], call.block_kv,
            call.block_kv.bit_length() - 1, int(call.lens_2d), int(call.indices is not None), out_bf16,
            log2_split(family), programs,
            H=call.num_heads, D=call.head_dim, ROWS=group, BLOCK_T=tiles["block_t"],
            ATOM=ATOM, MODE=mode, NUM_STAGES=tiles["num_stages"], ONE_PAGE=one,
            ASM=_ASM, FRAGMENT=fragment_order(arch, mode, call.num_heads, group),
            SPLIT=split_heads(arch, mode, call.num_heads, group), **_options(tiles, lower))
    if call.clean_logits:
        _dsa_paged_clean_logits_kernel[(call.rows, triton.cdiv(call.width, CLEAN_BLOCK))](
            call.context_lens, _bytes(out), out.stride(0), call.next_n, call.width,
            call.block_table.shape[1] * call.block_kv, int(call.lens_2d), out_bf16, BLOCK=CLEAN_BLOCK, **lower)


def mqa_logits(call: RaggedCall, out: torch.Tensor, tiles: dict | None = None, mode: int | None = None) -> None:
    """Fill ``out`` (``[seq_len, width]`` view); ``tiles`` and ``mode`` override the table and the operand mode."""
    if call.seq_len == 0 or call.width == 0:
        return
    arch = arch_of(call.q.device)
    mode = _mode(call.is_fp4, call.q.device, mode)
    tiles = tiles or ragged_tiles(arch, mode, call.num_heads, call.head_dim, call.seq_len * call.width)
    block_q = ragged_block_q(call.num_heads)
    q_sf = _q_sf(call)
    grid = (triton.cdiv(call.seq_len, block_q), triton.cdiv(call.width, tiles["chunk"]))
    _dsa_mqa_logits_kernel[grid](
        _operand(call.q, mode), q_sf, _operand(call.kv, mode), call.kv_sf, call.weights, call.ks, call.ke,
        _bytes(out), call.weights.stride(0), out.stride(0), call.seq_len, call.seq_len_kv, call.width,
        int(call.clean_logits), int(call.max_seqlen_k > 0), int(out.dtype == torch.bfloat16),
        H=call.num_heads, D=call.head_dim, BLOCK_Q=block_q, BLOCK_KV=tiles["block_kv"], CHUNK=tiles["chunk"],
        MODE=mode, NUM_STAGES=tiles["num_stages"], ASM=_ASM, FRAGMENT=ragged_fragment(arch, mode, call.num_heads),
        ROW_DOTS=ragged_row_dots(arch, call.num_heads),
        **_options(tiles, lowering(arch, call.q.device)))
