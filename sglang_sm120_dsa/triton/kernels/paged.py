"""Paged (decode) indexer logits: ``_dsa_paged_mqa_logits_kernel`` and its ``-inf`` cleaner.

Work unit: a *task* = one KV split (``split_kv`` tokens) of one *atom* (all query rows that share a request's
pages: the ``next_n`` MTP rows of a request, or up to ``ATOM`` consecutive varlen tokens with the same index). A
task loads each key once and scores it for every row of the atom. The schedule metadata (the foundation's
algorithm with this family's ``split_kv``) gives every SM a contiguous range of tasks, and ``programs_per_sm``
programs cut that range into contiguous shares of equal size, so their pipelines overlap and they end together.
Shares count *units*: a ``BLOCK_T``-token tile slot when every tile lies in one page (``ONE_PAGE``; a request's
last split counts whole), else a whole task (a run's page-id windows must start at a page). (With whole tasks, an
SM with few tasks for its programs left one of them with a task more, running alone at the end: e.g. SM80's byte
path at 32 x 8K, split 512 and 2 programs per SM, ~4.9 tasks per SM of an A100.) A program runs its share as *runs*
(consecutive units of one atom): one query load and one token loop per run. (Taking every ``programs_per_sm``-th
task instead left one program of an SM with a whole 2048-token task more than the others and restarted its
pipeline at every task: on an H200, 64 x 64K went from 169.8 to 154.2 us, 128 x 16K from 94.8 to 87.5.)
``split_kv`` and ``programs_per_sm`` are runtime values chosen from the batch size (config.paged_family, which the
metadata call sees too, and the tile entry, whose resources set how many programs fit an SM). Each token's logits
come from exactly one program, with the same arithmetic whatever the SM count, the split or the share: results
are bitwise deterministic.

Key tiles and pages: when a page holds whole tiles (``ONE_PAGE``, which the launcher sets where the tile entry asks
for it and ``block_kv >= BLOCK_T``, e.g. SGLang's 64-token pages with 64-token tiles: config.one_page), a tile's
page id is one scalar, loaded a tile ahead with a plain PTX load, so the key loads of the token loop depend on no
``tl.load`` of that loop and Triton's pipeliner issues them ``NUM_STAGES - 1`` tiles ahead. Otherwise a run reads
its page ids a window of ``PAGES`` pages at a time into registers and each key row gathers its page's offset from
them. (Loading the page ids per tile with ``tl.load`` made a two-level load chain: the prefetch distance fell to
zero, and ncu on an H200 showed a quarter of the warp stalls waiting on the tile just issued.)

At small batches a program has one or two tiles, and its time is a chain of dependent DRAM trips (schedule ->
lengths -> keys) plus the integer work between them. So the walk shifts instead of dividing (``split_kv`` is a power
of two; row lengths are read by request, not by dividing row indices by ``next_n``), and the keys of a program's
first tile (and its query) are prefetched into L2 while the lengths load.

Per iteration: ``BLOCK_T`` tokens addressed through the block table (64-bit page offsets), ``tl.dot`` of the key
tile ``[BLOCK_T, D]`` with the query group ``[ROWS * H, D]`` (tokens on M, heads on N, as DeepGEMM; one dot per
row when ``ROWS <= 2``), then ``relu``, the head weights, a sum over heads and the per-token scale. Columns outside
a row's valid set inside the task's range get ``-inf``; the cleaner writes ``-inf`` on the rest of the row when
``clean_logits``.

The logits dtype is a runtime value (the buffer is passed as bytes), which halves the compiled variants.
``head_dim`` stays a constexpr: with it at run time the compiler cannot prove the 16-byte alignment of the key
rows and loads them byte by byte (measured: 16x slower on an H200).
"""

from __future__ import annotations

import triton
import triton.language as tl

from .decode import MODE_BYTES
from .decode import MODE_FP4
from .decode import decode_operand
from .decode import head_sum
from .decode import load_query
from .decode import load_rows
from .decode import row_sums
from .decode import store_logits
from .decode import times_key_scale
from .metadata import splits

