"""Expression helpers shared by the TileLang kernels (plain Python functions that build TIR expressions)."""

from __future__ import annotations

import tilelang.language as T


def neg_inf():
    return -T.infinity("float32")


def ue8m0(word, block):
    """fp32 ``2^(e - 127)`` of byte ``block`` of an int32 ue8m0 word; byte 0 is the subnormal 2^-127, 255 NaN."""
    e = (word >> (8 * block)) & 0xFF
    bits = (e << 23) | (T.cast(e == 0, "int32") << 22) | (T.cast(e == 255, "int32") << 22)  # branch-free
    return T.reinterpret(bits, "float32")


def e2m1_times(code, scale):
    """A 4-bit e2m1 code (int32: sign bit 3, exponent bits 1-2 with bias 1, mantissa bit 0) times ``scale``.

    The code's low three bits, placed at fp32 bits 22-24, are an fp32 equal to the e2m1 magnitude times 2^-126
    (a subnormal for exponent 0, where e2m1 is subnormal too), so one exact multiply by 2^126 decodes it."""
    bits = ((code & 8) << 28) | ((code & 7) << 22)
    return T.reinterpret(bits, "float32") * T.float32(2.0**126) * scale


def mxfp4_element(byte, word, d):
    """Element ``d`` of an MXFP4 row as bf16, from its packed byte (element ``2i`` in the low nibble) and the row's
    ue8m0 word (byte ``k`` scales elements ``[32k, 32k + 32)``). Both factors have at most two significant bits,
    so the bf16 value is exact and one bf16 dot over the whole row needs no per-block rescale."""
    code = (T.cast(byte, "int32") >> (4 * (d % 2))) & 0xF
    return T.cast(e2m1_times(code, ue8m0(word, d // 32)), "bfloat16")


def row_types(D: int, FP4: bool) -> tuple[int, str, str]:
    """(bytes per key or query row, value dtype, key-scale dtype) of the FP8 or MXFP4 layout."""
    return (D // 2, "uint8", "int32") if FP4 else (D, "float8_e4m3", "float32")


def tile_buffers(N: int, D: int, BLOCK: int, ROWS: int, H: int, FP4: bool):
    """The buffers of one key tile against ``ROWS * H = N`` query columns, allocated in the calling kernel:
    queries, raw key bytes, MMA keys (the raw bytes themselves for FP8; bf16 registers for MXFP4), key scales,
    scores ``[BLOCK, N]`` (and as ``[BLOCK, ROWS, H]``), per-row logits ``[BLOCK, ROWS]`` and head weights."""
    operand = "bfloat16" if FP4 else "float8_e4m3"
    row_bytes, value, scale = row_types(D, FP4)
    q_s = T.alloc_shared([N, D], operand)
    raw_s = T.alloc_shared([BLOCK, row_bytes], value)
    # MXFP4 keys are decoded straight into the MMA's register fragment: no shared-memory round trip
    k_s = T.alloc_fragment([BLOCK, D], operand) if FP4 else raw_s
    ks_s = T.alloc_shared([BLOCK], scale)
    s = T.alloc_fragment([BLOCK, N], "float32")
    lg = T.alloc_fragment([BLOCK, ROWS], "float32")
    w = T.alloc_fragment([ROWS, H], "float32")
    return q_s, raw_s, k_s, ks_s, s, T.reshape(s, [BLOCK, ROWS, H]), lg, w


def tile_scores(D: int, BLOCK: int, ROWS: int, H: int, FP4: bool):
    """Macro: logits ``lg[t, r] = sum_h w[r, h] * relu(k[t] . q[r, h])`` of one loaded key tile (MXFP4 keys
    decoded first; the FP8 key scale is left to the caller's store)."""

    @T.macro
    def scores(raw_s, k_s, ks_s, q_s, w, s, s3, lg):
        if FP4:
            for t, d in T.Parallel(BLOCK, D):
                k_s[t, d] = mxfp4_element(raw_s[t, d // 2], ks_s[t], d)
        T.gemm(k_s, q_s, s, transpose_B=True, clear_accum=True, policy=T.GemmWarpPolicy.FullRow)
        for t, r, h in T.Parallel(BLOCK, ROWS, H):
            s3[t, r, h] = T.max(s3[t, r, h], 0) * w[r, h]
        T.reduce_sum(s3, lg, dim=-1, clear=True)

    return scores
