"""Operand decoding shared by the Triton kernels.

Three operand modes (``MODE`` constexpr):

* ``MODE_NATIVE`` (SM89 and newer): FP8 bytes bitcast to e4m3 and fed to ``tl.dot`` as is.
* ``MODE_BYTES`` (SM80/86, where Triton rejects e4m3): the fp16 bits ``((b & 0x7F) << 7) | ((b & 0x80) << 8)``
  are exactly ``e4m3(b) / 256`` (subnormals included), so the dot of two decoded operands is the FP8 dot
  ``/ 65536``; the kernels fold ``BYTES_SCALE`` into the key scale. No FP8 type appears in the generated code.
  Where the MMA's fragment allows it (Hopper's wgmma; mma.sync where config.fragment_order says so) the decoded
  operands come out with head_dim permuted (the same way for query and keys, so every dot is unchanged): each lane
  of the MMA's register fragment then holds whole 16-byte runs of a key row, and the tile goes from the loaded
  words to the MMA in registers (see :func:`_bytes_operand`).
* ``MODE_FP4``: MXFP4 e2m1 nibbles times their ue8m0 block scale, decoded to bf16. Both factors are powers of two
  times at most two significant bits, so the bf16 values and every product are exact, and one bf16 dot over the
  whole head_dim replaces a dot plus an fp32 rescale per 32-element block.
"""

from __future__ import annotations

import triton
import triton.language as tl

MODE_NATIVE = tl.constexpr(0)
MODE_BYTES = tl.constexpr(1)
MODE_FP4 = tl.constexpr(2)
BYTES_SCALE = tl.constexpr(65536.0)  # 256 * 256: the factor MODE_BYTES leaves out of each dot


# The byte trick on one int32 word (4 e4m3 values, little-endian) -> 4 fp16. Per pair of values one ``prmt`` spreads
# the bytes into sign-extended half-words; an ``and`` keeps each byte's magnitude (bits 0-6) and one copy of its sign
# (bit 8), and a shift by 7 puts them at bits 7-13 and 15: 1.5 instructions per value. (Was 2: a second ``prmt`` for
# the signs and a ``lop3``; H200, byte path, 64 x 64K: next_n 1 208 -> 198 us, next_n 2 303 -> 290. Building the
# high and low byte of each half-word separately and interleaving them with ``prmt`` took 1.75 per value and ran as
# slowly as the old code.) The words are loaded whole, 16 bytes per load. testing.ptx_model runs this text on CPU.
E4M3_WORD_ASM = tl.constexpr("""{
        .reg .b32 v;
        prmt.b32 v, $4, 0, 0x9180;
        and.b32 v, v, 0x017F017F;
        shl.b32 v, v, 7;
        mov.b32 {$0, $1}, v;
        prmt.b32 v, $4, 0, 0xB3A2;
        and.b32 v, v, 0x017F017F;
        shl.b32 v, v, 7;
        mov.b32 {$2, $3}, v;
        }""")


@triton.jit
def _e4m3_word_to_f16(word):
    """:data:`E4M3_WORD_ASM` on int32 words -> 4 fp16 each (``e4m3 / 256``, byte order)."""
    return tl.inline_asm_elementwise(asm=E4M3_WORD_ASM, constraints="=h,=h,=h,=h,r", args=[word],
                                     dtype=(tl.float16, tl.float16, tl.float16, tl.float16), is_pure=True, pack=1)


@triton.jit
def _e4m3_byte_to_f16(word, SHIFT: tl.constexpr):
    """Byte ``SHIFT / 8`` of int32 words -> fp16 by the same trick in plain Triton (the CPU interpreter runs no PTX)."""
    x = (word >> SHIFT) & 0xFF
    return (((x & 0x7F) << 7) | ((x & 0x80) << 8)).to(tl.uint16).to(tl.float16, bitcast=True)