# Runtime scalars must not be specialized (value 1, divisibility by 16): a warmed-up variant must serve every
# batch, table width and context length, or a new compilation could start during CUDA-graph capture. Likewise the
# alignment of pointers read a few scalars at a time (slices such as ``context_lens[1:]`` are legal). The page
# stride and the logits row stride stay specialized: they are always multiples of 16 (validation, layout.py), so
# their specialization never changes, and the 16-byte vector loads of the keys depend on it.
_RUNTIME_INTS = ["stride_w", "stride_table", "num_slots", "next_n", "num_blocks", "width", "table_width",
                 "block_kv", "log2_block_kv", "lens_2d", "varlen", "out_bf16", "log2_split", "programs_per_sm"]
_ANY_ALIGNMENT = ["q_sf_ptr", "w_ptr", "lens_ptr", "table_ptr", "meta_ptr", "idx_ptr"]


@triton.constexpr_function
def per_row_dots(heads, rows):
    """Whether each of a group's rows gets a dot of its own (up to two rows; ``tl.dot``'s smallest N is 16)."""
    return rows <= 2 and heads >= 16


@triton.constexpr_function
def dot_columns(heads, rows, split):
    """Query columns per ``tl.dot``: half a row's heads when ``split`` (config.split_heads), a row's heads with
    :func:`per_row_dots`, else every row's. (Host code reads it too: config.fragment_order.)"""
    return heads // 2 if split else heads if per_row_dots(heads, rows) else rows * heads


@triton.jit
def row_lengths(lens_ptr, slot, r, ok, next_n, lens_2d, varlen):
    """Valid columns of rows ``r`` of the atom at ``slot``: row ``j = r`` of request ``b = slot``, ``ctx[b, j]`` (2-D)
    or ``ctx[b] - next_n + 1 + j`` (1-D); varlen atoms are tokens, each its own row of lengths (``b = slot + r``,
    ``j = 0``, next_n 1). (Indexing by the atom keeps an integer division by the runtime ``next_n`` off every
    program's start.)"""
    b = tl.where(varlen != 0, slot + r, slot)
    j = tl.where(varlen != 0, 0, r)
    length = tl.load(lens_ptr + tl.where(lens_2d != 0, b * next_n + j, b), mask=ok, other=0)
    return tl.where(lens_2d != 0, length, length - next_n + 1 + j)


@triton.jit
def _next_atom(x, n_rows, varlen):
    """The slot after the atom at slot ``x``: varlen slots are tokens (the atom covers its ``n_rows``), else
    requests."""
    return x + tl.where(varlen != 0, n_rows, 1)


@triton.jit
def clamp(x, n):
    """``x`` clamped into ``[0, n)``: page ids into the cache, columns into a table row (no table or metadata,
    however wrong, sends a load outside)."""
    return tl.minimum(tl.maximum(x, 0), n - 1)


@triton.jit
def _page_offsets(ids, num_blocks, stride_page):
    """Byte offsets of pages ``ids`` in the cache (clamped)."""
    return clamp(ids, num_blocks).to(tl.int64) * stride_page


@triton.jit
def _key_pointers(kv_ptr, page_off, slot, block_kv, DQ: tl.constexpr):
    """Pointers to the values and the fp32 scale (as int32) of keys ``slot`` of the pages at byte offsets ``page_off``:
    a page holds ``block_kv`` rows of ``DQ`` value bytes, then ``block_kv`` scales."""
    page_base = kv_ptr + page_off
    return page_base + slot * DQ, (page_base + block_kv * DQ).to(tl.pointer_type(tl.int32)) + slot


@triton.jit
def sm_range(meta_ptr, programs_per_sm, num_slots):
    """(this program's lane among its SM's ``programs_per_sm``, then the SM's task range: first atom, its first
    split, end atom, splits of the end atom) from the schedule metadata; clamped so that no metadata, however
    wrong, sends a program outside the batch. (Scalar code: the SM90 Gluon kernel calls it too.)"""
    pid = tl.program_id(0)
    sm = pid // programs_per_sm
    lane = pid % programs_per_sm
    a = tl.minimum(tl.maximum(tl.load(meta_ptr + 2 * sm), 0), num_slots)
    split = tl.maximum(tl.load(meta_ptr + 2 * sm + 1), 0)
    a_end = tl.minimum(tl.maximum(tl.load(meta_ptr + 2 * sm + 2), a), num_slots)
    split_end = tl.maximum(tl.load(meta_ptr + 2 * sm + 3), 0)
    return lane, a, split, a_end, split_end


