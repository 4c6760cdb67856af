"""A bit-exact Python model of the few PTX instructions the Triton family's inline decoders use, so that CPU tests
can run a decoder's PTX text (no GPU here to run it): ``mov``, ``shl``, ``shr``, ``and``, ``or`` on b32 words,
``prmt.b32`` (default mode, with its sign-replicating selector bit) and ``fma.rn.bf16x2``. Semantics from the PTX
ISA; anything else raises, so a decoder that grows an instruction needs the model to grow first."""

from __future__ import annotations

import math
import re
import struct

_MASK = 0xFFFFFFFF


def bf16_value(bits: int) -> float:
    """The value of bf16 bits (float32 with the low 16 bits zero)."""
    return struct.unpack("<f", struct.pack("<I", (bits & 0xFFFF) << 16))[0]


def bf16_bits(x: float) -> int:
    """``x`` rounded to bf16 (to nearest even, subnormals kept, overflow to inf): its bits. NaN -> 0x7FFF."""
    if math.isnan(x):
        return 0x7FFF
    sign = 0x8000 if math.copysign(1.0, x) < 0 else 0
    a = abs(x)
    if a == 0.0:
        return sign
    if math.isinf(a):
        return sign | 0x7F80
    exponent = max(math.frexp(a)[1] - 1, -126)  # a = 1.f * 2^exponent (normal); subnormals share 2^-126's quantum
    quantum = 2.0 ** (exponent - 7)
    n = round(a / quantum)  # exact division (a power of two), then round half to even
    value = n * quantum
    if value >= 2.0 ** 128:
        return sign | 0x7F80
    return sign | (struct.unpack("<I", struct.pack("<f", value))[0] >> 16)


def _prmt(a: int, b: int, c: int) -> int:
    pool = (b << 32) | a
    out = 0
    for k in range(4):
        sel = (c >> (4 * k)) & 0xF
        byte = (pool >> (8 * (sel & 7))) & 0xFF
        if sel & 8:
            byte = 0xFF if byte & 0x80 else 0
        out |= byte << (8 * k)
    return out


def _fma_bf16x2(a: int, b: int, c: int) -> int:
    out = 0
    for half in (0, 16):
        x, y, z = ((v >> half) & 0xFFFF for v in (a, b, c))
        out |= bf16_bits(bf16_value(x) * bf16_value(y) + bf16_value(z)) << half  # (exact in float64)
    return out


_OPS = {
    "shl.b32": lambda a, b: (a << b) & _MASK if b < 32 else 0,
    "shr.u32": lambda a, b: a >> b if b < 32 else 0,
    "and.b32": lambda a, b: a & b,
    "or.b32": lambda a, b: a | b,
    "prmt.b32": _prmt,
    "fma.rn.bf16x2": _fma_bf16x2,
}
_LINE = re.compile(r"^\s*([\w.]+)\s+(.*?);\s*$")


def run(asm: str, inputs: dict[int, int], outputs: int) -> list[int]:
    """Run inline-asm ``asm`` (Triton's ``$n`` operands) with b32 ``inputs`` (``{n: word}``); returns the ``outputs``
    operands ``$0 .. $(outputs - 1)`` as written (16-bit ones by ``mov.b32 {$i, $j}, r``)."""
    regs: dict[str, int] = {f"${n}": v & _MASK for n, v in inputs.items()}

    def value(token: str) -> int:
        token = token.strip()
        if token in regs:
            return regs[token]
        if re.fullmatch(r"0[xX][0-9a-fA-F]+|\d+", token):
            return int(token, 0) & _MASK
        raise KeyError(f"ptx_model: {token!r} read before it is written")

    for line in asm.splitlines():
        line = line.strip()
        if line in ("{", "}", "") or line.startswith(".reg"):
            continue
        m = _LINE.match(line)
        if not m:
            raise ValueError(f"ptx_model: cannot parse {line!r}")
        op, operands = m.group(1), m.group(2)
        if op == "mov.b32":
            dest, src = (s.strip() for s in operands.rsplit(",", 1))  # (the destination may be a pair "{$0, $1}")
            word = value(src)
            if dest.startswith("{"):
                lo, hi = (s.strip() for s in dest.strip("{}").split(","))
                regs[lo], regs[hi] = word & 0xFFFF, word >> 16
            else:
                regs[dest] = word
            continue
        if op not in _OPS:
            raise ValueError(f"ptx_model: no model of {op!r}")
        dest, *args = (s.strip() for s in operands.split(","))
        regs[dest] = _OPS[op](*(value(a) for a in args))
    return [regs[f"${n}"] for n in range(outputs)]
