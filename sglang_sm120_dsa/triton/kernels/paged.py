"""Paged (decode) indexer logits: ``_dsa_paged_mqa_logits_kernel`` and its ``-inf`` cleaner.

Work unit: a *task* = one KV split (``split_kv`` tokens) of one *atom* (all query rows that share a request's
pages: the ``next_n`` MTP rows of a request, or up to ``ATOM`` consecutive varlen tokens with the same index). A
task loads each key once and scores it for every row of the atom. The schedule metadata (the foundation's
algorithm with this family's ``split_kv``) gives every SM a contiguous range of tasks; ``programs_per_sm``
programs share an SM's range, taking every ``programs_per_sm``-th task, so their pipelines overlap. Both are
runtime values chosen from the batch size (config.paged_family, which the metadata call sees too, and the tile
entry, whose resources set how many programs fit an SM). A task is computed by exactly one program with the same
arithmetic whatever the SM count: results are bitwise deterministic.

A task reads its page ids a window of 32 pages at a time into registers, so the key loads in the token loop
depend on no load of that loop and Triton's pipeliner issues them ``NUM_STAGES - 1`` tiles ahead. (Loading the page
ids per tile made a two-level load chain: the prefetch distance fell to zero, and ncu on an H200 showed a quarter
of the warp stalls waiting on the tile just issued.)

Per iteration: ``BLOCK_T`` tokens gathered through the block table (64-bit page offsets), ``tl.dot`` of the key
tile ``[BLOCK_T, D]`` with the query group ``[ROWS * H, D]`` (tokens on M, heads on N, as DeepGEMM), then
``relu``, the head weights, a sum over heads and the per-token scale. Columns outside a row's valid set inside
the task's range get ``-inf``; the cleaner writes ``-inf`` on the rest of the row when ``clean_logits``.

The logits dtype is a runtime value (the buffer is passed as bytes), which halves the compiled variants.
``head_dim`` stays a constexpr: with it at run time the compiler cannot prove the 16-byte alignment of the key
rows and loads them byte by byte (measured: 16x slower on an H200).
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

# Runtime scalars must not be specialized (value 1, divisibility by 16): a warmed-up variant must serve every
# batch, table width and context length, or a new compilation could start during CUDA-graph capture. Likewise the
# alignment of pointers read a few scalars at a time (slices such as ``context_lens[1:]`` are legal). The page
# stride and the logits row stride stay specialized: they are always multiples of 16 (validation, layout.py), so
# their specialization never changes, and the 16-byte vector loads of the keys depend on it.
_RUNTIME_INTS = ["stride_w", "stride_table", "num_slots", "next_n", "num_blocks", "width", "table_width",
                 "block_kv", "log2_block_kv", "lens_2d", "varlen", "out_bf16", "split_kv", "programs_per_sm"]
_ANY_ALIGNMENT = ["q_sf_ptr", "w_ptr", "lens_ptr", "table_ptr", "meta_ptr", "idx_ptr"]


@triton.jit
def _row_lengths(lens_ptr, rows, ok, next_n, lens_2d):
    """Valid columns per query row: ``ctx[row]`` (2-D) or ``ctx[b] - next_n + 1 + j`` (1-D, ``row = b*next_n + j``)."""
    b = tl.where(lens_2d != 0, rows, rows // next_n)
    length = tl.load(lens_ptr + b, mask=ok, other=0)
    return tl.where(lens_2d != 0, length, length - next_n + 1 + (rows - b * next_n))


@triton.jit
def _atom(a, lens_ptr, idx_ptr, num_slots, next_n, lens_2d, varlen, ATOM: tl.constexpr):
    """(first row, number of rows, block-table row, uncapped length) of the atom starting at slot ``a``."""
    r = tl.arange(0, ATOM)
    if varlen != 0:
        rows = a + r
        ok = rows < num_slots
        ids = tl.load(idx_ptr + rows, mask=ok, other=-1)
        same = ok & (ids == tl.load(idx_ptr + a))
        n_rows = tl.min(tl.where(same, ATOM, r), axis=0)  # leading run of the request's tokens
        row0 = a
    else:
        n_rows = next_n
        row0 = a * next_n
    rows = row0 + r
    in_atom = r < n_rows
    length = tl.max(tl.where(in_atom, _row_lengths(lens_ptr, rows, in_atom, next_n, lens_2d), 0), axis=0)
    return row0, n_rows, tl.maximum(length, 0)


@triton.jit
def _task(q_ptr, q_sf_ptr, kv_ptr, w_ptr, lens_ptr, table_ptr, out_ptr,
          stride_w, stride_table, stride_page, stride_out, next_n, num_blocks, width, table_width,
          block_kv, log2_block_kv, lens_2d, out_bf16, row0, n_rows, table_row, length, split, split_kv,
          H: tl.constexpr, D: tl.constexpr, ROWS: tl.constexpr, BLOCK_T: tl.constexpr, MODE: tl.constexpr,
          NUM_STAGES: tl.constexpr, ASM: tl.constexpr):
    N: tl.constexpr = ROWS * H
    DQ: tl.constexpr = D // 2 if MODE == MODE_FP4 else D  # bytes per (token or head) row of values
    cap = table_width * block_kv  # tokens the block table can address
    t_begin = split * split_kv
    t_end = tl.minimum(t_begin + split_kv, tl.minimum(length, tl.minimum(cap, width)))
    # Page ids are read PAGES at a time. Windows start page-aligned (split_kv is a multiple of 128 >= block_kv, see
    # tests/cpu/test_configs.py), so every token of a window maps to one of its PAGES ids.
    PAGES: tl.constexpr = 32
    window = PAGES * block_kv  # tokens per window
    n = tl.arange(0, N)
    rr = tl.arange(0, ROWS)
    table = table_ptr + table_row.to(tl.int64) * stride_table
    for g in range(0, tl.cdiv(n_rows, ROWS)):
        row_n = g * ROWS + n // H  # row of the atom for each N column
        ok_n = row_n < n_rows
        qrow = (row0 + row_n).to(tl.int64) * H + n % H  # (row, head) index into q
        q = load_query(q_ptr, q_sf_ptr, qrow, ok_n, MODE, ASM, DQ)
        w = tl.load(w_ptr + (row0 + row_n).to(tl.int64) * stride_w + n % H, mask=ok_n, other=0.0)
        row_r = g * ROWS + rr
        ok_r = row_r < n_rows
        valid_len = tl.minimum(_row_lengths(lens_ptr, row0 + row_r, ok_r, next_n, lens_2d), cap)
        out_rows = (row0 + row_r).to(tl.int64) * stride_out
        for w0 in range(t_begin, t_end, window):
            p0 = w0 >> log2_block_kv
            pid = p0 + tl.arange(0, PAGES)
            pages = tl.load(table + pid, mask=pid < table_width, other=0)
            pages = tl.minimum(tl.maximum(pages, 0), num_blocks - 1)
            w_end = tl.minimum(w0 + window, t_end)
            for it in tl.range(0, tl.cdiv(w_end - w0, BLOCK_T), num_stages=NUM_STAGES):
                tok = w0 + it * BLOCK_T + tl.arange(0, BLOCK_T)
                in_range = tok < w_end
                local = tl.minimum((tok >> log2_block_kv) - p0, PAGES - 1)
                page = tl.gather(pages, local, axis=0).to(tl.int64)
                slot = tok & (block_kv - 1)
                page_base = kv_ptr + page * stride_page
                k_raw = load_rows(page_base + slot * DQ, in_range, MODE, DQ)
                scale_ptr = (page_base + block_kv * DQ).to(tl.pointer_type(tl.int32)) + slot
                k = decode_operand(k_raw, scale_ptr, in_range, MODE, ASM, DQ)
                if MODE != MODE_FP4:
                    kscale = tl.load(scale_ptr.to(tl.pointer_type(tl.float32)), mask=in_range, other=0.0)
                scores = tl.dot(k, tl.trans(q))  # [BLOCK_T, N] fp32
                weighted = tl.maximum(scores, 0.0) * w[None, :]
                if ROWS == 1:
                    # 1-D epilogue: the head sum stays in the MMA's row layout and is stored from it, where the 2-D
                    # form below transposes through shared memory (two more barriers per tile)
                    logits = tl.sum(weighted, axis=1)  # [BLOCK_T]
                    if MODE != MODE_FP4:
                        logits = tl.reshape(times_key_scale(logits[:, None], kscale, MODE), [BLOCK_T])
                    logits = tl.where(tok < tl.max(valid_len, axis=0), logits, float("-inf"))
                    store_logits(out_ptr, tl.max(out_rows, axis=0) + tok, logits, in_range, out_bf16)  # g < n_rows
                else:
                    logits = tl.sum(tl.reshape(weighted, [BLOCK_T, ROWS, H]), axis=2)  # [BLOCK_T, ROWS]
                    if MODE != MODE_FP4:
                        logits = times_key_scale(logits, kscale, MODE)
                    logits = tl.trans(logits)  # [ROWS, BLOCK_T]
                    logits = tl.where(tok[None, :] < valid_len[:, None], logits, float("-inf"))
                    store_logits(out_ptr, out_rows[:, None] + tok[None, :], logits, ok_r[:, None] & in_range[None, :],
                                 out_bf16)


@triton.jit(do_not_specialize=_RUNTIME_INTS, do_not_specialize_on_alignment=_ANY_ALIGNMENT)
def _dsa_paged_mqa_logits_kernel(
        q_ptr, q_sf_ptr, kv_ptr, w_ptr, lens_ptr, table_ptr, meta_ptr, idx_ptr, out_ptr,
        stride_w, stride_table, stride_page, stride_out,  #
        num_slots, next_n, num_blocks, width, table_width, block_kv, log2_block_kv, lens_2d, varlen, out_bf16,
        split_kv, programs_per_sm,  #
        H: tl.constexpr, D: tl.constexpr, ROWS: tl.constexpr, BLOCK_T: tl.constexpr, ATOM: tl.constexpr,
        MODE: tl.constexpr, NUM_STAGES: tl.constexpr, ASM: tl.constexpr):
    pid = tl.program_id(0)
    sm = pid // programs_per_sm
    lane = pid % programs_per_sm
    a = tl.load(meta_ptr + 2 * sm)
    split = tl.load(meta_ptr + 2 * sm + 1)
    a_end = tl.load(meta_ptr + 2 * sm + 2)
    split_end = tl.load(meta_ptr + 2 * sm + 3)
    count = 0
    while (a < a_end) | ((a == a_end) & (split < split_end)):
        row0, n_rows, length = _atom(a, lens_ptr, idx_ptr, num_slots, next_n, lens_2d, varlen, ATOM)
        if count % programs_per_sm == lane:
            table_row = tl.where(varlen != 0, row0, a)
            _task(q_ptr, q_sf_ptr, kv_ptr, w_ptr, lens_ptr, table_ptr, out_ptr, stride_w, stride_table,
                  stride_page, stride_out, next_n, num_blocks, width, table_width, block_kv, log2_block_kv, lens_2d,
                  out_bf16, row0, n_rows, table_row, length, split, split_kv, H, D, ROWS, BLOCK_T, MODE, NUM_STAGES,
                  ASM)
        count += 1
        # next task in the metadata's order: next split, else the next atom that has any
        split += 1
        if split * split_kv >= length:
            split = 0
            a += tl.where(varlen != 0, n_rows, 1)
            length = 0
            while (a < num_slots) & (length == 0):
                _, n_rows, length = _atom(a, lens_ptr, idx_ptr, num_slots, next_n, lens_2d, varlen, ATOM)
                if length == 0:
                    a += tl.where(varlen != 0, n_rows, 1)


@triton.jit(do_not_specialize=["next_n", "width", "cap", "lens_2d", "out_bf16"],
            do_not_specialize_on_alignment=["lens_ptr"])
def _dsa_paged_clean_logits_kernel(lens_ptr, out_ptr, stride_out, next_n, width, cap, lens_2d, out_bf16,
                                   BLOCK: tl.constexpr):
    """``-inf`` on columns ``[min(len, cap), width)`` of row ``program_id(0)``, ``BLOCK`` columns per program."""
    row = tl.program_id(0)
    length = tl.minimum(tl.maximum(_row_lengths(lens_ptr, row, True, next_n, lens_2d), 0), cap)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    neg_inf = tl.full([BLOCK], float("-inf"), tl.float32)
    store_logits(out_ptr, row.to(tl.int64) * stride_out + cols, neg_inf, (cols >= length) & (cols < width), out_bf16)
