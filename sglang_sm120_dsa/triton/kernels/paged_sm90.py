"""Paged FP8 logits on SM90, written in Gluon (Triton's layout-explicit dialect): ``_dsa_paged_sm90_kernel``.

The same work, schedule and results as ``paged._dsa_paged_mqa_logits_kernel`` (same metadata, same clamps, same
contiguous shares of 64-token tile slots per program as its one-page form), for the calls where Hopper's ``tl.dot``
form leaves speed behind: FP8 keys on sm_90, 64-token key tiles inside pages of 64 or 128 tokens, next_n 1 or 2 rows
per request (no varlen ``indices``), head_dim 128. ``launch.sm90_applies`` decides; the tables enable it per operand
mode and batch bucket (``"sm90"`` in a tile entry). Each program is one warp group:

- keys: ``cp.async`` copies ``AHEAD`` tiles ahead into a ring of ``AHEAD + 1`` shared-memory buffers, each
  tile's page id loaded one tile before its copies are issued (a plain load: its use is a whole tile later);
- scores: asynchronous wgmma, key tile ``[64, D]`` x query ``[D, N]``: ``N = H`` for next_n 1; for next_n 2 both
  rows in one ``N = 2H`` dot with the columns interleaved (column ``n`` = head ``n // 2`` of row ``n % 2``), so
  that each thread holds both rows' scores of a head side by side and splits them in registers;
- epilogue: ReLU, head weights and the head sum in the MMA's register layout (an FFMA chain per lane,
  ``decode.lane_sums``), the key scale, ``-inf`` past a row's length, stored straight from that layout (no
  shared-memory round trip, no barrier); the logits dtype is a constexpr (as a runtime branch it cost ~10
  instructions per tile and split products from their sums). ``TF32`` (a section's ``"sums": "tf32"``) sums the
  heads as a second wgmma instead, ``relu(scores) [64, N]`` from registers x the weights ``[N, 8]`` in tf32 (every
  row at once, no quad shuffles: at next_n 2 the loop's sm_90 SASS has 241 instructions instead of 274 and 120
  registers instead of 128), stored from that MMA's layout; the tensor cores truncate the scores to tf32 (less than
  2^-10 relative, biased low), so results are no longer DeepGEMM's to rounding. In no table: on an H100
  (``scripts/ab_sm90_sums.sh``, Triton 3.9) it was 0.9-1.6% slower at native next_n 2 from 1M tokens up, 7-9% in the
  byte mode and no faster at next_n 1, for calc_diff ~1e-7 against the reference and top-2048 overlap 0.9996-0.9998
  with DeepGEMM (docs/performance.md).

``BYTES`` (the byte path, ``SGLANG_SM120_DSA_TRITON_FP8=bytes``: no FP8 type in the code): the keys are copied as
int32 words, each thread loads its fragment's words from shared memory (two 16-byte loads per row) and decodes them
to fp16 in registers (decode.py's byte trick, head_dim in the fragment's K order), and an fp16 wgmma takes them from
registers; the query is decoded once per run into shared memory in the same K order.

One tile per loop iteration, its wgmma waited for before its epilogue. Two tiles per iteration (the first's
epilogue while the second's wgmma runs) measured 0.2-0.6% slower on an H100 at next_n 1 (docs/performance.md), and
keeping an accumulator in flight across the loop's back edge makes ptxas serialize every wgmma (C7514: the
loop-carried copy reads its registers). A warp-specialized form after DeepGEMM's shape (one CTA per SM, 3 or 4 wgmma
consumer warp groups, each fed by a one-warp ``cp.async`` producer through full/empty mbarriers and releasing its
stage before the epilogue) ran 0.5-4% slower at >= 1M tokens and 6-22% slower at small batches on an H100: its head
sums and stores cost as much as here (docs/performance.md, ninth session).

Why not ``tl.dot``: Triton waits for each wgmma right after issuing it, stores through a shared-memory layout
conversion with barriers, and recomputes per-row addresses; on an H200 (64 x 64K, H=64) this kernel took
next_n 2 from 188 to 161 us (DeepGEMM 155) and next_n 1 from 149 to 147 (DeepGEMM 148), docs/performance.md.
Gluon has no interpreter: CPU tests compile it (tests/cpu/test_triton_aot.py) and tests/gpu checks it on Hopper.
"""

from __future__ import annotations

