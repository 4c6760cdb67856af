"""Every environment variable the package reads, in one table.

Read through these accessors only, so that the README table and the code cannot drift apart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from dataclasses import field

# os.environ.get of an unset variable costs ~0.8 us (os._Environ raises and catches KeyError twice), and the launchers
# read their settings on every call; its backing dict, which every os.environ write updates, answers in ~0.1 us.
# (Where os.environ is not CPython's os._Environ, the public API.)
_DATA = getattr(os.environ, "_data", None)
_ENCODE = getattr(os.environ, "encodekey", None)
_DECODE = getattr(os.environ, "decodevalue", None)
_FAST = isinstance(_DATA, dict) and callable(_ENCODE) and callable(_DECODE)

__all__ = ["EnvVar", "ENV_VARS", "IMPL", "TRITON_FP8", "TRITON_SM90", "TRITON_ARCH", "TRITON_LAUNCH", "TILELANG_MODE",
           "SGLANG"]


@dataclass(frozen=True)
class EnvVar:
    name: str
    default: str
    choices: tuple[str, ...]
    doc: str
    _key: object = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_key", _ENCODE(self.name) if _FAST else None)

    def raw(self) -> str | None:
        """The value as set, None when unset: ``os.environ.get(name)``, faster."""
        if not _FAST:
            return os.environ.get(self.name)
        value = _DATA.get(self._key)
        return None if value is None else _DECODE(value)

    def get(self) -> str:
        """The raw value, stripped and lower-cased; the default when unset or empty. Not validated here:
        the consumer validates, so that its error can say what is available."""
        value = (self.raw() or "").strip().lower()
        return value or self.default

    def choice(self) -> str:
        """The value, which must be one of ``choices`` (ImplementationError naming them otherwise): for variables
        whose consumer has nothing to add to that message."""
        value = self.get()
        if value not in self.choices:
            from .errors import ImplementationError

            raise ImplementationError(f"{self.name}={value!r} is not valid: choose one of {', '.join(self.choices)}")
        return value


IMPL = EnvVar(
    "SGLANG_SM120_DSA_IMPL",
    "auto",
    ("auto", "torch", "triton", "tilelang", "deepgemm"),
    "Force one implementation family for every op; `auto` picks per device (see `python -m sglang_sm120_dsa`).",
)

TRITON_FP8 = EnvVar(
    "SGLANG_SM120_DSA_TRITON_FP8",
    "auto",
    ("auto", "native", "bytes"),
    "FP8 operands of the Triton kernels: `native` e4m3 tensor-core operands (SM89 and newer), `bytes` e4m3 decoded "
    "to fp16 in registers (SM80/86's path; forced on a newer GPU it runs with that GPU's fp16 MMA, on SM90 in the "
    "Gluon wgmma kernel where the table enables it; `SGLANG_SM120_DSA_TRITON_ARCH=sm80` runs SM80's whole program), "
    "`auto` by arch.",
)

TRITON_SM90 = EnvVar(
    "SGLANG_SM120_DSA_TRITON_SM90",
    "auto",
    ("auto", "off"),
    "Paged FP8 logits on SM90: `auto` runs the Gluon wgmma kernel where the tuning table enables it (native FP8, "
    "and the byte path when forced; next_n <= 2, pages of 64 or 128 tokens, head_dim 128, no `indices`); `off` runs "
    "the portable Triton kernel there too (the kernel SM89/SM100/SM120 run, lowered for Hopper; "
    "`SGLANG_SM120_DSA_TRITON_ARCH` runs their whole program).",
)

TRITON_ARCH = EnvVar(
    "SGLANG_SM120_DSA_TRITON_ARCH",
    "auto",
    ("auto", "sm80", "sm86", "sm89", "sm120", "sm121"),
    "Run another GPU's Triton program on this one (testing, measuring): the Triton kernels take that arch's tuning "
    "tables, operand mode and code choices, Triton lowers them for it down to LLVM IR, and only the last step "
    "assembles them for the GPU at hand. On Hopper `sm80`/`sm86` give SM80's byte path with `mma.sync` (HMMA), "
    "`sm89`/`sm120` SM89/SM120's FP8 `mma.sync`, which Hopper emulates (FP8 to fp16 plus HMMA), so its timings "
    "are not theirs. Needs a GPU with at least that arch's shared memory (and FP8, for sm89 and newer); `auto` is "
    "the GPU's own.",
)

TRITON_LAUNCH = EnvVar(
    "SGLANG_SM120_DSA_TRITON_LAUNCH",
    "auto",
    ("auto", "jit", "direct"),
    "How the Triton kernels are launched, read when a kernel variant is first used in the process: `direct` calls "
    "the compiled kernel (after Triton's JIT compiled and launched it once for the arguments' class), ~30 us less "
    "host time per call than `jit`, Triton's own `kernel[grid](...)`; `auto` is `direct` with the Triton versions the "
    "GPU tests ran it with (3.6, 3.9) and `jit` with others (3.7, 3.8). `direct` forces it with any Triton from 3.6 "
    "on.",
)

TILELANG_MODE = EnvVar(
    "SGLANG_SM120_DSA_TILELANG_MODE",
    "auto",
    ("auto", "sm120"),
    "Instruction set of the TileLang kernels: `sm120` compiles SM120's path (`mma.sync`, `cp.async`; no wgmma, TMA "
    "or warp specialization) on any GPU from SM89 on, so it runs and is measured on Hopper; `auto` compiles for the "
    "device as TileLang sees fit (on SM120/121 both are the same).",
)

SGLANG = EnvVar(
    "SGLANG_SM120_DSA_SGLANG",
    "off",
    ("off", "on"),
    "Set to `on` by the SGLang plugin while it resolves `--attention-backend dsa_fallback`; the scheduler processes "
    "SGLang spawns inherit it and route SGLang's indexer calls to this package. Set it yourself only to route a "
    "process whose arguments were resolved without the plugin.",
)

ENV_VARS: tuple[EnvVar, ...] = (IMPL, TRITON_FP8, TRITON_SM90, TRITON_ARCH, TRITON_LAUNCH, TILELANG_MODE, SGLANG)
