"""Ragged (prefill) indexer logits: ``_dsa_mqa_logits_kernel``.

Grid ``(row blocks, column chunks)``: a program owns ``BLOCK_Q`` query rows (``BLOCK_Q * H`` MMA columns) and
``CHUNK`` output columns, and scans the key tiles those columns need, so every output element has exactly one
writer (deterministic) and long rows spread over many programs. ``ROW_DOTS`` (config.ragged_row_dots): each of
the two rows gets a dot of its own instead of one over both rows' heads. Column ``j`` of row ``i`` holds key
``base_i + j`` with ``base = 0`` (plain) or ``ks[i]`` (compressed, ``max_seqlen_k > 0``); a key is valid for row
``i`` when ``max(ks, 0) <= key < min(ke, seq_len_kv)``. Plain output: scanned tiles store values or ``-inf``,
and with ``clean`` the chunk's columns outside the scan get ``-inf``. Compressed output: only valid columns are
stored, after a ``-inf`` prefill of the chunk when ``clean``. The logits buffer is passed as bytes with the dtype
a runtime flag (one compiled variant for both).
"""

from __future__ import annotations

import triton
import triton.language as tl

from .decode import MODE_FP4
from .decode import decode_operand
from .decode import head_sum
from .decode import load_query
from .decode import load_rows
from .decode import row_sums
from .decode import store_logits
from .decode import times_key_scale

_RUNTIME_INTS = ["stride_w", "seq_len", "seq_len_kv", "width", "clean", "compressed", "out_bf16"]  # stride_out: x16
_ANY_ALIGNMENT = ["q_sf_ptr", "w_ptr", "ks_ptr", "ke_ptr"]


@triton.jit
def _store_neg_inf(out_ptr, out_rows, ok_r, c_begin, c_end, out_bf16, ROWS: tl.constexpr, BLOCK: tl.constexpr):
    """``-inf`` on columns ``[c_begin, c_end)`` of the given rows (``out_rows``: element offsets of the rows)."""
    neg_inf = tl.full([ROWS, BLOCK], float("-inf"), tl.float32)
    for c in range(c_begin, c_end, BLOCK):
        cols = c + tl.arange(0, BLOCK)
        store_logits(out_ptr, out_rows[:, None] + cols[None, :], neg_inf, ok_r[:, None] & (cols < c_end)[None, :],
                     out_bf16)


