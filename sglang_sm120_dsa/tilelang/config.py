"""Targets, compiler settings and launch sizes of the TileLang family.

One instruction path, SM120's: ``mma.sync`` tensor-core instructions (FP8 m16n8k32; MXFP4 decoded to bf16,
m16n8k16), ``cp.async`` copies, no wgmma, no TMA, no warp specialization. SM120/121 compile it for
``sm_120a``/``sm_121a``. On Hopper, ``SGLANG_SM120_DSA_TILELANG_MODE=sm120`` compiles the same kernels for
``sm_90a`` with TileLang's wgmma switched off, so SM120's path runs and is measured there; ``auto`` lets TileLang
use wgmma on Hopper. Launch sizes come from ``configs/<op>/tilelang/sm_<arch>.json`` (see configs/README.md).
"""

from __future__ import annotations

import functools
import importlib.metadata

import torch

from .. import configs as tables
from .. import dispatch
from .. import envs
from .._checks import MAX_NEXT_N

TILELANG_VERSION = "0.1.15"  # the version these kernels are written and tested against (the `tilelang` extra)
SUPPORTED_ARCHS = (89, 90, 120, 121)  # FP8 mma.sync exists from SM89 on; SM100's MMA path is not this family's
# SM120's settings, used for every target so that sm_90a in SM120 mode compiles exactly SM120's program. Without
# the bounds guards (every index is clamped in the kernels) TileLang can vectorize the page gathers; explicit
# unrolling resolves the wait counts of the pipeline's epilogue, which TileLang 0.1.15 leaves symbolic otherwise.
PASS_CONFIGS = {"tl.disable_tma_lower": True, "tl.disable_warp_specialized": True,
                "tl.disable_safe_memory_legalize": True, "tl.UnrollLoop": {"explicit_unroll": True}}

MAX_ROWS = MAX_NEXT_N  # rows of one request in a paged block
# Launch sizes when the arch has no table: fit 99 KB of shared memory (SM120) with room to spare. 128-token tiles on
# 4 warps give each warp 32 key rows against all query columns: where FP8 mma.sync is emulated (Hopper in SM120
# mode: every MMA converts both operands to fp16) that is 1.6-1.8x fewer conversions per MMA than 64-token tiles,
# without register spills; on SM120 it halves the barriers per token.
PAGED_DEFAULT = {"split_kv": 512, "block_t": 128, "threads": 128, "stages": 2}
RAGGED_DEFAULT = {"block_kv": 128, "chunk": 2048, "threads": 128, "stages": 2}
METADATA_THREADS = 256


def arch_of(device: torch.device) -> int:
    major, minor = dispatch.capability(device)  # through the module: tests simulate other GPUs there
    return major * 10 + minor


def mode() -> str:
    return envs.TILELANG_MODE.choice()


def unsupported(arch: int) -> str | None:
    """Why this family cannot run on ``arch`` (``major * 10 + minor``), or None."""
    if arch not in SUPPORTED_ARCHS:
        return (f"TileLang kernels are built for sm_89, sm_90 (SM120 mode) and sm_120/121, not sm_{arch}")
    installed = importlib.metadata.version("tilelang")
    if installed.split("+")[0] != TILELANG_VERSION:  # SGLang 0.5.23 pins 0.1.12, whose lowering differs
        return (f"tilelang {installed} is installed; these kernels need {TILELANG_VERSION} "
                "(pip install 'sglang-sm120-dsa[tilelang]')")
    return None


def target(arch: int) -> dict:
    """The TileLang target for ``arch``: the ``a`` variant from SM90 on (arch-specific features)."""
    suffix = "a" if arch >= 90 else ""
    return {"kind": "cuda", "arch": f"sm_{arch}{suffix}"}


def pass_configs(arch: int, sm120_mode: bool) -> dict:
    configs = dict(PASS_CONFIGS)
    if arch == 90 and sm120_mode:
        configs["tl.disable_wgmma"] = True
    return configs


def device_build(device: torch.device) -> tuple[int, bool]:
    """(arch, SM120 mode) of the kernels for ``device``: what a variant is compiled for."""
    arch = arch_of(device)
    return arch, arch >= 120 or mode() == "sm120"


@functools.cache
def table(op: str, arch: int) -> dict:
    return tables.load(op, "tilelang", arch, "no TileLang launch table {path}; using defaults")


def paged_sizes(arch: int, batch: int) -> dict:
    """Split and tile sizes by batch size, the one size the metadata call also sees (it encodes the split)."""
    return tables.pick(table("paged_mqa_logits", arch).get("batch"), batch, PAGED_DEFAULT)


def ragged_sizes(arch: int, tokens: float) -> dict:
    return tables.pick(table("mqa_logits", arch).get("tokens"), tokens, RAGGED_DEFAULT)


def ragged_bounds(arch: int) -> tuple[float, ...]:
    """The bucket bounds :func:`ragged_sizes` chooses among, ascending (none: the defaults)."""
    return tables.bucket_bounds(table("mqa_logits", arch).get("tokens"))


def rows_per_block(heads: int, next_n: int) -> int:
    """Rows of a request per paged block: 1 for next_n == 1, else as many as fill 128 MMA columns (at most 8);
    at least 16 columns (the MMA's N granularity with 4 warps). Two classes per head count."""
    rows = 1 if next_n == 1 else max(1, min(MAX_ROWS, 128 // heads))
    while rows * heads < 16:
        rows *= 2
    return rows


def ragged_block_q(heads: int) -> int:
    """Query rows per ragged block: as many as fill 128 MMA columns."""
    return max(1, 128 // heads)
