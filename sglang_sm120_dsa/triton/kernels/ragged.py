"""Ragged (prefill) indexer logits: ``_dsa_mqa_logits_kernel``.

Grid ``(row blocks, column chunks)``: a program owns ``BLOCK_Q`` query rows (``BLOCK_Q * H`` MMA columns) and
``CHUNK`` output columns, and scans the key tiles those columns need, so every output element has exactly one
writer (deterministic) and long rows spread over many programs. Column ``j`` of row ``i`` holds key
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
from .decode import load_query
from .decode import load_rows
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
        MODE: tl.constexpr, NUM_STAGES: tl.constexpr, ASM: tl.constexpr, FRAGMENT: tl.constexpr):
    N: tl.constexpr = BLOCK_Q * H
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

    n = tl.arange(0, N)
    row_n = tl.program_id(0) * BLOCK_Q + n // H
    ok_n = row_n < seq_len
    qrow = row_n.to(tl.int64) * H + n % H
    q = load_query(q_ptr, q_sf_ptr, qrow, ok_n, MODE, ASM, FRAGMENT, DQ)
    w = tl.load(w_ptr + row_n.to(tl.int64) * stride_w + n % H, mask=ok_n, other=0.0)
    # transposed here, not at the dot: Triton 3.9 otherwise stores the query to shared memory again every tile
    qt = tl.trans(q)
    for t in tl.range(tile_lo, tile_hi, num_stages=NUM_STAGES):
        key = t * BLOCK_KV + tl.arange(0, BLOCK_KV).to(tl.int64)  # t is int64: tile_lo/hi come from int64 keys
        k_ok = (key >= 0) & (key < seq_len_kv)
        k_raw = load_rows(kv_ptr + key * DQ, k_ok, MODE, DQ)
        k = decode_operand(k_raw, kv_sf_ptr + key, k_ok, MODE, ASM, FRAGMENT, DQ)
        scores = tl.dot(k, qt)  # [BLOCK_KV, N]
        logits = tl.sum(tl.reshape(tl.maximum(scores, 0.0) * w[None, :], [BLOCK_KV, BLOCK_Q, H]), axis=2)
        if MODE != MODE_FP4:
            logits = times_key_scale(logits, tl.load(kv_sf_ptr + key, mask=k_ok, other=0.0), MODE)
        logits = tl.trans(logits)  # [BLOCK_Q, BLOCK_KV]
        valid = (key[None, :] >= lo[:, None]) & (key[None, :] < hi[:, None])
        col = key[None, :] - base[:, None]
        # plain rows store every column they scan; compressed rows only their valid ones (see the prefill)
        plain = (tl.zeros_like(col) + compressed) == 0  # a tensor also under the interpreter, where ints stay ints
        in_cols = ok_r[:, None] & (col >= c0) & (col < c_end) & (valid | plain)
        store_logits(out_ptr, out_rows[:, None] + col, tl.where(valid, logits, float("-inf")), in_cols, out_bf16)