@triton.jit
def share(n_tasks, lane, programs_per_sm, unit_shift):
    """(units to skip, units to run) of program ``lane`` of an SM whose range holds ``n_tasks`` tasks, a task being
    ``1 << unit_shift`` units: contiguous shares of equal size. (The SM90 Gluon kernel calls it too.)"""
    n = n_tasks << unit_shift
    skip = tl.maximum(n * lane // programs_per_sm, 0)  # clamped: a nonsense range may overflow n
    return skip, n * (lane + 1) // programs_per_sm - skip


@triton.constexpr_function
def log2(x):
    return x.bit_length() - 1


@triton.jit
def _atom(a, lens_ptr, idx_ptr, num_slots, next_n, lens_2d, varlen, ATOM: tl.constexpr):
    """(first row, number of rows, uncapped length) of the atom starting at slot ``a``."""
    if (next_n == 1) & (varlen == 0):  # one row: a scalar load, no reductions on every program's first steps
        row0 = a
        n_rows = 1
        length = tl.load(lens_ptr + a)
    else:
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
        in_atom = r < n_rows
        length = tl.max(tl.where(in_atom, row_lengths(lens_ptr, a, r, in_atom, next_n, lens_2d, varlen), 0), axis=0)
    return row0, n_rows, tl.maximum(length, 0)


@triton.jit
def _window(ids, have, table_ptr, table_row, stride_table, p0, table_width, PAGES: tl.constexpr):
    """Raw page ids ``[p0, p0 + PAGES)`` of a block-table row (0 past its end), or ``ids`` where ``have`` (ids loaded
    earlier; the table is not read then)."""
    pid = p0 + tl.arange(0, PAGES)
    limit = tl.where(have, 0, table_width)  # (a scalar mask `have & ...` trips the interpreter)
    loaded = tl.load(table_ptr + table_row.to(tl.int64) * stride_table + pid, mask=(pid >= 0) & (pid < limit), other=0)
    return tl.where(have, ids, loaded)


@triton.jit
def _task(q_ptr, q_sf_ptr, kv_ptr, w_ptr, lens_ptr, table_ptr, out_ptr,
          stride_w, stride_table, stride_page, stride_out, next_n, num_blocks, width, table_width,
          block_kv, log2_block_kv, lens_2d, varlen, out_bf16, row0, n_rows, table_row, length, t_begin, t_stop, pages,
          H: tl.constexpr, DQ: tl.constexpr, ROWS: tl.constexpr, BLOCK_T: tl.constexpr, MODE: tl.constexpr,
          NUM_STAGES: tl.constexpr, PAGES: tl.constexpr, ONE_PAGE: tl.constexpr, ASM: tl.constexpr,
          FRAGMENT: tl.constexpr, SPLIT: tl.constexpr, LANE_SUMS: tl.constexpr):
    """Tokens ``[t_begin, t_stop)`` of one atom; ``pages``: the raw page ids of its first window (loaded early);
    ``DQ``: bytes per (token or head) row of values; ``SPLIT``: one row's heads in two dots (config.split_heads);
    ``LANE_SUMS``: a group's dot sums its rows' heads as ``decode.row_sums``' FFMA chains (config.paged_lane_sums)."""
    cap = table_width * block_kv  # tokens the block table can address
    t_end = tl.minimum(t_stop, tl.minimum(length, tl.minimum(cap, width)))
    # Up to two rows per group, each row gets its own dot [BLOCK_T, H] and a 1-D epilogue (head sum in the MMA's row
    # layout). One dot over both rows' heads holds a twice larger accumulator and reduces across warps: per-row dots
    # ran next_n 2 up to 3% faster on an H200 (64 x 64K 219.5 -> 213.4 us; 1 x 8K within 0.1 us; byte path
    # 509 -> 385 us, where the single dot spilled). H >= 16 is tl.dot's smallest N.
    PER_ROW: tl.constexpr = per_row_dots(H, ROWS)
    QN: tl.constexpr = dot_columns(H, ROWS, SPLIT)  # query columns per dot (SPLIT: config)
    n = tl.arange(0, QN)
    rr = tl.arange(0, ROWS)
    n_groups = tl.cdiv(n_rows, ROWS)
    for g in range(0, n_groups):
        row_r = g * ROWS + rr
        ok_r = row_r < n_rows
        valid_len = tl.minimum(row_lengths(lens_ptr, table_row, row_r, ok_r, next_n, lens_2d, varlen), cap)
        out_rows = (row0 + row_r).to(tl.int64) * stride_out
        q, w = load_query(q_ptr, q_sf_ptr, w_ptr, stride_w, row0, g * ROWS, n, n_rows, H, MODE, ASM, FRAGMENT,
                          DQ)
        q1, w1 = q, w  # (the second row's operands, where a group holds two rows with a dot each)
        if PER_ROW and ROWS == 2:
            q1, w1 = load_query(q_ptr, q_sf_ptr, w_ptr, stride_w, row0, g * ROWS + 1, n, n_rows, H, MODE, ASM,
                                FRAGMENT, DQ)
        if SPLIT:  # (the row's other half of the heads)
            q1, w1 = load_query(q_ptr, q_sf_ptr, w_ptr, stride_w, row0, g * ROWS, n + QN, n_rows, H, MODE, ASM,
                                FRAGMENT, DQ)
        if ONE_PAGE:
            # Every tile lies in one page (block_kv >= BLOCK_T; tiles start at multiples of BLOCK_T): its page id is
            # a scalar, loaded a tile ahead, instead of a gather from the window per row (which Triton lowers through
            # shared memory, with barriers). On an H200 at 64-token pages and >= 1M tokens: byte path next_n 1
            # 3-5% faster, next_n 2 2-3%, native next_n 2 4%.
            id_row = table_ptr + table_row.to(tl.int64) * stride_table
            page = clamp(tl.sum(pages), num_blocks)  # (PAGES is 1)
            for it in tl.range(0, tl.cdiv(t_end - t_begin, BLOCK_T), num_stages=NUM_STAGES):
                t0 = t_begin + it * BLOCK_T
                page_off = tl.multiple_of(page.to(tl.int64) * stride_page, 16)  # page strides are x16
                page = _page_id(id_row, (t0 + BLOCK_T) >> log2_block_kv, table_width, num_blocks, ASM)
                # rows past the end read rows of the same page (never stored): the loads need no mask
                slot = (t0 + tl.arange(0, BLOCK_T)) & (block_kv - 1)
                _tile(kv_ptr, out_ptr, page_off, slot, t0, t_end, block_kv, out_bf16, q, w, q1, w1, g, n_rows, ok_r,
                      valid_len, out_rows, H, DQ, ROWS, BLOCK_T, MODE, PER_ROW, SPLIT, ASM, FRAGMENT, LANE_SUMS)
        else:
            # Page ids are read PAGES at a time. Windows start page-aligned (t_begin is a multiple of split_kv,
            # itself a multiple of 128 >= block_kv, see tests/cpu/test_configs.py), so every token of a window maps
            # to one of its ids. The caller loads the first window's ids early. (Loading every next window's ids
            # one window ahead measured the same on an H200, and its live registers made the byte path's next_n 2
            # loop spill.)
            window = PAGES * block_kv  # tokens per window
            for w0 in range(t_begin, t_end, window):
                p0 = w0 >> log2_block_kv
                raw = _window(pages, w0 == t_begin, table_ptr, table_row, stride_table, p0, table_width, PAGES)
                # byte offsets of the window's pages, multiplied once per window rather than per key row
                window_offs = _page_offsets(raw, num_blocks, stride_page)
                w_end = tl.minimum(w0 + window, t_end)
                for it in tl.range(0, tl.cdiv(w_end - w0, BLOCK_T), num_stages=NUM_STAGES):
                    t0 = w0 + it * BLOCK_T
                    # rows past the end read the last valid one again (never stored): the loads need no mask
                    row_tok = tl.minimum(t0 + tl.arange(0, BLOCK_T), w_end - 1)
                    local = tl.minimum((row_tok >> log2_block_kv) - p0, PAGES - 1)  # in range by construction
                    page_off = tl.multiple_of(tl.gather(window_offs, local, axis=0), 16)  # page strides are x16
                    _tile(kv_ptr, out_ptr, page_off, row_tok & (block_kv - 1), t0, w_end, block_kv, out_bf16, q, w,
                          q1, w1, g, n_rows, ok_r, valid_len, out_rows, H, DQ, ROWS, BLOCK_T, MODE, PER_ROW, SPLIT,
                          ASM, FRAGMENT, LANE_SUMS)


@triton.jit
def _tile(kv_ptr, out_ptr, page_off, slot, t0, t_end, block_kv, out_bf16, q, w, q1, w1, g, n_rows, ok_r, valid_len,
          out_rows, H: tl.constexpr, DQ: tl.constexpr, ROWS: tl.constexpr, BLOCK_T: tl.constexpr, MODE: tl.constexpr,
          PER_ROW: tl.constexpr, SPLIT: tl.constexpr, ASM: tl.constexpr, FRAGMENT: tl.constexpr,
          LANE_SUMS: tl.constexpr):
    """Logits of the key tile of tokens ``[t0, t0 + BLOCK_T)`` (stored below ``t_end``), its keys at ``slot`` of the
    pages at byte offsets ``page_off`` (a scalar, or one per row), for the rows of group ``g`` (a dot per row where
    ``PER_ROW``, see _task)."""
    rr = tl.arange(0, ROWS)
    tok = t0 + tl.arange(0, BLOCK_T)
    in_range = tok < t_end
    key_ptr, scale_ptr = _key_pointers(kv_ptr, page_off, slot, block_kv, DQ)
    # MXFP4 keeps its masks: unmasked, its (spilling) loop ran 4% slower on an H200
    load_mask = in_range if MODE == MODE_FP4 else None
    k = decode_operand(load_rows(key_ptr, load_mask, MODE, DQ), scale_ptr, load_mask, MODE, ASM, FRAGMENT)
    kscale = tl.zeros([BLOCK_T], tl.float32)  # FP4 keys carry their scales in the operand
    if MODE != MODE_FP4:
        kscale = tl.load(scale_ptr.to(tl.pointer_type(tl.float32)))
    if PER_ROW:
        logits = head_sum(k, q, w)
        if SPLIT:  # (q1, w1: the row's other half of the heads)
            logits += head_sum(k, q1, w1)
        _store_row(out_ptr, logits, kscale, tok, in_range, tl.max(tl.where(rr == 0, valid_len, 0), axis=0),
                   tl.max(tl.where(rr == 0, out_rows, 0), axis=0), out_bf16, MODE)
        if ROWS == 2:
            _store_row(out_ptr, head_sum(k, q1, w1), kscale, tok, in_range & (tok * 0 + g * ROWS + 1 < n_rows),
                       tl.max(tl.where(rr == 1, valid_len, 0), axis=0),
                       tl.max(tl.where(rr == 1, out_rows, 0), axis=0), out_bf16, MODE)
    else:
        scores = tl.dot(k, q)  # [BLOCK_T, N] fp32 (q: transposed, see load_query)
        logits = row_sums(scores, w, ROWS, LANE_SUMS)  # [BLOCK_T, ROWS]
        if MODE != MODE_FP4:
            logits = times_key_scale(logits, kscale, MODE)
        logits = tl.trans(logits)  # [ROWS, BLOCK_T]
        logits = tl.where(tok[None, :] < valid_len[:, None], logits, float("-inf"))
        store_logits(out_ptr, out_rows[:, None] + tok[None, :], logits, ok_r[:, None] & in_range[None, :], out_bf16)


@triton.jit
def _page_id(id_row, page, table_width, num_blocks, ASM: tl.constexpr):
    """Page id ``page`` of a block-table row (its last one past its end), clamped into the cache. In PTX an
    ``ld.global.nc`` (the table does not change during the kernel): a ``tl.load`` inside the token loop becomes one
    more, single-buffered, pipelined copy, and Triton then waits for every copy at each tile."""
    ptr = id_row + clamp(page, table_width)
    if ASM:
        raw = tl.inline_asm_elementwise(asm="ld.global.nc.b32 $0, [$1];", constraints="=r,l",
                                        args=[ptr.to(tl.int64, bitcast=True)], dtype=tl.int32, is_pure=True, pack=1)
    else:
        raw = tl.load(ptr)
    return clamp(raw, num_blocks)


@triton.jit
def _prefetch_l2(ptrs, ok):
    """``prefetch.global.L2`` of the lines at ``ptrs`` where ``ok`` (elementwise; a hint: no data comes back, nothing
    waits for it)."""
    tl.inline_asm_elementwise(
        asm="""{
        .reg .pred p;
        setp.ne.b32 p, $2, 0;
        @p prefetch.global.L2 [$1];
        mov.b32 $0, 0;
        }""",
        constraints="=r,l,r", args=[ptrs.to(tl.int64, bitcast=True), ok.to(tl.int32)], dtype=tl.int32, is_pure=False,
        pack=1)


@triton.jit
def _prefetch_query(q_ptr, w_ptr, stride_w, atom, ok, num_slots, next_n, varlen, H: tl.constexpr, DQ: tl.constexpr,
                    ROWS: tl.constexpr):
    """``prefetch.global.L2`` of the query and head-weight lines of the first (up to 2) rows of the atom at slot
    ``atom``, where ``ok`` (rows past the batch excluded): one address per 128-byte line (ASM only: the interpreter
    runs no PTX)."""
    LINES: tl.constexpr = H * DQ // 128  # a row's (token's) query is H * DQ contiguous bytes, a multiple of 128
    i = tl.arange(0, (2 if ROWS >= 2 else 1) * LINES)
    row = tl.where(varlen != 0, atom, atom * next_n) + i // LINES  # varlen slots are rows
    ok = ok & (row < tl.where(varlen != 0, num_slots, num_slots * next_n))
    q_line = q_ptr.to(tl.pointer_type(tl.uint8)) + row.to(tl.int64) * (H * DQ) + (i % LINES) * 128
    w_line = w_ptr + row.to(tl.int64) * stride_w + (i % LINES) * 32  # H fp32 weights: fewer lines (masked)
    _prefetch_l2(q_line, ok)
    _prefetch_l2(w_line, ok & ((i % LINES) * 128 < H * 4))


@triton.jit
def _prefetch_keys(kv_ptr, table_ptr, table_row, stride_table, stride_page, num_blocks, table_width, block_kv,
                   log2_block_kv, tok0, ok, BLOCK_T: tl.constexpr, DQ: tl.constexpr):
    """``prefetch.global.L2`` of the value and scale lines of keys ``[tok0, tok0 + BLOCK_T)`` of a block-table row,
    where ``ok`` (its page ids are loaded here: one more trip, alongside the task count's lengths)."""
    tok = tok0 + tl.arange(0, BLOCK_T)
    page = tok >> log2_block_kv
    in_table = ok & (page >= 0) & (page < table_width)  # (>= 0: nonsense metadata may overflow tok0)
    ids = tl.load(table_ptr + table_row.to(tl.int64) * stride_table + page, mask=in_table, other=0)
    key_ptr, scale_ptr = _key_pointers(kv_ptr, _page_offsets(ids, num_blocks, stride_page), tok & (block_kv - 1),
                                       block_kv, DQ)
    _prefetch_l2(key_ptr, in_table)
    _prefetch_l2(scale_ptr, in_table)


@triton.jit
def _store_row(out_ptr, logits, kscale, tok, store, valid_len, out_row, out_bf16, MODE: tl.constexpr):
    """One query row's logits for a key tile (decode.head_sum): key scale, -inf past the row's length, stored from
    the MMA's row layout where ``store``."""
    if MODE != MODE_FP4:
        logits = tl.reshape(times_key_scale(logits[:, None], kscale, MODE), [logits.shape[0]])
    logits = tl.where(tok < valid_len, logits, float("-inf"))
    store_logits(out_ptr, out_row + tok, logits, store, out_bf16)


@triton.jit(do_not_specialize=_RUNTIME_INTS, do_not_specialize_on_alignment=_ANY_ALIGNMENT)
def _dsa_paged_mqa_logits_kernel(
        q_ptr, q_sf_ptr, kv_ptr, w_ptr, lens_ptr, table_ptr, meta_ptr, idx_ptr, out_ptr,
        stride_w, stride_table, stride_page, stride_out,  #
        num_slots, next_n, num_blocks, width, table_width, block_kv, log2_block_kv, lens_2d, varlen, out_bf16,
        log2_split, programs_per_sm,  #
        H: tl.constexpr, D: tl.constexpr, ROWS: tl.constexpr, BLOCK_T: tl.constexpr, ATOM: tl.constexpr,
        MODE: tl.constexpr, NUM_STAGES: tl.constexpr, ONE_PAGE: tl.constexpr, ASM: tl.constexpr,
        FRAGMENT: tl.constexpr, SPLIT: tl.constexpr, LANE_SUMS: tl.constexpr):
    PAGES: tl.constexpr = 1 if ONE_PAGE else 64  # page ids read at a time (see _task)
    DQ: tl.constexpr = D // 2 if MODE == MODE_FP4 else D  # bytes per (token or head) row of values
    # split_kv: a power of two (config.paged_family), so splits and units count by shifts, not divisions
    unit_shift = log2_split - log2(BLOCK_T) if ONE_PAGE else 0  # units per task, as a shift (see the docstring)
    log2_unit = log2_split - unit_shift  # tokens per unit
    lane, a, split, a_end, split_end = sm_range(meta_ptr, programs_per_sm, num_slots)
    # The page ids where the range starts, loaded alongside its first atom's lengths: at small batches every
    # program has one task, and this takes the block table off its chain of dependent loads.
    spec = _window(tl.zeros([PAGES], tl.int32), a >= num_slots, table_ptr, a, stride_table,
                   (split << log2_split) >> log2_block_kv, table_width, PAGES)
    row0_a, n_rows_a, length_a = _atom(tl.minimum(a, num_slots - 1), lens_ptr, idx_ptr, num_slots, next_n, lens_2d,
                                       varlen, ATOM)
    # Start the DRAM trips of a program's first tile while the lengths load, as L2 prefetches: its keys, and the
    # query if the tile starts the request (the other programs on that request find it in L2 then). When the range
    # lies in one atom (the usual case at small batches, where a program has one or two tiles in all), every program
    # with work knows its first task already. Else lane 0 takes the range's first tile and the last lane, whose
    # share ends the range, the first tile of its last atom. On an H200, next_n 1: 1 x 8K 7.3 -> 6.4 us, 1 x 64K
    # 11.9 -> 10.4, 2 x 16K 9.3 -> 8.0, 8 x 32K 18.9 -> 17.8. (The query prefetched by every program with work
    # made 1 x 64K slower, 11.8 -> 13.1 us: 396 programs on the same lines at once.)
    if ASM:
        skip_one, todo_one = share(split_end - split, lane, programs_per_sm, unit_shift)  # if in one atom (as below)
        one = (a_end == a) & (a < num_slots)
        last_atom = (lane != 0) & (lane == programs_per_sm - 1)
        pf_atom = tl.where(one | ~last_atom, a, a_end)
        pf_unit = tl.where(one, (split << unit_shift) + skip_one, tl.where(last_atom, 0, split << unit_shift))
        pf = tl.where(one, todo_one > 0, (a_end > a) & ((lane == 0) | ((split_end > 0) & (a_end < num_slots))))
        pf = pf & (pf_atom < num_slots)
        _prefetch_query(q_ptr, w_ptr, stride_w, pf_atom, pf & (pf_unit == 0), num_slots, next_n, varlen, H, DQ, ROWS)
        _prefetch_keys(kv_ptr, table_ptr, pf_atom, stride_table, stride_page, num_blocks, table_width, block_kv,
                       log2_block_kv, pf_unit << log2_unit, pf, BLOCK_T, DQ)
    # Count the range's tasks, one atom at a time (an atom's length gives its number of splits).
    n = 0
    x = a
    s = split
    n_rows = n_rows_a
    length = length_a
    while x < a_end:
        n += tl.maximum(splits(length, log2_split) - s, 0)
        s = 0
        x = _next_atom(x, n_rows, varlen)
        if x < a_end:
            _, n_rows, length = _atom(x, lens_ptr, idx_ptr, num_slots, next_n, lens_2d, varlen, ATOM)
    n += tl.maximum(split_end - s, 0)
    # This program's contiguous share of them, as runs of consecutive units of one atom: one query load and one
    # token loop per run.
    skip, todo = share(n, lane, programs_per_sm, unit_shift)
    x = a
    s = split
    row0 = row0_a
    n_rows = n_rows_a
    length = length_a
    while (todo > 0) & (x < num_slots):
        avail = tl.maximum(splits(length, log2_split) - s, 0) << unit_shift
        if skip < avail:
            first = (s << unit_shift) + skip  # (s < the atom's splits here: no overflow below)
            count = tl.minimum(avail - skip, todo)
            pages = _window(spec, (x == a) & (first == split << unit_shift), table_ptr, x, stride_table,
                            (first << log2_unit) >> log2_block_kv, table_width, PAGES)
            # The next run's query and first page ids into L2 during this one (their addresses need no load): on an
            # H200 next_n 2 gained 0.2-0.8 us (256 x 8K 109.5 -> 108.7), next_n 1 within noise; not on the byte
            # path, whose walk then spilled more and ran 0.5% slower.
            if ASM and MODE != MODE_BYTES:
                nxt = _next_atom(x, n_rows, varlen)
                more = (todo > count) & (nxt < num_slots)
                _prefetch_query(q_ptr, w_ptr, stride_w, nxt, more, num_slots, next_n, varlen, H, DQ, ROWS)
                p = tl.arange(0, PAGES)
                _prefetch_l2(table_ptr + nxt.to(tl.int64) * stride_table + p,
                             more & (p < table_width) & (p % 32 == 0))  # one address per 128-byte line
            _task(q_ptr, q_sf_ptr, kv_ptr, w_ptr, lens_ptr, table_ptr, out_ptr, stride_w, stride_table,
                  stride_page, stride_out, next_n, num_blocks, width, table_width, block_kv, log2_block_kv, lens_2d,
                  varlen, out_bf16, row0, n_rows, x, length, first << log2_unit, (first + count) << log2_unit, pages,
                  H, DQ, ROWS, BLOCK_T, MODE, NUM_STAGES, PAGES, ONE_PAGE, ASM, FRAGMENT, SPLIT, LANE_SUMS)
            todo -= count
            skip = 0
        else:
            skip -= avail
        s = 0
        x = _next_atom(x, n_rows, varlen)
        if (todo > 0) & (x < num_slots):
            row0, n_rows, length = _atom(x, lens_ptr, idx_ptr, num_slots, next_n, lens_2d, varlen, ATOM)


@triton.jit(do_not_specialize=["next_n", "width", "cap", "lens_2d", "out_bf16"],
            do_not_specialize_on_alignment=["lens_ptr"])
def _dsa_paged_clean_logits_kernel(lens_ptr, out_ptr, stride_out, next_n, width, cap, lens_2d, out_bf16,
                                   BLOCK: tl.constexpr):
    """``-inf`` on columns ``[min(len, cap), width)`` of row ``program_id(0)``, ``BLOCK`` columns per program."""
    row = tl.program_id(0)
    b = row // next_n
    length = tl.minimum(tl.maximum(row_lengths(lens_ptr, b, row - b * next_n, True, next_n, lens_2d, 0), 0), cap)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    neg_inf = tl.full([BLOCK], float("-inf"), tl.float32)
    store_logits(out_ptr, row.to(tl.int64) * stride_out + cols, neg_inf, (cols >= length) & (cols < width), out_bf16)