from triton.experimental import gluon
from triton.experimental.gluon import language as gl
from triton.experimental.gluon.language.nvidia.hopper import async_copy
from triton.experimental.gluon.language.nvidia.hopper import fence_async_shared
from triton.experimental.gluon.language.nvidia.hopper import warpgroup_mma
from triton.experimental.gluon.language.nvidia.hopper import warpgroup_mma_wait

from .decode import BYTES_SCALE
from .decode import MODE_BYTES
from .decode import fp8_operand
from .decode import lane_sums
from .metadata import splits
from .paged import clamp
from .paged import log2
from .paged import row_lengths
from .paged import share
from .paged import sm_range

# Gluon is young and renames things between releases: the two used here that differ between Triton 3.6 (the GPU
# machines' torch 2.11) and 3.9 (CI's). A CTA barrier, and a cp.async copy global -> shared.
_cta_barrier = getattr(gl, "barrier", None) or gl.thread_barrier
_async_load = getattr(async_copy, "async_load", None) or async_copy.async_copy_global_to_shared
BLOCK_T = gl.constexpr(64)  # tokens per key tile (wgmma's M for one warp group)
# Runtime integers unspecialized, as for the tl kernel (paged._RUNTIME_INTS): one compiled variant serves every call.
_RUNTIME_INTS = ["stride_w", "stride_table", "num_slots", "next_n", "num_blocks", "width", "table_width",
                 "log2_block_kv", "lens_2d", "log2_split", "programs_per_sm"]
_ANY_ALIGNMENT = ["w_ptr", "lens_ptr", "table_ptr", "meta_ptr"]


@gluon.jit
def _atom_len(lens_ptr, b, next_n, lens_2d, R: gl.constexpr):
    """Tokens request ``b`` reads: its longest row's length (>= 0)."""
    length = row_lengths(lens_ptr, b, 0, True, next_n, lens_2d, 0)
    if R == 2:
        length = gl.maximum(length, row_lengths(lens_ptr, b, 1, True, next_n, lens_2d, 0))
    return gl.maximum(length, 0)


@gluon.jit
def _page_id(id_row, t0, log2_block_kv, table_width):
    """Raw block-table entry of the page holding token ``t0`` (its column clamped; the id is clamped at its use)."""
    return gl.load(id_row + clamp(t0 >> log2_block_kv, table_width))


@gluon.jit
def _issue(k_smem, s_smem, kv_ptr, page, t0, tile, n_tiles, num_blocks, stride_page, log2_block_kv, k_offs, s_offs,
           D: gl.constexpr, STAGES: gl.constexpr, BYTES: gl.constexpr):
    """``cp.async`` of the values and scales of tile ``tile`` (tokens from ``t0``) into its ring buffer; masked off
    past the run's last tile (the group is still committed, so the waits count the same). ``BYTES``: the values
    as int32 words (``k_offs`` counts words)."""
    block_kv = 1 << log2_block_kv
    page_base = kv_ptr + clamp(page, num_blocks).to(gl.int64) * stride_page
    slot = t0 & (block_kv - 1)  # first row of the tile inside its page
    ok = tile < n_tiles
    stage = tile % STAGES
    keys = page_base + slot * D
    if BYTES:
        keys = keys.to(gl.pointer_type(gl.int32))
    _async_load(k_smem.index(stage), keys + k_offs, mask=(k_offs >= 0) & ok)
    scales = (page_base + block_kv * D).to(gl.pointer_type(gl.float32)) + slot
    _async_load(s_smem.index(stage), scales + s_offs, mask=(s_offs >= 0) & ok)
    async_copy.commit_group()