@triton.jit
def _bytes_operand(words, ASM: tl.constexpr, FRAGMENT: tl.constexpr):
    """int32 words ``[R, W]`` of e4m3 bytes -> fp16 ``[R, 4W]`` holding ``e4m3 / 256``: in memory order, or with
    ``FRAGMENT`` in the K order of ``testing.triton_probes.operand_k_order(4W, True)``.

    The MMA takes the key tile from registers, in a fragment that gives each of 4 lanes per row 2 consecutive K
    values out of every 8 (wgmma, and mma.sync m16n8k16 with a 2-wide fragment). In memory order a lane would need 2
    bytes of every 8, so Triton stores the decoded tile to shared memory and reloads it in the fragment's layout.
    Byte ``q * K/4 + 4m + 2i + j`` (lane ``q``'s quarter of the row, word ``m`` of it, value ``2i + j`` of the
    word) becomes K index ``16m + 8i + 2q + j``: each lane's K values are its own quarter of the row, loaded as
    16-byte words and decoded in place. sm_90 token loop (next_n 1): 405 -> 356 instructions, the stores,
    ``ldmatrix`` and two barriers gone; H200 64 x 64K 273 -> 207 us. A dot does not see the order: query and keys
    go through here alike. Where it pays on mma.sync archs: config.fragment_order."""
    if ASM:
        v0, v1, v2, v3 = _e4m3_word_to_f16(words)
    else:
        v0 = _e4m3_byte_to_f16(words, 0)
        v1 = _e4m3_byte_to_f16(words, 8)
        v2 = _e4m3_byte_to_f16(words, 16)
        v3 = _e4m3_byte_to_f16(words, 24)
    # join adds a last axis: [R, W, 2, 2] with (i, j) -> value 2i + j of each word
    return _in_k_order(tl.join(tl.join(v0, v2), tl.join(v1, v3)), 2, FRAGMENT)


