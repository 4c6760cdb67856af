"""Compile every Triton variant a process will use, before CUDA-graph capture: each variant of
:func:`variants.kernel_variants` runs once on tiny inputs (Triton compiles and loads it on first launch)."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from .. import _checks
from .. import envs
from ..layout import new_logits
from ..testing.cases import make_paged_case
from ..testing.cases import make_ragged_case
from . import launch
from .config import PAGED_TILE_DEFAULT
from .config import arch_of
from .config import fp8_mode
from .config import rows_per_group
from .kernels.decode import MODE_FP4
from .variants import Variant
from .variants import kernel_variants
from .variants import operand_mode


def _run(variant: Variant, device: torch.device) -> None:
    mode = operand_mode(variant)
    fp4 = mode == MODE_FP4.value
    if variant.kernel == "metadata":  # B_CHUNK requests with NEXT_N_P2 lengths each select that variant
        lens = torch.full((variant.get("B_CHUNK"), variant.get("NEXT_N_P2")), 70, dtype=torch.int32, device=device)
        launch.get_paged_mqa_logits_metadata(_checks.check_metadata(lens, 64, 2, None))
    elif variant.kernel in ("paged", "paged_sm90", "clean"):
        heads = variant.get("H") or 64
        if variant.kernel == "paged_sm90":  # next_n R on 64-token pages, in the variant's logits dtype
            next_n, block_kv = variant.get("R"), 64
            sm90 = {"ahead": variant.get("AHEAD"), "maxnreg": variant.maxnreg, "programs_per_sm": 1}
            tiles = {**PAGED_TILE_DEFAULT, "sm90": sm90}
        else:
            # the row class of the variant: rows_per_group(H, 1) or rows_per_group(H, next_n >= 2)
            next_n = 1 if variant.get("ROWS") in (None, rows_per_group(heads, 1)) else 2
            # pages that give the variant's ONE_PAGE (the clean kernel serves any)
            block_t = variant.get("BLOCK_T") or 64
            block_kv = block_t if variant.get("ONE_PAGE") in (None, True) else block_t // 2
            tiles = ({"block_t": variant.get("BLOCK_T"), "num_warps": variant.num_warps,
                      "num_stages": variant.get("NUM_STAGES"), "maxnreg": variant.maxnreg, "programs_per_sm": 1,
                      "one_page": variant.get("ONE_PAGE")}
                     if variant.kernel == "paged" else None)
        dtype = torch.bfloat16 if variant.get("OUT_BF16") else torch.float32
        case = make_paged_case(1, next_n, heads, variant.get("D") or 128, block_kv, context_lens=[70], fp4=fp4,
                               device=device)
        meta = launch.get_paged_mqa_logits_metadata(_checks.check_metadata(case.context_lens, block_kv, 2, None))
        call = _checks.check_paged("warmup", case.q, case.kv_cache, case.weights, case.context_lens, case.block_table,
                                   meta, 70, variant.kernel == "clean", dtype, None, True)
        out = new_logits(call.rows, 70, 256, dtype, device)
        launch.paged_mqa_logits(call, out, tiles, mode if variant.kernel != "clean" else None)
    else:
        case = make_ragged_case(2, 16, variant.get("H"), variant.get("D"), fp4=fp4, device=device)
        call = _checks.check_ragged("warmup", case.q, case.kv, case.weights, case.ks, case.ke, False, 0,
                                    torch.float32, None, True)
        out = new_logits(2, 16, 512, torch.float32, device)
        tiles = {"block_kv": variant.get("BLOCK_KV"), "chunk": variant.get("CHUNK"), "num_warps": variant.num_warps,
                 "num_stages": variant.get("NUM_STAGES"), "maxnreg": variant.maxnreg}
        launch.mqa_logits(call, out, tiles, mode)


def warmup(device: torch.device | None = None, num_heads: int | None = None,
           progress: Callable[[str], None] | None = print, block_kv: int | None = None) -> int:
    """Compile the variants ``device`` can use (only those for ``num_heads`` heads and pages of ``block_kv``
    tokens if given): the arch's operand modes as ``auto`` picks them plus MXFP4. Returns how many ran;
    ``progress`` receives one line per variant."""
    device = device or torch.device("cuda", torch.cuda.current_device())
    arch = arch_of(device)
    modes = {fp8_mode(device), MODE_FP4.value}
    sm90 = envs.TRITON_SM90.choice() != "off"  # (else the tl kernel runs those calls)
    chosen = [v for v in kernel_variants(arch, (block_kv,) if block_kv else _checks.SUPPORTED_BLOCK_KV)
              if operand_mode(v) in (None, *modes) and (num_heads is None or v.get("H") in (None, num_heads))
              and (v.kernel != "paged_sm90" or sm90)]
    start = time.perf_counter()
    for i, variant in enumerate(chosen, 1):
        _run(variant, device)
        if progress:
            progress(f"[{i}/{len(chosen)}] {variant.describe()} ({time.perf_counter() - start:.1f} s)")
    return len(chosen)
