"""Small Triton kernels that expose one building block of the Triton family for exhaustive tests (CPU interpreter
and GPU). Not imported by ``sglang_sm120_dsa.testing`` itself: importing this needs Triton."""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..reference.fp4 import dequant_fp4
from ..triton.kernels.decode import MODE_BYTES
from ..triton.kernels.decode import fp4_operand
from ..triton.kernels.decode import fp8_operand


@triton.jit
def _bytes_decode_probe(words_ptr, out_ptr, R: tl.constexpr, W: tl.constexpr, ASM: tl.constexpr,
                        FRAGMENT: tl.constexpr):
    r = tl.arange(0, R)
    words = tl.load(words_ptr + r[:, None] * W + tl.arange(0, W)[None, :])
    values = fp8_operand(words, MODE_BYTES, ASM, FRAGMENT)  # [R, 4W] fp16, head_dim in the operand's K order
    tl.store(out_ptr + r[:, None] * (4 * W) + tl.arange(0, 4 * W)[None, :], values)


def operand_k_order(k: int, fragment: bool, per_word: int = 4) -> torch.Tensor:
    """The decoders' K order, written out independently of the kernel: entry ``n`` is the value of a ``k``-value row
    that lands at K index ``n`` of the decoded operand, words holding ``per_word`` values (4 e4m3 bytes,
    ``kernels.decode._bytes_operand``; 8 e2m1 codes, ``fp4_operand``): lane quarter ``q``'s word ``m``, pair ``i``,
    value ``j`` goes to ``4 * per_word * m + 8i + 2q + j``."""
    if not fragment:
        return torch.arange(k)
    order = torch.empty(k, dtype=torch.long)
    for value in range(k):
        q, m, i, j = value // (k // 4), value % (k // 4) // per_word, value % per_word // 2, value % 2
        order[4 * per_word * m + 8 * i + 2 * q + j] = value
    return order


def decode_every_e4m3_byte(device: str | torch.device, asm: bool, fragment: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The byte path's decoder (``asm``: the PTX one, compiled code only) on all 256 bytes, laid out as 8 rows of 8
    int32 words like a key tile, in the MMA fragment's K order (``fragment``) or memory order. Returns (the bytes,
    uint8 [256]; what the decoder made of them, fp16 [256], put back in memory order by :func:`operand_k_order`), on
    the CPU."""
    rows, words = 8, 8
    codes = torch.arange(256, dtype=torch.int32).to(torch.uint8).to(device)
    out = torch.empty(rows, 4 * words, dtype=torch.float16, device=device)
    _bytes_decode_probe[(1,)](codes.view(torch.int32), out, R=rows, W=words, ASM=asm, FRAGMENT=fragment)
    in_memory_order = torch.empty_like(out)
    in_memory_order[:, operand_k_order(4 * words, fragment).to(device)] = out
    return codes.cpu(), in_memory_order.flatten().cpu()


def assert_decoded_e4m3(codes: torch.Tensor, values: torch.Tensor) -> None:
    """``values`` are ``e4m3(codes) / 256`` exactly, in order, subnormals and signed zeros included; the two NaN codes
    (0x7F, 0xFF) come out as +-480 / 256 (the trick's value; quantization never writes NaN into a cache)."""
    expected = codes.view(torch.float8_e4m3fn).float() / 256
    nan = expected.isnan()
    expected[nan] = torch.where(codes[nan] >= 128, -1.875, 1.875)
    got = values.float()
    assert torch.equal(got, expected), (codes[got != expected], got[got != expected], expected[got != expected])
    assert torch.equal(got.signbit(), codes >= 128), "signed zero lost"


@triton.jit
def _fp4_decode_probe(words_ptr, sf_ptr, out_ptr, R: tl.constexpr, W: tl.constexpr, ASM: tl.constexpr,
                      FRAGMENT: tl.constexpr):
    r = tl.arange(0, R)
    words = tl.load(words_ptr + r[:, None] * W + tl.arange(0, W)[None, :])
    values = fp4_operand(words, tl.load(sf_ptr + r), ASM, FRAGMENT)  # [R, 8W] bf16, head_dim in the K order
    tl.store(out_ptr + r[:, None] * (8 * W) + tl.arange(0, 8 * W)[None, :], values)


def decode_every_fp4(device: str | torch.device, asm: bool, fragment: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The MXFP4 decoder (``asm``: the PTX one, compiled code only) on 256 rows of 128 elements: every code at every
    position of a word (rows of words whose nibble ``i`` is ``(i + c) % 16``), under all 256 scale bytes, each row's
    four blocks with four different scales. Returns (the reference decode, float32 ``[256, 128]``; what the decoder
    made of it, bf16 put back in memory order by :func:`operand_k_order`), on the CPU."""
    rows, words = 256, 16
    nibbles = (torch.arange(8)[None, :] + torch.arange(16)[:, None]) % 16  # [16 words, 8 nibbles]
    word = (nibbles << (4 * torch.arange(8))).sum(dim=1)  # int64 < 2^32
    packed = word.to(torch.uint32).view(torch.uint8)[None, :].repeat(rows, 1)
    packed = packed.view(torch.int32).roll(1, dims=1).view(torch.uint8)  # (each block gets other codes per row)
    e = torch.arange(rows)
    sf = (e | ((e + 85) % 256) << 8 | ((e + 170) % 256) << 16 | ((255 - e) << 24)).to(torch.uint32).view(torch.int32)
    out = torch.empty(rows, 8 * words, dtype=torch.bfloat16, device=device)
    _fp4_decode_probe[(1,)](packed.view(torch.int32).to(device), sf.to(device), out, R=rows, W=words, ASM=asm,
                            FRAGMENT=fragment)
    in_memory_order = torch.empty_like(out)
    in_memory_order[:, operand_k_order(8 * words, fragment, 8).to(device)] = out
    return dequant_fp4(packed, sf, 8 * words), in_memory_order.cpu()


def assert_decoded_fp4(expected: torch.Tensor, values: torch.Tensor) -> None:
    """``values`` (bf16) are ``expected`` exactly: signed zeros, subnormal and NaN scales included."""
    got = values.float()
    nan = expected.isnan()
    assert torch.equal(got.isnan(), nan), "NaN (scale byte 255) where the reference has none, or missing"
    same = torch.where(nan, 0, got) == torch.where(nan, 0, expected)
    assert same.all(), (got[~same][:8], expected[~same][:8])
    assert torch.equal(got.signbit()[~nan], expected.signbit()[~nan]), "signed zero lost"