@triton.jit
def _in_k_order(x, PAIRS: tl.constexpr, FRAGMENT: tl.constexpr):
    """Decoded words ``[R, W, ...]`` (each word's ``2 * PAIRS`` values in order) -> ``[R, K]``, in memory order or with
    ``FRAGMENT`` in the fragment's: lane quarter ``q``'s pair ``i`` of its word ``m`` at K ``8 * PAIRS * m + 8i + 2q +
    j`` (:func:`_bytes_operand`)."""
    R: tl.constexpr = x.shape[0]
    K: tl.constexpr = x.shape[1] * 2 * PAIRS
    if FRAGMENT:  # (q, m, i, j) -> (m, i, q, j)
        x = tl.permute(tl.reshape(x, [R, 4, K // (8 * PAIRS), PAIRS, 2]), [0, 2, 3, 1, 4])
    return tl.reshape(x, [R, K])


@triton.jit
def load_rows(rows, mask, MODE: tl.constexpr, DQ: tl.constexpr):
    """The ``DQ`` value bytes of the rows starting at pointers ``rows [R]`` (rows with ``mask`` false are not read;
    ``mask`` None: every row is read): e4m3-typed ``[R, DQ]``, or in ``MODE_BYTES`` and ``MODE_FP4`` int32 words
    ``[R, DQ / 4]``, which keeps the loads 16 bytes wide and gives the decoder whole words (bytes let the compiler
    load them 2 at a time in the MMA's layout)."""
    # masked rows (zero-filled by cp.async) only reach outputs that are never stored: no `other`, which an
    # e4m3-typed load could not take
    if MODE != MODE_NATIVE:
        ptrs = rows.to(tl.pointer_type(tl.int32))[:, None] + tl.arange(0, DQ // 4)[None, :]
    else:
        ptrs = rows[:, None] + tl.arange(0, DQ)[None, :]
    if mask is None:
        raw = tl.load(ptrs)
    else:
        raw = tl.load(ptrs, mask=mask[:, None])
    return raw


@triton.jit
def fp8_operand(raw, MODE: tl.constexpr, ASM: tl.constexpr, FRAGMENT: tl.constexpr):
    """:func:`load_rows` of e4m3 values -> an operand ``tl.dot`` accepts on this arch. ``ASM`` selects the PTX byte
    decoding (compiled code) over the pure-Triton one; ``FRAGMENT``: the byte path's K order
    (:func:`_bytes_operand`)."""
    if MODE == MODE_NATIVE:
        # An e4m3-typed load (the launcher passes e4m3 views) stays in shared memory for the MMA; a bitcast of
        # bytes would route the tile through registers (measured: 196 registers per thread, 12% occupancy).
        operand = raw if raw.dtype == tl.float8e4nv else raw.to(tl.float8e4nv, bitcast=True)
    else:
        operand = _bytes_operand(raw, ASM, FRAGMENT)
    return operand


@triton.jit
def _e2m1_times_scale(code, scale):
    """4-bit codes (int32) times fp32 scales -> fp32: sign bit 3, exponent bits 1-2 (bias 1), mantissa bit 0."""
    exponent = (code >> 1) & 3
    mantissa = code & 1
    # |value| bits in fp32: 2^(e-1) * (1 + m/2) for e >= 1, m/2 for e == 0
    normal = ((exponent + 126) << 23) | (mantissa << 22)
    magnitude = tl.where(exponent == 0, mantissa.to(tl.float32) * 0.5, normal.to(tl.float32, bitcast=True))
    value = magnitude * scale
    return tl.where((code & 8) != 0, -value, value)


# The PTX decoder of one int32 word of packed e2m1 codes (element 2i in the low nibble of byte i) -> 8 bf16, times
# the word's block scale ($9: bf16 bits, twice). Per 4 codes: their sign-cleared nibbles are a ``prmt`` selector
# that looks up the low and the high byte of each magnitude's bf16 bits (0, 0.5, 1, 1.5, 2, 3, 4, 6) in two 8-byte
# tables; a ``prmt`` in sign-replicating mode spreads each code's sign over a byte (even codes' signs moved to bit 7
# by a shift), which sets bit 7 of the high bytes; two ``prmt`` interleave low and high bytes into bf16 pairs; an
# ``fma.rn.bf16x2`` with -0 applies the scale: exact (a power of two times at most two significant bits), NaN for
# scale byte 255. 2.5 instructions per value (the arithmetic decode took ~16). tests/cpu/test_ptx_decoders.py runs
# this text on all codes and scale bytes (testing.ptx_model), tests/gpu the compiled decoder on a GPU.
def _e2m1_half(selector: str, signs: str, first: int) -> str:
    """The PTX of :data:`E2M1_WORD_ASM` for 4 of the word's codes: ``selector`` (their nibbles in bits 0-15, from
    ``$8``), the sign selector ``signs``, outputs ``$first`` to ``$first + 3``."""
    return f"""{selector}
        and.b32 sel, sel, 0x7777;
        prmt.b32 lo, 0xC0800000, 0xC0804000, sel;
        prmt.b32 hi, 0x3F3F3F00, 0x40404040, sel;
        prmt.b32 sgn, even, $8, {signs};
        and.b32 sgn, sgn, 0x80808080;
        or.b32 hi, hi, sgn;
        prmt.b32 p, lo, hi, 0x5140;
        fma.rn.bf16x2 p, p, $9, z;
        mov.b32 {{${first}, ${first + 1}}}, p;
        prmt.b32 p, lo, hi, 0x7362;
        fma.rn.bf16x2 p, p, $9, z;
        mov.b32 {{${first + 2}, ${first + 3}}}, p;"""


E2M1_WORD_ASM = tl.constexpr(f"""{{
        .reg .b32 sel, sgn, even, lo, hi, p, z;
        mov.b32 z, 0x80008000;
        shl.b32 even, $8, 4;
        {_e2m1_half("mov.b32 sel, $8;", "0xD9C8", 0)}
        {_e2m1_half("shr.u32 sel, $8, 16;", "0xFBEA", 4)}
        }}""")


@triton.jit
def _e2m1_word_to_bf16(word, scale2):
    """:data:`E2M1_WORD_ASM` on int32 words and their scales (bf16 bits in both halves) -> 8 bf16 (element order)."""
    return tl.inline_asm_elementwise(asm=E2M1_WORD_ASM, constraints="=h,=h,=h,=h,=h,=h,=h,=h,r,r",
                                     args=[word, scale2], dtype=(tl.bfloat16,) * 8, is_pure=True, pack=1)


@triton.jit
def _exact_bf16(x):
    """fp32 values that bf16 holds exactly -> bf16, as the top half of their bits (the interpreter's conversion
    flushes subnormals to zero)."""
    return (x.to(tl.int32, bitcast=True) >> 16).to(tl.int16).to(tl.bfloat16, bitcast=True)


@triton.jit
def fp4_operand(words, sf_words, ASM: tl.constexpr, FRAGMENT: tl.constexpr):
    """Packed e2m1 as int32 words ``[R, D/8]`` (element 2i in the low nibble of byte i) and int32 ue8m0 words ``[R]``
    (byte k scales elements [32k, 32k + 32)) -> bf16 ``[R, D]``, in memory order or with ``FRAGMENT`` in the MMA
    fragment's K order (as :func:`_bytes_operand`, a word's 8 values as 4 pairs). ``ASM``: the PTX decoder, else
    the same values in plain Triton (the interpreter)."""
    W: tl.constexpr = words.shape[1]
    block = tl.arange(0, W) // 4  # word m holds elements 8m .. 8m + 7, all in block m // 4
    exponent = (sf_words.to(tl.int32)[:, None] >> (8 * block)[None, :]) & 0xFF  # [R, W]
    if ASM:
        # 2^(e - 127) in bf16 bits: byte 0 is the subnormal 2^-127, byte 255 is NaN (OCP MX)
        bits = tl.where(exponent == 0, 0x40, tl.where(exponent == 255, 0x7FC0, exponent << 7))
        v0, v1, v2, v3, v4, v5, v6, v7 = _e2m1_word_to_bf16(words, bits | (bits << 16))
    else:
        bits = tl.where(exponent == 0, 1 << 22, tl.where(exponent == 255, 0x7FC00000, exponent << 23))
        scale = bits.to(tl.float32, bitcast=True)
        v0 = _exact_bf16(_e2m1_times_scale(words & 0xF, scale))
        v1 = _exact_bf16(_e2m1_times_scale((words >> 4) & 0xF, scale))
        v2 = _exact_bf16(_e2m1_times_scale((words >> 8) & 0xF, scale))
        v3 = _exact_bf16(_e2m1_times_scale((words >> 12) & 0xF, scale))
        v4 = _exact_bf16(_e2m1_times_scale((words >> 16) & 0xF, scale))
        v5 = _exact_bf16(_e2m1_times_scale((words >> 20) & 0xF, scale))
        v6 = _exact_bf16(_e2m1_times_scale((words >> 24) & 0xF, scale))
        v7 = _exact_bf16(_e2m1_times_scale((words >> 28) & 0xF, scale))
    # joins add last axes: [R, W, 2, 2, 2] with (h, i, j) -> value 4h + 2i + j of each word
    return _in_k_order(tl.join(tl.join(tl.join(v0, v4), tl.join(v2, v6)), tl.join(tl.join(v1, v5), tl.join(v3, v7))),
                       4, FRAGMENT)


@triton.jit
def decode_operand(raw, sf_ptrs, mask, MODE: tl.constexpr, ASM: tl.constexpr, FRAGMENT: tl.constexpr):
    """Loaded rows of values -> a ``tl.dot`` operand: FP8 (:func:`fp8_operand`), or MXFP4 with the ue8m0 words
    loaded here from ``sf_ptrs`` (one per row, masked by ``mask`` unless it is None)."""
    if MODE == MODE_FP4:
        if mask is None:
            words = tl.load(sf_ptrs)
        else:
            words = tl.load(sf_ptrs, mask=mask, other=0)
        operand = fp4_operand(raw, words, ASM, FRAGMENT)
    else:
        operand = fp8_operand(raw, MODE, ASM, FRAGMENT)
    return operand


@triton.jit
def load_query(q_ptr, q_sf_ptr, w_ptr, stride_w, row0, first, n, n_rows, H: tl.constexpr, MODE: tl.constexpr,
               ASM: tl.constexpr, FRAGMENT: tl.constexpr, DQ: tl.constexpr):
    """The MMA's query operand, transposed ``[D, N]``, and the head weights for the columns ``n`` (head ``n % H`` of
    query row ``row0 + first + n // H``; zeros from row ``row0 + n_rows`` on). Transposed here, outside the kernels'
    key loops: at the dot, Triton 3.9 stores the query to shared memory again every key tile."""
    row_n = first + n // H
    ok_n = row_n < n_rows
    qrow = (row0 + row_n).to(tl.int64) * H + n % H  # (row, head) index into q
    raw = load_rows(q_ptr + qrow * DQ, ok_n, MODE, DQ)
    q = decode_operand(raw, q_sf_ptr + qrow, ok_n, MODE, ASM, FRAGMENT)
    w = tl.load(w_ptr + (row0 + row_n).to(tl.int64) * stride_w + n % H, mask=ok_n, other=0.0)
    return tl.trans(q), w


@triton.jit
def head_sum(k, q, w):
    """One query row's scores for a key tile over the heads of ``q`` (transposed, :func:`load_query`): dot
    [tokens, heads], ReLU, head weights, sum (in the MMA's row layout). The MMA's accumulator gives each lane the
    columns ``8 * block + 2 * quad + j`` of its rows (``quad``: lane % 4), so the sum runs as :func:`relu_dot`'s FFMA
    chain over a lane's own columns, then across the quad (``tl.sum`` over all columns adds in a tree, which leaves
    half the products as FMULs: sm_80 SASS, 64-token tiles, 442 -> 421 instructions per tile at next_n 1, 652 -> 616
    at next_n 2; sm_89 native next_n 2 466 -> 426). 64-token tiles only."""
    s = tl.dot(k, q)
    if s.shape[0] == 64:
        out = tl.sum(lane_sums(s, w, 1), axis=1)
    else:  # (128-token tiles: Triton moved the regrouped scores through shared memory, +16 KB on sm_89)
        out = tl.sum(tl.maximum(s, 0.0) * w[None, :], axis=1)
    return out


@triton.jit
def lane_sums(s, w, R: tl.constexpr, ROWS: tl.constexpr = 1):
    """Each lane's sums of ``relu(s) * w`` over its own columns of the MMA accumulator ``s [T, N]`` (``w [N]``: a
    weight per column), by :func:`relu_dot`'s FFMA chain: ``[T, 4]`` (one per quad lane), or for ``R`` = 2 ``[T, 8]``
    (quad lane and query row, next_n 2's interleaved columns kept apart). What remains is the sum across the quad.
    ``ROWS`` > 1 (``R`` = 1): the columns are ``ROWS`` query rows' heads one row after the other, summed apart,
    ``[T, 4 * ROWS]`` (quad lane, then row: a row's columns are consecutive in :func:`lane_columns`' order). The tl
    kernels and Gluon's SM90 kernel call it."""
    s, w = tl.broadcast(s, w[None, :])  # (Gluon binary ops want one layout: the same ops on both)
    x = lane_columns(s, R)
    v = lane_columns(w, R)
    if ROWS > 1:
        x = tl.reshape(x, [s.shape[0], 4 * ROWS, s.shape[1] // (4 * ROWS)])
        v = tl.reshape(v, [s.shape[0], 4 * ROWS, s.shape[1] // (4 * ROWS)])
    return relu_dot(x, v, None, s.shape[1] // (4 * R * ROWS))


@triton.jit
def row_sums(s, w, ROWS: tl.constexpr, LANE_SUMS: tl.constexpr):
    """Per token, each query row's sum over its heads of ReLU(score) x head weight, from the accumulator ``s [T,
    ROWS * H]`` (column ``n``: head ``n % H`` of row ``n // H``): ``[T, ROWS]``. ``LANE_SUMS``: as :func:`lane_sums`'
    FFMA chains, then the sum across the quad; else ``tl.sum`` over a row's heads, which adds in a tree and leaves half
    the products as FMULs. The ragged kernel's one-dot form and the paged kernel's dot over a group of rows run it
    (config.ragged_lane_sums, config.paged_lane_sums)."""
    if LANE_SUMS:
        out = tl.sum(tl.reshape(lane_sums(s, w, 1, ROWS), [s.shape[0], 4, ROWS]), axis=1)
    else:
        out = tl.sum(tl.reshape(tl.maximum(s, 0.0) * w[None, :], [s.shape[0], ROWS, s.shape[1] // ROWS]), axis=2)
    return out


@triton.jit
def lane_columns(x, R: tl.constexpr):
    """An MMA accumulator ``x [T, N]`` regrouped so that each lane's own columns (``8 * block + 2 * quad + j``) lie on
    the last axis, for :func:`relu_dot`: ``[T, 4, N // 4]`` (quad; block and j), or for ``R`` = 2 ``[T, 8, N // 8]``
    (quad and j, which keeps next_n 2's interleaved query rows apart; block). Nothing moves in the MMA's layout."""
    T: tl.constexpr = x.shape[0]
    N: tl.constexpr = x.shape[1]
    x = tl.reshape(x, [T, N // 8, 4, 2])
    if R == 2:
        return tl.reshape(tl.permute(x, [0, 2, 3, 1]), [T, 8, N // 8])
    else:
        return tl.reshape(tl.permute(x, [0, 2, 1, 3]), [T, 4, N // 4])


@triton.jit
def relu_dot(x, w, acc, M: tl.constexpr):
    """``acc [A, B]`` (None: 0) plus the sums over the last axis of ``x`` and ``w [A, B, M]`` (``M`` a power of two)
    of ``relu(x) * w``, added one term at a time: an FFMA chain, in a fixed order. Gluon's SM90 kernel runs it too:
    every term then comes out of the same splits in the same layout, and ``acc`` is a term (a zeros tensor would need
    its layout spelled out)."""
    if M == 1:
        term = tl.maximum(tl.reshape(x, [x.shape[0], x.shape[1]]), 0.0) * tl.reshape(w, [w.shape[0], w.shape[1]])
        if acc is None:
            return term
        else:
            return acc + term
    else:
        x0, x1 = tl.split(tl.reshape(x, [x.shape[0], x.shape[1], M // 2, 2]))
        w0, w1 = tl.split(tl.reshape(w, [w.shape[0], w.shape[1], M // 2, 2]))
        return relu_dot(x1, w1, relu_dot(x0, w0, acc, M // 2), M // 2)


@triton.jit
def times_key_scale(logits, kscale, MODE: tl.constexpr):
    """FP8 ``logits [T, R]`` times the per-token key scale ``[T]``, and the ``BYTES_SCALE`` the byte decoding left
    out of the dot."""
    if MODE == MODE_BYTES:
        kscale = kscale * BYTES_SCALE
    return logits * kscale[:, None]


@triton.jit
def store_logits(out_ptr, offsets, values, mask, out_bf16):
    """Store fp32 ``values`` at element ``offsets`` of a logits buffer passed as bytes: bf16 (rounded to nearest
    even) or fp32 by the runtime flag ``out_bf16``, so one compiled kernel serves both logits dtypes."""
    if out_bf16 != 0:
        tl.store((out_ptr + offsets * 2).to(tl.pointer_type(tl.bfloat16)), values.to(tl.bfloat16), mask=mask)
    else:
        tl.store((out_ptr + offsets * 4).to(tl.pointer_type(tl.float32)), values, mask=mask)
