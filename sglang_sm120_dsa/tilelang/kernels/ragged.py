"""Ragged (prefill) indexer logits in TileLang, for SM120's instruction set.

Grid ``(row blocks, column chunks)``: block ``(i, c)`` owns ``BLOCK_Q`` query rows (``BLOCK_Q * H`` MMA
columns) and output columns ``[c * CHUNK, (c + 1) * CHUNK)``, and scans the key tiles those columns need, so
every output element has one writer (deterministic). Column ``j`` of row ``i`` holds key ``base_i + j``, with
``base = 0`` (plain) or ``ks[i]`` (compressed, ``max_seqlen_k > 0``); a key is valid for row ``i`` when
``max(ks, 0) <= key < min(ke, seq_len_kv)``. Plain rows store every scanned column (values or ``-inf``) and,
with ``clean``, ``-inf`` on the chunk's other columns; compressed rows store only valid columns, after a ``-inf``
prefill of the chunk when ``clean``. Key rows are clamped into the cache, so no input reads out of bounds.
"""

# No `from __future__ import annotations`: TileLang evaluates the T.Tensor annotations when it parses the kernel.
import tilelang.language as T

from .common import mxfp4_element
from .common import neg_inf
from .common import row_types
from .common import tile_buffers
from .common import tile_scores


def ragged_kernel(H: int, D: int, BLOCK_Q: int, BLOCK_KV: int, CHUNK: int, THREADS: int, STAGES: int, FP4: bool,
                  OUT: str):
    N = BLOCK_Q * H
    DQ, value, scale = row_types(D, FP4)
    scores = tile_scores(D, BLOCK_KV, BLOCK_Q, H, FP4)
    q_len = T.dynamic("q_len")
    qsf_len = T.dynamic("qsf_len")
    seq_len_kv = T.dynamic("seq_len_kv")
    w_len = T.dynamic("w_len")
    seq_len = T.dynamic("seq_len")
    out_len = T.dynamic("out_len")

    @T.prim_func
    def ragged(Q: T.Tensor([q_len, DQ], value), QSF: T.Tensor([qsf_len], "int32"),
               KV: T.Tensor([seq_len_kv, DQ], value), KS: T.Tensor([seq_len_kv], scale),
               W: T.Tensor([w_len], "float32"), KStart: T.Tensor([seq_len], "int32"),
               KEnd: T.Tensor([seq_len], "int32"), Out: T.Tensor([out_len], OUT),
               n_chunks: T.int32, stride_w: T.int32, stride_out: T.int64, width: T.int32, clean: T.int32,
               compressed: T.int32):
        with T.Kernel(T.ceildiv(seq_len, BLOCK_Q), n_chunks, threads=THREADS) as (bx, bc):
            q_s, raw_s, k_s, ks_s, s, s3, lg, w = tile_buffers(N, D, BLOCK_KV, BLOCK_Q, H, FP4)
            # each row's valid keys [lo, hi) and column base, once per block: simple stores lower much faster
            lo_s = T.alloc_shared([BLOCK_Q], "int64")
            hi_s = T.alloc_shared([BLOCK_Q], "int64")
            base_s = T.alloc_shared([BLOCK_Q], "int64")
            lo_key = T.alloc_local([1], "int64")
            hi_key = T.alloc_local([1], "int64")
            row0 = bx * BLOCK_Q
            c0 = T.cast(bc, "int64") * CHUNK
            c_end = T.min(c0 + CHUNK, T.cast(width, "int64"))
            lo_key[0] = T.int64(1) << 62
            hi_key[0] = T.int64(0)
            for r in T.serial(BLOCK_Q):  # the union of the keys the rows' columns of this chunk need
                row = T.min(row0 + r, seq_len - 1)
                lo = T.max(T.cast(KStart[row], "int64"), 0)
                hi = T.min(T.cast(KEnd[row], "int64"), T.cast(seq_len_kv, "int64"))
                base = T.if_then_else(compressed != 0, T.cast(KStart[row], "int64"), T.int64(0))
                k_lo = T.max(base + c0, lo)
                k_hi = T.min(base + c_end, hi)
                if row0 + r < seq_len and k_hi > k_lo:
                    lo_key[0] = T.min(lo_key[0], k_lo)
                    hi_key[0] = T.max(hi_key[0], k_hi)
            tile_lo = T.if_then_else(hi_key[0] > 0, lo_key[0] // BLOCK_KV, c0 // BLOCK_KV)
            tile_hi = T.if_then_else(hi_key[0] > 0, T.ceildiv(hi_key[0], BLOCK_KV), c0 // BLOCK_KV)

            for r in T.Parallel(BLOCK_Q):
                row = T.min(row0 + r, seq_len - 1)
                lo_s[r] = T.max(T.cast(KStart[row], "int64"), 0)
                hi_s[r] = T.min(T.cast(KEnd[row], "int64"), T.cast(seq_len_kv, "int64"))
                base_s[r] = T.if_then_else(compressed != 0, T.cast(KStart[row], "int64"), T.int64(0))

            if clean != 0:
                for c in T.serial(T.ceildiv(c_end - c0, THREADS)):
                    for r, x in T.Parallel(BLOCK_Q, THREADS):
                        col = c0 + c * THREADS + x
                        plain_outside = col < tile_lo * BLOCK_KV or col >= tile_hi * BLOCK_KV
                        if row0 + r < seq_len and col < c_end and (compressed != 0 or plain_outside):
                            Out[T.cast(row0 + r, "int64") * stride_out + col] = T.cast(neg_inf(), OUT)
                T.sync_threads()  # the prefill lands before the valid stores of other threads

            for n, d in T.Parallel(N, D):
                qrow = T.min(row0 + n // H, seq_len - 1) * H + n % H
                if FP4:
                    q_s[n, d] = mxfp4_element(Q[qrow, d // 2], QSF[qrow], d)
                else:
                    q_s[n, d] = Q[qrow, d]
            for r, h in T.Parallel(BLOCK_Q, H):
                w[r, h] = W[T.min(row0 + r, seq_len - 1) * stride_w + h]

            for it in T.Pipelined(T.cast(tile_hi - tile_lo, "int32"), num_stages=STAGES):
                for t, c in T.Parallel(BLOCK_KV, DQ // 16):
                    key = T.min(T.cast((tile_lo + it) * BLOCK_KV + t, "int32"), seq_len_kv - 1)
                    for v in T.vectorized(16):
                        raw_s[t, c * 16 + v] = KV[key, c * 16 + v]
                for t in T.Parallel(BLOCK_KV):
                    ks_s[t] = KS[T.min(T.cast((tile_lo + it) * BLOCK_KV + t, "int32"), seq_len_kv - 1)]
                scores(raw_s, k_s, ks_s, q_s, w, s, s3, lg)
                for r, t in T.Parallel(BLOCK_Q, BLOCK_KV):
                    key = (tile_lo + it) * BLOCK_KV + t
                    valid = key >= lo_s[r] and key < hi_s[r]
                    col = key - base_s[r]
                    if row0 + r < seq_len and col >= c0 and col < c_end and (valid or compressed == 0):
                        logit = lg[t, r] if FP4 else lg[t, r] * ks_s[t]
                        Out[T.cast(row0 + r, "int64") * stride_out + col] = T.cast(
                            T.if_then_else(valid, logit, neg_inf()), OUT)

    return ragged
