"""Expression helpers shared by the TileLang kernels (plain Python functions that build TIR expressions)."""

from __future__ import annotations

import tilelang.language as T


def neg_inf():
    return -T.infinity("float32")


def ue8m0(word, block):
    """fp32 ``2^(e - 127)`` of byte ``block`` of an int32 ue8m0 word; byte 0 is the subnormal 2^-127, 255 NaN."""
    e = (word >> (8 * block)) & 0xFF
    bits = T.if_then_else(e == 0, 1 << 22, T.if_then_else(e == 255, 0x7FC00000, e << 23))
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
