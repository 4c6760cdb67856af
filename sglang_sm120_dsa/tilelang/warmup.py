"""Compile every TileLang variant a process will use, before CUDA-graph capture (TileLang compiles on first use
otherwise). Binaries are cached on disk by TileLang, so only the first start on a machine pays the compile time."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import torch

from .._checks import SUPPORTED_HEADS
from . import config
from . import variants


def _compile(variant: variants.Variant, arch: int, sm120: bool) -> None:
    variants.jit(variant, arch, sm120)  # in a worker process: fills TileLang's disk cache


def warmup(device: torch.device | None = None, num_heads: int | None = None,
           progress: Callable[[str], None] | None = print, block_kv: int | None = None,
           workers: int | None = None) -> int:
    """Compile and load the variants ``device`` can use (only those for ``num_heads`` if given; every variant
    serves every page size, so ``block_kv`` selects nothing here). Returns how many;
    ``progress`` receives one line per variant with the elapsed time. Compilation (mostly TileLang's lowering, in
    Python) runs in ``workers`` processes (default: one per CPU core, at most 16) that fill TileLang's disk
    cache; this process then loads the binaries."""
    device = device or torch.device("cuda", torch.cuda.current_device())
    arch, sm120 = config.device_build(device)
    chosen = variants.kernel_variants(arch, (num_heads,) if num_heads else SUPPORTED_HEADS)
    start = time.perf_counter()
    workers = workers or min(16, os.cpu_count() or 1)
    if workers > 1 and len(chosen) > 1:
        variants.in_processes(_compile, chosen, arch, sm120, workers=workers, progress=progress)
    with torch.cuda.device(device):
        for i, variant in enumerate(chosen, 1):
            variants.jit(variant, arch, sm120)
            if progress:
                progress(f"[{i}/{len(chosen)}] {variant.describe()} ({time.perf_counter() - start:.1f} s)")
    return len(chosen)
