"""The ``tilelang`` implementation family: TileLang kernels on SM120's instruction set (``mma.sync``,
``cp.async``), the default on SM120/121 (RTX PRO 6000, RTX 5090, DGX Spark).

On Hopper, ``SGLANG_SM120_DSA_TILELANG_MODE=sm120`` compiles the same kernels for ``sm_90a`` without wgmma, so
SM120's instruction path is tested and measured there. MXFP4 is decoded to bf16 (exact; the keys straight into
the MMA's register fragment) and multiplied on bf16 ``mma.sync``. See ``config.py`` for targets and compiler settings.
"""

from __future__ import annotations

import torch

from .. import _checks
from ..dispatch import family_ops
from ..reference.metadata import schedule_paged_tasks
from . import config
from .launch import get_paged_mqa_logits_metadata
from .launch import mqa_logits
from .launch import paged_mqa_logits
from .warmup import warmup

__all__ = ["OPS", "warmup", "self_check"]

OPS = family_ops(get_paged_mqa_logits_metadata, paged_mqa_logits, mqa_logits)


def self_check(device: torch.device) -> str | None:
    """Compile and run the smallest kernel on ``device`` and compare it with the reference: None when the toolchain
    (TileLang, nvcc, the driver) works, else why not. Dispatch runs it once per device before choosing tilelang."""
    try:
        lens = torch.tensor([[0, 5], [1000, 1001], [64, 3]], dtype=torch.int32, device=device)
        call = _checks.check_metadata(lens, 64, 7, None)
        ours = get_paged_mqa_logits_metadata(call)
        split = config.paged_sizes(config.arch_of(device), call.batch)["split_kv"]
        if not torch.equal(ours, schedule_paged_tasks(call, split, config.MAX_ROWS)):
            return "the self-check's schedule differs from the reference"
    except Exception as e:  # a missing nvcc, a TileLang that cannot lower for this arch, a driver error
        return f"the self-check failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return None
