"""Paged (decode) indexer logits in TileLang, for SM120's instruction set (``mma.sync``, ``cp.async``).

Grid ``(splits, row groups, requests)``: block ``(s, g, b)`` owns columns ``[s * split_kv, (s + 1) * split_kv)``
of rows ``g * ROWS ..`` of request ``b`` (varlen: a request is one query token with its own block-table row).
The grid comes from shapes only (``splits = ceil(width / split_kv)``), so the hardware scheduler balances any mix
of context lengths, and each output element has exactly one writer with fixed arithmetic: results are bitwise
deterministic and independent of the SM count. A block scans only the tiles below its rows' longest valid
length; with ``clean`` it also writes ``-inf`` on the rest of its columns, so no separate clean kernel runs.

Per ``BLOCK_T`` tile: the key bytes are gathered through the block table with 16-byte ``cp.async`` (64-bit page
offsets; the page stride is passed in 16-byte units so that the vector width is provable), then
``T.gemm(keys [BLOCK_T, D], queries [ROWS * H, D]^T)`` on ``mma.sync`` (FP8 m16n8k32; MXFP4 keys decoded to bf16
straight into the MMA's register fragment, m16n8k16), ``relu``, head weights, a sum over heads and the per-token
key scale.

Every global index is clamped into its buffer (rows, table columns, pages), so no input can make a block read
or write outside the tensors it was given; the kernels are compiled without TileLang's bounds guards, which
would block the vectorized copies.
"""

# No `from __future__ import annotations`: TileLang evaluates the T.Tensor annotations when it parses the kernel.
import tilelang.language as T

from .common import mxfp4_element
from .common import neg_inf
from .common import row_types
from .common import tile_buffers
from .common import tile_scores


def _row_length(lens, b, next_n, j, lens_2d, cap):
    """Valid columns of row ``j`` of request ``b`` (0 for padding rows ``j >= next_n``), capped at ``cap``."""
    jc = T.min(j, next_n - 1)
    length = T.if_then_else(lens_2d != 0, lens[b * next_n + jc], lens[b] - next_n + 1 + jc)
    return T.if_then_else(j < next_n, T.min(T.max(length, 0), cap), 0)


def paged_kernel(H: int, D: int, ROWS: int, BLOCK_T: int, THREADS: int, STAGES: int, FP4: bool, OUT: str):
    N = ROWS * H
    DQ, value, scale = row_types(D, FP4)  # DQ: bytes per (token or head) row
    scores = tile_scores(D, BLOCK_T, ROWS, H, FP4)
    q_len = T.dynamic("q_len")
    qsf_len = T.dynamic("qsf_len")
    kv_len = T.dynamic("kv_len")
    ks_len = T.dynamic("ks_len")
    w_len = T.dynamic("w_len")
    lens_len = T.dynamic("lens_len")
    table_len = T.dynamic("table_len")
    out_len = T.dynamic("out_len")

    @T.prim_func
    def paged(Q: T.Tensor([q_len, DQ], value), QSF: T.Tensor([qsf_len], "int32"), KV: T.Tensor([kv_len], value),
              KS: T.Tensor([ks_len], scale), W: T.Tensor([w_len], "float32"), Lens: T.Tensor([lens_len], "int32"),
              Table: T.Tensor([table_len], "int32"), Out: T.Tensor([out_len], OUT),
              batch: T.int32, next_n: T.int32, n_groups: T.int32, n_splits: T.int32, split_kv: T.int32,
              stride_w: T.int32, stride_table: T.int32, stride_page16: T.int64, stride_out: T.int64,
              num_blocks: T.int32, width: T.int32, table_width: T.int32, block_kv: T.int32, log2_block_kv: T.int32,
              lens_2d: T.int32, clean: T.int32):
        with T.Kernel(n_splits, n_groups, batch, threads=THREADS) as (bs, bg, bb):
            q_s, raw_s, k_s, ks_s, s, s3, lg, w = tile_buffers(N, D, BLOCK_T, ROWS, H, FP4)
            len_s = T.alloc_shared([ROWS], "int32")  # once per block: simple stores lower much faster
            longest = T.alloc_local([1], "int32")
            cap = table_width * block_kv
            j0 = bg * ROWS
            longest[0] = 0
            for r in T.serial(ROWS):
                longest[0] = T.max(longest[0], _row_length(Lens, bb, next_n, j0 + r, lens_2d, cap))
            for r in T.Parallel(ROWS):
                len_s[r] = _row_length(Lens, bb, next_n, j0 + r, lens_2d, cap)
            t_begin = bs * split_kv
            t_stop = T.min(t_begin + split_kv, width)
            n_iter = T.ceildiv(T.max(T.min(t_stop, longest[0]) - t_begin, 0), BLOCK_T)

            for n, d in T.Parallel(N, D):
                qrow = (bb * next_n + T.min(j0 + n // H, next_n - 1)) * H + n % H
                if FP4:
                    q_s[n, d] = mxfp4_element(Q[qrow, d // 2], QSF[qrow], d)
                else:
                    q_s[n, d] = Q[qrow, d]
            for r, h in T.Parallel(ROWS, H):
                w[r, h] = W[(bb * next_n + T.min(j0 + r, next_n - 1)) * stride_w + h]

            for it in T.Pipelined(n_iter, num_stages=STAGES):
                for t, c in T.Parallel(BLOCK_T, DQ // 16):
                    tok = t_begin + it * BLOCK_T + t
                    page = T.min(T.max(Table[bb * stride_table + T.min(tok >> log2_block_kv, table_width - 1)], 0),
                                 num_blocks - 1)
                    for v in T.vectorized(16):
                        raw_s[t, c * 16 + v] = KV[T.cast(page, "int64") * stride_page16 * 16
                                                  + (tok & (block_kv - 1)) * DQ + c * 16 + v]
                for t in T.Parallel(BLOCK_T):
                    tok = t_begin + it * BLOCK_T + t
                    page = T.min(T.max(Table[bb * stride_table + T.min(tok >> log2_block_kv, table_width - 1)], 0),
                                 num_blocks - 1)
                    ks_s[t] = KS[T.cast(page, "int64") * stride_page16 * 4 + block_kv * (DQ // 4)
                                 + (tok & (block_kv - 1))]
                scores(raw_s, k_s, ks_s, q_s, w, s, s3, lg)
                for r, t in T.Parallel(ROWS, BLOCK_T):
                    tok = t_begin + it * BLOCK_T + t
                    if j0 + r < next_n and tok < t_stop:
                        logit = lg[t, r] if FP4 else lg[t, r] * ks_s[t]
                        valid = tok < len_s[r]
                        Out[T.cast(bb * next_n + j0 + r, "int64") * stride_out + tok] = T.cast(
                            T.if_then_else(valid, logit, neg_inf()), OUT)

            if clean != 0:  # the block's columns past its scanned tiles
                rest = T.max(t_stop - (t_begin + n_iter * BLOCK_T), 0)
                for c in T.serial(T.ceildiv(rest, THREADS)):
                    for r, x in T.Parallel(ROWS, THREADS):
                        tok = t_begin + n_iter * BLOCK_T + c * THREADS + x
                        if j0 + r < next_n and tok < t_stop:
                            Out[T.cast(bb * next_n + j0 + r, "int64") * stride_out + tok] = T.cast(neg_inf(), OUT)

    return paged
