"""Small Triton kernels that expose one building block of the Triton family for exhaustive tests (CPU interpreter
and GPU). Not imported by ``sglang_sm120_dsa.testing`` itself: importing this needs Triton."""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..triton.kernels.decode import MODE_BYTES
from ..triton.kernels.decode import fp8_operand


@triton.jit
def _bytes_decode_probe(words_ptr, out_ptr, R: tl.constexpr, W: tl.constexpr, ASM: tl.constexpr,
                        FRAGMENT: tl.constexpr):
    r = tl.arange(0, R)
    words = tl.load(words_ptr + r[:, None] * W + tl.arange(0, W)[None, :])
    values = fp8_operand(words, MODE_BYTES, ASM, FRAGMENT)  # [R, 4W] fp16, head_dim in the operand's K order
    tl.store(out_ptr + r[:, None] * (4 * W) + tl.arange(0, 4 * W)[None, :], values)


def operand_k_order(k: int, fragment: bool) -> torch.Tensor:
    """The byte path's K order, written out independently of the kernel: entry ``n`` is the byte of a ``k``-byte
    row that lands at K index ``n`` of the decoded operand (``kernels.decode._bytes_operand``)."""
    if not fragment:
        return torch.arange(k)
    order = torch.empty(k, dtype=torch.long)
    for byte in range(k):
        q, m, i, j = byte // (k // 4), byte % (k // 4) // 4, byte % 4 // 2, byte % 2
        order[16 * m + 8 * i + 2 * q + j] = byte
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
