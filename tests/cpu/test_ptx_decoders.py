"""The Triton family's inline-PTX decoders, run on the CPU through a bit-exact model of their instructions
(testing.ptx_model): the interpreter runs their plain-Triton twins instead, and no GPU is here to run the PTX. The
compiled decoders get the same checks on a GPU (tests/gpu/test_kernel_families.py)."""

from __future__ import annotations

import struct

import pytest
import torch

from sglang_sm120_dsa.reference.fp4 import decode_e2m1
from sglang_sm120_dsa.reference.fp4 import ue8m0_scales
from sglang_sm120_dsa.testing import ptx_model
from sglang_sm120_dsa.triton.kernels.decode import E2M1_WORD_ASM
from sglang_sm120_dsa.triton.kernels.decode import E4M3_WORD_ASM


def _fp16(bits: int) -> float:
    return struct.unpack("<e", struct.pack("<H", bits))[0]


def test_e4m3_decoder_gives_every_byte_over_256() -> None:
    for word in range(0, 256, 4):  # every byte once, 4 per word, in byte order
        packed = word | (word + 1) << 8 | (word + 2) << 16 | (word + 3) << 24
        out = ptx_model.run(E4M3_WORD_ASM.value, {4: packed}, 4)
        for k, bits in enumerate(out):
            byte = word + k
            expected = torch.tensor([byte], dtype=torch.uint8).view(torch.float8_e4m3fn).float().item() / 256
            if byte & 0x7F == 0x7F:  # NaN codes: the trick's +-480 / 256 (quantization never writes NaN)
                expected = -1.875 if byte & 0x80 else 1.875
            assert _fp16(bits) == expected and (bits >> 15) == (byte >> 7), (hex(byte), hex(bits))


def _expected_e2m1(word: int, scale_byte: int) -> list[float]:
    codes = torch.tensor([(word >> (8 * i)) & 0xFF for i in range(4)], dtype=torch.uint8)
    scale = ue8m0_scales(torch.tensor(scale_byte, dtype=torch.int32))[0]
    return (decode_e2m1(codes) * scale).tolist()  # (float32, as the reference: 4 x 2^127 overflows)


# every code at every position of a word: nibble i of word c is (i + c) % 16
_WORDS = [sum(((i + c) % 16) << (4 * i) for i in range(8)) for c in range(16)]


def _assert_decodes(word: int, scale_byte: int) -> None:
    """The PTX decoder's 8 values of ``word`` under ``scale_byte`` are the reference's exactly (bf16, signed zeros,
    NaN as NaN)."""
    scale_bits = 0x40 if scale_byte == 0 else 0x7FC0 if scale_byte == 255 else scale_byte << 7  # (the kernel's)
    out = ptx_model.run(E2M1_WORD_ASM.value, {8: word, 9: scale_bits | scale_bits << 16}, 8)
    for got_bits, expected in zip(out, _expected_e2m1(word, scale_byte), strict=True):
        got = ptx_model.bf16_value(got_bits)
        if expected != expected:
            assert got != got, (hex(word), scale_byte)
        else:
            assert got == expected and (got_bits >> 15) == (torch.tensor(expected).signbit().item()), (
                hex(word), scale_byte, hex(got_bits), expected)


@pytest.mark.parametrize("scale_byte", [0, 1, 2, 100, 126, 127, 128, 129, 200, 253, 254, 255])
def test_e2m1_decoder_gives_every_code_times_its_scale(scale_byte) -> None:
    """Exact bf16 values in element order: signed zeros, the subnormal scale 2^-127 (byte 0), overflow to inf
    (6 x 2^127) and NaN (byte 255) included."""
    for word in _WORDS:
        _assert_decodes(word, scale_byte)


def test_every_scale_byte_through_the_decoder() -> None:
    for scale_byte in range(256):
        _assert_decodes(_WORDS[scale_byte % 16], scale_byte)


def test_the_model_can_fail() -> None:
    """A wrong table byte, a wrong sign selector or a missing scale must show."""
    wrong_table = E2M1_WORD_ASM.value.replace("0x3F3F3F00", "0x3F3F3F3F")
    wrong_sign = E2M1_WORD_ASM.value.replace("0xD9C8", "0xC8D9")
    word, scale = _WORDS[5], 127 << 7  # codes 5 to 12: both signs, and -0 (the table's entry 0)
    good = ptx_model.run(E2M1_WORD_ASM.value, {8: word, 9: scale | scale << 16}, 8)
    for asm in (wrong_table, wrong_sign):
        assert ptx_model.run(asm, {8: word, 9: scale | scale << 16}, 8) != good
    half = 126 << 7  # 2^-1
    assert ptx_model.run(E2M1_WORD_ASM.value, {8: word, 9: half | half << 16}, 8) != good
    with pytest.raises(ValueError, match="no model"):
        ptx_model.run("{\n cvt.rn.f16.f32 $0, $1;\n}", {1: 0}, 1)


def test_bf16_rounding_of_the_model() -> None:
    assert ptx_model.bf16_bits(1.0) == 0x3F80
    assert ptx_model.bf16_bits(-0.0) == 0x8000
    assert ptx_model.bf16_bits(2.0 ** -133) == 0x0001  # the smallest subnormal
    assert ptx_model.bf16_bits(1.5 * 2.0 ** -133) == 0x0002  # a tie, to even
    assert ptx_model.bf16_bits(1 + 2 ** -8) == 0x3F80  # a tie, to even
    assert ptx_model.bf16_bits(1 + 3 * 2 ** -8) == 0x3F82
    assert ptx_model.bf16_bits(6 * 2.0 ** 127) == 0x7F80
    assert ptx_model.bf16_bits(float("nan")) == 0x7FFF