@triton.jit(do_not_specialize=_RUNTIME_INTS, do_not_specialize_on_alignment=_ANY_ALIGNMENT)
def _dsa_mqa_logits_kernel(
        q_ptr, q_sf_ptr, kv_ptr, kv_sf_ptr, w_ptr, ks_ptr, ke_ptr, out_ptr,
        stride_w, stride_out, seq_len, seq_len_kv, width, clean, compressed, out_bf16,  #
        H: tl.constexpr, D: tl.constexpr, BLOCK_Q: tl.constexpr, BLOCK_KV: tl.constexpr, CHUNK: tl.constexpr,
        MODE: tl.constexpr, NUM_STAGES: tl.constexpr, ASM: tl.constexpr, FRAGMENT: tl.constexpr,
        ROW_DOTS: tl.constexpr, LANE_SUMS: tl.constexpr):
    DQ: tl.constexpr = D // 2 if MODE == MODE_FP4 else D
    rr = tl.arange(0, BLOCK_Q)
    rows = tl.program_id(0) * BLOCK_Q + rr
    ok_r = rows < seq_len
    c0 = tl.program_id(1) * CHUNK
    c_end = tl.minimum(c0 + CHUNK, width)
    ks = tl.load(ks_ptr + rows, mask=ok_r, other=0).to(tl.int64)
    ke = tl.load(ke_ptr + rows, mask=ok_r, other=0).to(tl.int64)
    lo = tl.maximum(ks, 0)
    hi = tl.minimum(ke, seq_len_kv)
    base = tl.where(compressed != 0, ks, 0)
    # keys this program's columns need, per row, and their union
    k_lo = tl.maximum(base + c0, lo)
    k_hi = tl.minimum(base + c_end, hi)
    has = ok_r & (k_hi > k_lo)
    any_keys = tl.max(has.to(tl.int32), axis=0) > 0
    tile_lo = tl.where(any_keys, tl.min(tl.where(has, k_lo, 2**62), axis=0) // BLOCK_KV, c0 // BLOCK_KV)
    tile_hi = tl.where(any_keys, tl.cdiv(tl.max(tl.where(has, k_hi, 0), axis=0), BLOCK_KV), c0 // BLOCK_KV)
    out_rows = rows.to(tl.int64) * stride_out
    if clean != 0:
        if compressed != 0:
            _store_neg_inf(out_ptr, out_rows, ok_r, c0, c_end, out_bf16, BLOCK_Q, BLOCK_KV)
            tl.debug_barrier()  # the valid stores below must land after these, also from other threads
        else:
            _store_neg_inf(out_ptr, out_rows, ok_r, c0, tl.minimum(tile_lo * BLOCK_KV, c_end), out_bf16, BLOCK_Q,
                           BLOCK_KV)
            _store_neg_inf(out_ptr, out_rows, ok_r, tl.maximum(tile_hi * BLOCK_KV, c0), c_end, out_bf16, BLOCK_Q,
                           BLOCK_KV)

    if ROW_DOTS:
        _row_dots(q_ptr, q_sf_ptr, kv_ptr, kv_sf_ptr, w_ptr, out_ptr, stride_w, seq_len, seq_len_kv, compressed,
                  out_bf16, rows, ok_r, lo, hi, base, out_rows, c0, c_end, tile_lo, tile_hi, H, DQ, BLOCK_Q,
                  BLOCK_KV, MODE, NUM_STAGES, ASM, FRAGMENT)
    else:
        _one_dot(q_ptr, q_sf_ptr, kv_ptr, kv_sf_ptr, w_ptr, out_ptr, stride_w, seq_len, seq_len_kv, compressed,
                 out_bf16, ok_r, lo, hi, base, out_rows, c0, c_end, tile_lo, tile_hi, H, DQ, BLOCK_Q, BLOCK_KV,
                 MODE, NUM_STAGES, ASM, FRAGMENT, LANE_SUMS)


@triton.jit
def _keys(kv_ptr, kv_sf_ptr, t, seq_len_kv, DQ: tl.constexpr, BLOCK_KV: tl.constexpr, MODE: tl.constexpr,
          ASM: tl.constexpr, FRAGMENT: tl.constexpr):
    """(key indices, their scales, the MMA operand) of key tile ``t`` (scales 0 for MXFP4: in the operand)."""
    key = t * BLOCK_KV + tl.arange(0, BLOCK_KV).to(tl.int64)  # t is int64: tile_lo/hi come from int64 keys
    k_ok = (key >= 0) & (key < seq_len_kv)
    k = decode_operand(load_rows(kv_ptr + key * DQ, k_ok, MODE, DQ), kv_sf_ptr + key, k_ok, MODE, ASM, FRAGMENT)
    kscale = tl.zeros([BLOCK_KV], tl.float32)
    if MODE != MODE_FP4:
        kscale = tl.load(kv_sf_ptr + key, mask=k_ok, other=0.0)
    return key, kscale, k


@triton.jit
def _one_dot(q_ptr, q_sf_ptr, kv_ptr, kv_sf_ptr, w_ptr, out_ptr, stride_w, seq_len, seq_len_kv, compressed, out_bf16,
             ok_r, lo, hi, base, out_rows, c0, c_end, tile_lo, tile_hi, H: tl.constexpr, DQ: tl.constexpr,
             BLOCK_Q: tl.constexpr, BLOCK_KV: tl.constexpr, MODE: tl.constexpr, NUM_STAGES: tl.constexpr,
             ASM: tl.constexpr, FRAGMENT: tl.constexpr, LANE_SUMS: tl.constexpr):
    """The program's key tiles with one dot over all its rows' heads ``[BLOCK_KV, BLOCK_Q * H]``; ``LANE_SUMS``
    (config.ragged_lane_sums): the head sums as ``decode.row_sums``' FFMA chains, else ``tl.sum``'s tree."""
    n = tl.arange(0, BLOCK_Q * H)
    qt, w = load_query(q_ptr, q_sf_ptr, w_ptr, stride_w, 0, tl.program_id(0) * BLOCK_Q, n, seq_len, H, MODE, ASM,
                       FRAGMENT, DQ)
    for t in tl.range(tile_lo, tile_hi, num_stages=NUM_STAGES):
        key, kscale, k = _keys(kv_ptr, kv_sf_ptr, t, seq_len_kv, DQ, BLOCK_KV, MODE, ASM, FRAGMENT)
        scores = tl.dot(k, qt)  # [BLOCK_KV, N]
        logits = row_sums(scores, w, BLOCK_Q, LANE_SUMS)  # [BLOCK_KV, BLOCK_Q]
        if MODE != MODE_FP4:
            logits = times_key_scale(logits, kscale, MODE)
        logits = tl.trans(logits)  # [BLOCK_Q, BLOCK_KV]
        _store_tile(out_ptr, logits, key[None, :], lo[:, None], hi[:, None], base[:, None], out_rows[:, None],
                    ok_r[:, None], c0, c_end, compressed, out_bf16)


@triton.jit
def _store_tile(out_ptr, logits, key, lo, hi, base, row_off, ok, c0, c_end, compressed, out_bf16):
    """A key tile's logits (key-scaled): ``-inf`` outside each row's valid keys ``[lo, hi)``, stored at column
    ``key - base`` of rows at element offsets ``row_off`` where ``ok``, on the chunk's columns. Broadcast shapes:
    ``[BLOCK_Q, BLOCK_KV]`` for _one_dot, ``[BLOCK_KV]`` with per-row scalars for _row_dots."""
    valid = (key >= lo) & (key < hi)
    col = key - base
    # plain rows store every column they scan; compressed rows only their valid ones (see the prefill)
    plain = (tl.zeros_like(col) + compressed) == 0  # a tensor also under the interpreter, where ints stay ints
    in_cols = ok & (col >= c0) & (col < c_end) & (valid | plain)
    store_logits(out_ptr, row_off + col, tl.where(valid, logits, float("-inf")), in_cols, out_bf16)


@triton.jit
def _pick(x, rr, i):
    """Entry ``i`` of a per-row vector, as a scalar."""
    return tl.sum(tl.where(rr == i, x, 0), axis=0)


@triton.jit
def _row_dots(q_ptr, q_sf_ptr, kv_ptr, kv_sf_ptr, w_ptr, out_ptr, stride_w, seq_len, seq_len_kv, compressed,
              out_bf16, rows, ok_r, lo, hi, base, out_rows, c0, c_end, tile_lo, tile_hi, H: tl.constexpr,
              DQ: tl.constexpr, BLOCK_Q: tl.constexpr, BLOCK_KV: tl.constexpr, MODE: tl.constexpr,
              NUM_STAGES: tl.constexpr, ASM: tl.constexpr, FRAGMENT: tl.constexpr):
    """The program's key tiles with a dot per row ``[BLOCK_KV, H]`` (two rows, config.ragged_row_dots) and a 1-D
    epilogue per row in the MMA's row layout."""
    tl.static_assert(BLOCK_Q == 2)
    rr = tl.arange(0, BLOCK_Q)
    n = tl.arange(0, H)
    q0, w0 = load_query(q_ptr, q_sf_ptr, w_ptr, stride_w, 0, _pick(rows, rr, 0), n, seq_len, H, MODE, ASM,
                        FRAGMENT, DQ)
    q1, w1 = load_query(q_ptr, q_sf_ptr, w_ptr, stride_w, 0, _pick(rows, rr, 1), n, seq_len, H, MODE, ASM,
                        FRAGMENT, DQ)
    lo0, hi0, base0, off0 = _pick(lo, rr, 0), _pick(hi, rr, 0), _pick(base, rr, 0), _pick(out_rows, rr, 0)
    lo1, hi1, base1, off1 = _pick(lo, rr, 1), _pick(hi, rr, 1), _pick(base, rr, 1), _pick(out_rows, rr, 1)
    # the rows' store masks as tensors (a scalar bool mask trips the interpreter)
    ok0 = tl.zeros([BLOCK_KV], tl.int32) + _pick(ok_r.to(tl.int32), rr, 0) != 0
    ok1 = tl.zeros([BLOCK_KV], tl.int32) + _pick(ok_r.to(tl.int32), rr, 1) != 0
    for t in tl.range(tile_lo, tile_hi, num_stages=NUM_STAGES):
        key, kscale, k = _keys(kv_ptr, kv_sf_ptr, t, seq_len_kv, DQ, BLOCK_KV, MODE, ASM, FRAGMENT)
        l0 = head_sum(k, q0, w0)
        l1 = head_sum(k, q1, w1)
        if MODE != MODE_FP4:
            l0 = tl.reshape(times_key_scale(l0[:, None], kscale, MODE), [BLOCK_KV])
            l1 = tl.reshape(times_key_scale(l1[:, None], kscale, MODE), [BLOCK_KV])
        _store_tile(out_ptr, l0, key, lo0, hi0, base0, off0, ok0, c0, c_end, compressed, out_bf16)
        _store_tile(out_ptr, l1, key, lo1, hi1, base1, off1, ok1, c0, c_end, compressed, out_bf16)