@gluon.jit
def _start(k_smem, s_smem, q_smem, kv_ptr, id_row, page, tile, t_begin, n_tiles, num_blocks, stride_page,
           log2_block_kv, table_width, k_offs, s_offs, zero, D: gl.constexpr, AHEAD: gl.constexpr,
           STAGES: gl.constexpr, BYTES: gl.constexpr, mma: gl.constexpr, words: gl.constexpr, epi: gl.constexpr):
    """Tile ``tile``: wait for its copies, start its wgmma, read its key scales, issue the copies of tile
    ``tile + AHEAD`` (whose page id ``page`` was loaded a tile earlier) and load the next id. Returns (the
    in-flight accumulator, the key operand, the scales, the next page id). ``BYTES``: the keys go from shared
    memory to registers in the ``words`` layout, decoded there into the wgmma's register fragment."""
    stage = tile % STAGES
    async_copy.wait_group(AHEAD - 1)
    _cta_barrier()  # every thread's copies of this tile have landed
    if BYTES:
        # (the layouts of the words, and of the fp16 values decode's join/permute/reshape give, are chosen so that
        # each thread's values are its own fragment's: the conversion moves nothing, and fails to compile otherwise)
        keys = gl.convert_layout(fp8_operand(k_smem.index(stage).load(words), MODE_BYTES, True, True),
                                 gl.DotOperandLayout(operand_index=0, parent=mma, k_width=2), assert_trivial=True)
    else:
        fence_async_shared()  # (cp.async writes, then wgmma's async-proxy reads)
        keys = k_smem.index(stage)
    acc = warpgroup_mma(keys, q_smem.permute((1, 0)), zero, use_acc=False, is_async=True)
    ks = s_smem.index(stage).load(gl.SliceLayout(1, epi))
    if BYTES:
        ks = ks * BYTES_SCALE
    t_next = t_begin + (tile + AHEAD) * BLOCK_T
    _issue(k_smem, s_smem, kv_ptr, page, t_next, tile + AHEAD, n_tiles, num_blocks, stride_page, log2_block_kv, k_offs,
           s_offs, D, STAGES, BYTES)
    page = _page_id(id_row, t_next + BLOCK_T, log2_block_kv, table_width)
    return acc, keys, ks, page


@gluon.jit
def _store(out_ptr, row_off, tok, logits, valid_len, t_end, OUT_BF16: gl.constexpr, live=True):
    """One row's logits of a tile, ``-inf`` past its length, stored where ``tok < t_end`` (from the MMA's row layout:
    Triton stores each value once, from one of the four lanes that hold it). The tf32 sums pass every row's at once,
    ``[BLOCK_T, 8]`` against ``[1, 8]`` row offsets and lengths, ``live`` their columns that are rows."""
    logits = gl.where(tok < valid_len, logits, float("-inf"))
    mask = (tok < t_end) & live
    if OUT_BF16:
        gl.store(out_ptr.to(gl.pointer_type(gl.bfloat16)) + row_off + tok, logits.to(gl.bfloat16), mask=mask)
    else:
        gl.store(out_ptr.to(gl.pointer_type(gl.float32)) + row_off + tok, logits, mask=mask)


@gluon.jit
def _head_sums(scores, w, R: gl.constexpr):
    """Per token (row of the accumulator ``scores [BLOCK_T, N]``), the sum over heads of ReLU(score) x head weight
    (``w [N]``), for query rows 0 and 1 (the same twice for ``R`` = 1). A lane holds the accumulator's columns
    ``8 * block + 2 * quad + j`` (``quad``: its lane % 4): its own are summed by ``decode.lane_sums``' FFMA chain
    (at next_n 2 each ``j`` apart: the interleaved columns' query row), then the quad's four partial sums."""
    acc = lane_sums(scores, w, R)
    if R == 2:
        l0, l1 = gl.split(gl.sum(gl.reshape(acc, [BLOCK_T, 4, 2]), axis=1))
    else:
        l0 = gl.sum(acc, axis=1)
        l1 = l0
    return l0, l1


@gluon.jit
def _weights_t(w_ptr, row0, stride_w, w_smem, H: gl.constexpr, R: gl.constexpr):
    """The tf32 head sums' B operand into ``w_smem [8, R * H]`` (K-major: row ``n`` is column ``n`` of the
    ``[R * H, 8]`` operand): query row ``n``'s head weights for ``n < R``, zeros elsewhere, in the A fragment's K
    order (:func:`_head_sums_tf32`), rounded to tf32 (to nearest; the tensor cores would truncate)."""
    N: gl.constexpr = R * H
    layout: gl.constexpr = gl.BlockedLayout([1, 4], [1, 32], [4, 1], [1, 0])
    n = gl.arange(0, 8, layout=gl.SliceLayout(1, layout))[:, None]
    k = gl.arange(0, N, layout=gl.SliceLayout(0, layout))[None, :]
    c = (k // 8) * 8 + (k % 4) * 2 + (k // 4) % 2  # the accumulator column at K position k
    w = gl.load(w_ptr + (row0 + n).to(gl.int64) * stride_w + c // R, mask=n == c % R, other=0.0)
    bits = (w.to(gl.int32, bitcast=True) + 0x1000) & -8192
    w_smem.store(bits.to(gl.float32, bitcast=True))
    fence_async_shared()  # (then the wgmma's async-proxy reads, after _start's barrier)


@gluon.jit
def _head_sums_tf32(scores, w_smem, sums: gl.constexpr):
    """Per token, the sums over heads of ReLU(score) x head weight for every query row at once, as a tf32 wgmma
    ``relu(scores) [BLOCK_T, N] x w [N, 8]`` (column n: query row n), the scores taken from registers. A lane's
    accumulator columns ``8 * block + 2 * quad + j`` are the tf32 A fragment's K positions ``8 * block + 4 * j +
    quad``: read in that order (``_weights_t`` writes the weights so), the conversion moves nothing."""
    T: gl.constexpr = scores.shape[0]
    N: gl.constexpr = scores.shape[1]
    a = gl.maximum(scores, 0.0)
    a = gl.reshape(gl.permute(gl.reshape(a, [T, N // 8, 4, 2]), [0, 1, 3, 2]), [T, N])
    a = gl.convert_layout(a, gl.DotOperandLayout(operand_index=0, parent=sums, k_width=1), assert_trivial=True)
    return warpgroup_mma(a, w_smem.permute((1, 0)), gl.zeros([T, 8], gl.float32, layout=sums), use_acc=False,
                         precision="tf32")


@gluon.jit
def _finish(acc, keys, w, w_smem, ks, toks, t0, t_end, v0, v1, row0_off, row1_off, out_ptr, OUT_BF16: gl.constexpr,
            R: gl.constexpr, BYTES: gl.constexpr, TF32: gl.constexpr, epi: gl.constexpr):
    """Wait for a tile's wgmma, then its rows' epilogues. (``BYTES``: the wgmma reads ``keys`` from registers, kept
    alive until it is done.)"""
    if BYTES:
        scores, keys = warpgroup_mma_wait(num_outstanding=0, deps=(acc, keys))
    else:
        scores = warpgroup_mma_wait(num_outstanding=0, deps=(acc, ))
    tok = t0 + toks
    if TF32:
        # every row at once, from the [BLOCK_T, 8] sums (column n: row n; row0_off: each column's row offset)
        col = gl.arange(0, 8, layout=gl.SliceLayout(0, epi))[None, :]
        _store(out_ptr, row0_off, tok[:, None], _head_sums_tf32(scores, w_smem, epi) * ks[:, None],
               gl.where(col == 0, v0, v1), t_end, OUT_BF16, col < R)
    else:
        l0, l1 = _head_sums(scores, w, R)
        # Both sums before either store: a store's branch (the logits dtype) between a product and its sum would
        # keep ptxas from fusing them.
        _store(out_ptr, row0_off, tok, gl.convert_layout(l0, toks.type.layout) * ks, v0, t_end, OUT_BF16)
        if R == 2:
            _store(out_ptr, row1_off, tok, gl.convert_layout(l1, toks.type.layout) * ks, v1, t_end, OUT_BF16)


@gluon.jit
def _run(q_ptr, kv_ptr, w_ptr, lens_ptr, table_ptr, out_ptr, k_smem, s_smem, q_smem, stride_w, stride_table,
         stride_page, stride_out, next_n, num_blocks, width, table_width, log2_block_kv, lens_2d, b, length, t_begin,
         t_stop, k_offs, s_offs, q_offs, heads, toks, H: gl.constexpr, D: gl.constexpr, R: gl.constexpr,
         AHEAD: gl.constexpr, STAGES: gl.constexpr, OUT_BF16: gl.constexpr, BYTES: gl.constexpr, mma: gl.constexpr,
         words: gl.constexpr, w_smem, TF32: gl.constexpr, epi: gl.constexpr):
    """Tokens ``[t_begin, t_stop)`` of request ``b`` (a run of its consecutive splits)."""
    cap = table_width << log2_block_kv  # tokens the block table can address
    t_end = gl.minimum(t_stop, gl.minimum(length, gl.minimum(cap, width)))
    n_tiles = (t_end - t_begin + BLOCK_T - 1) // BLOCK_T
    if n_tiles > 0:
        # Every warp is done with the previous run's buffers: its last scales read, its wgmma waited for.
        _cta_barrier()
        id_row = table_ptr + b.to(gl.int64) * stride_table
        for j in gl.static_range(AHEAD):
            t0 = t_begin + j * BLOCK_T
            _issue(k_smem, s_smem, kv_ptr, _page_id(id_row, t0, log2_block_kv, table_width), t0, j, n_tiles,
                   num_blocks, stride_page, log2_block_kv, k_offs, s_offs, D, STAGES, BYTES)
        page = _page_id(id_row, t_begin + AHEAD * BLOCK_T, log2_block_kv, table_width)
        row0 = b * next_n
        if BYTES:  # decoded once per run, into the keys' K order, 64 MMA columns at a time (registers)
            q_words = q_ptr.to(gl.pointer_type(gl.int32)) + row0.to(gl.int64) * (H * D // 4)
            for part in gl.static_range(R * H // BLOCK_T):
                chunk = gl.load(q_words + part * (BLOCK_T // R) * (D // 4) + q_offs)
                q_smem.slice(part * BLOCK_T, BLOCK_T).store(fp8_operand(chunk, MODE_BYTES, True, True))
            fence_async_shared()  # (then the wgmma's async-proxy reads, after _start's barrier)
        else:
            q_smem.store(gl.load(q_ptr + row0.to(gl.int64) * (H * D) + q_offs))
        w = gl.load(w_ptr + row0.to(gl.int64) * stride_w + heads)
        v0 = gl.minimum(row_lengths(lens_ptr, b, 0, True, next_n, lens_2d, 0), cap)
        v1 = v0
        if R == 2:
            v1 = gl.minimum(row_lengths(lens_ptr, b, 1, True, next_n, lens_2d, 0), cap)
        row0_off = row0.to(gl.int64) * stride_out
        row1_off = row0_off + stride_out
        if TF32:
            _weights_t(w_ptr, row0, stride_w, w_smem, H, R)
            row0_off = row0_off + gl.arange(0, 8, layout=gl.SliceLayout(0, epi))[None, :].to(gl.int64) * stride_out
        zero = gl.zeros([BLOCK_T, R * H], gl.float32, layout=mma)
        for i in range(0, n_tiles):
            a, ka, ks, page = _start(k_smem, s_smem, q_smem, kv_ptr, id_row, page, i, t_begin, n_tiles, num_blocks,
                                     stride_page, log2_block_kv, table_width, k_offs, s_offs, zero, D, AHEAD, STAGES,
                                     BYTES, mma, words, epi)
            _finish(a, ka, w, w_smem, ks, toks, t_begin + i * BLOCK_T, t_end, v0, v1, row0_off, row1_off, out_ptr,
                    OUT_BF16, R, BYTES, TF32, epi)
        async_copy.wait_group(0)  # (copies past the last tile are masked off, but still groups)


@gluon.jit(do_not_specialize=_RUNTIME_INTS, do_not_specialize_on_alignment=_ANY_ALIGNMENT)
def _dsa_paged_sm90_kernel(
        q_ptr, kv_ptr, w_ptr, lens_ptr, table_ptr, meta_ptr, out_ptr,
        stride_w, stride_table, stride_page, stride_out,  #
        num_slots, next_n, num_blocks, width, table_width, log2_block_kv, lens_2d, log2_split, programs_per_sm,  #
        H: gl.constexpr, D: gl.constexpr, R: gl.constexpr, AHEAD: gl.constexpr, OUT_BF16: gl.constexpr,
        BYTES: gl.constexpr, TF32: gl.constexpr):
    N: gl.constexpr = R * H  # MMA columns: every row's heads
    # Ring buffers: the tiles ahead and the one being read. Tile i + AHEAD's copies go to tile i - 1's buffer, after
    # _start's barrier: every warp is past that tile's wgmma wait (and, bytes, its loads).
    STAGES: gl.constexpr = AHEAD + 1
    scale_copy: gl.constexpr = gl.BlockedLayout([1], [32], [4], [0])
    if BYTES:
        gl.static_assert(D == 128, "the words layout below is head_dim 128's")
        # fp16 wgmma (k = 16), keys from registers
        mma: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[4, 1], instr_shape=[16, N, 16])
        VALUES: gl.constexpr = D // 4  # int32 words per key row
        copy: gl.constexpr = gl.BlockedLayout([1, 4], [32 // (D // 16), D // 16], [4, 1], [1, 0])  # 16-byte vectors
        # Each lane's words of a key tile: lane l holds rows l // 4 and l // 4 + 8 (of its warp's 16), each row's
        # quarter l % 4, i.e. 8 consecutive words (two 16-byte loads): decoded in the fragment's K order, its fragment.
        words: gl.constexpr = gl.DistributedLinearLayout(
            reg_bases=[[0, 1], [0, 2], [0, 4], [8, 0]], lane_bases=[[0, 8], [0, 16], [1, 0], [2, 0], [4, 0]],
            warp_bases=[[16, 0], [32, 0]], block_bases=[], shape=[BLOCK_T, VALUES])
        # 16-byte vectors swizzled by row: the 8 lanes of a load phase (2 rows x 4 quarters) hit distinct banks
        swizzled: gl.constexpr = gl.SwizzledSharedLayout(4, 1, 8, [1, 0])
        k_smem = gl.allocate_shared_memory(gl.int32, [STAGES, BLOCK_T, VALUES], swizzled)
        operand: gl.constexpr = gl.NVMMASharedLayout(swizzle_byte_width=128, element_bitwidth=16, rank=2)
        q_smem = gl.allocate_shared_memory(gl.float16, [N, D], operand)
    else:
        mma: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[4, 1], instr_shape=[16, N, 32])
        VALUES: gl.constexpr = D
        copy: gl.constexpr = gl.BlockedLayout([1, 16], [32 // (D // 16), D // 16], [4, 1], [1, 0])  # 16-byte vectors
        words: gl.constexpr = copy  # (unused)
        operand: gl.constexpr = gl.NVMMASharedLayout(swizzle_byte_width=D, element_bitwidth=8, rank=2)
        k_smem = gl.allocate_shared_memory(gl.float8e4nv, [STAGES, BLOCK_T, D], operand)
        q_smem = gl.allocate_shared_memory(gl.float8e4nv, [N, D], operand)
    s_smem = gl.allocate_shared_memory(gl.float32, [STAGES, BLOCK_T], gl.SwizzledSharedLayout(1, 1, 1, [0]))
    if TF32:
        # the head sums' wgmma (tf32, k = 8): its [BLOCK_T, 8] accumulator is the epilogue's layout
        epi: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[4, 1], instr_shape=[16, 8, 8])
        w_smem = gl.allocate_shared_memory(gl.float32, [8, N], gl.NVMMASharedLayout(
            swizzle_byte_width=min(128, 4 * N), element_bitwidth=32, rank=2))
    else:
        epi: gl.constexpr = mma
        w_smem = s_smem  # (unused)
    cols = gl.arange(0, VALUES, layout=gl.SliceLayout(0, copy))
    k_offs = gl.arange(0, BLOCK_T, layout=gl.SliceLayout(1, copy))[:, None] * VALUES + cols[None, :]
    n = gl.arange(0, BLOCK_T if BYTES else N, layout=gl.SliceLayout(1, copy))  # (bytes: a chunk of the columns)
    q_offs = ((n % R) * H + n // R)[:, None] * VALUES + cols[None, :]  # query row of MMA column n (interleaved)
    n = gl.arange(0, N, layout=gl.SliceLayout(0, mma))
    heads = (n % R) * stride_w + n // R  # ... and its head weight
    s_offs = gl.arange(0, BLOCK_T, layout=scale_copy)
    toks = gl.arange(0, BLOCK_T, layout=gl.SliceLayout(1, epi))

    # The program's share of its SM's task range, in tile slots, as in the tl kernel (paged.py, whose scalar helpers
    # Gluon calls).
    unit_shift = log2_split - log2(BLOCK_T)  # tile slots per task, as a shift
    lane, a, split, a_end, split_end = sm_range(meta_ptr, programs_per_sm, num_slots)
    n_tasks = 0
    x = a
    s = split
    while x < a_end:
        n_tasks += gl.maximum(splits(_atom_len(lens_ptr, x, next_n, lens_2d, R), log2_split) - s, 0)
        s = 0
        x += 1
    n_tasks += gl.maximum(split_end - s, 0)
    skip, todo = share(n_tasks, lane, programs_per_sm, unit_shift)
    x = a
    s = split
    while (todo > 0) & (x < num_slots):
        length = _atom_len(lens_ptr, x, next_n, lens_2d, R)
        avail = gl.maximum(splits(length, log2_split) - s, 0) << unit_shift
        if skip < avail:
            first = (s << unit_shift) + skip  # (s < the request's splits here: no overflow below)
            count = gl.minimum(avail - skip, todo)
            _run(q_ptr, kv_ptr, w_ptr, lens_ptr, table_ptr, out_ptr, k_smem, s_smem, q_smem, stride_w, stride_table,
                 stride_page, stride_out, next_n, num_blocks, width, table_width, log2_block_kv, lens_2d, x, length,
                 first * BLOCK_T, (first + count) * BLOCK_T, k_offs, s_offs, q_offs, heads, toks, H, D, R, AHEAD,
                 STAGES, OUT_BF16, BYTES, mma, words, w_smem, TF32, epi)
            todo -= count
            skip = 0
        else:
            skip -= avail
        s = 0
        x += 1
