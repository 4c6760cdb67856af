#!/usr/bin/env python3
"""What the SM90 kernel's tf32 head sums (an ``sm90`` section's ``"sums": "tf32"``) cost in precision, emulated on
the CPU: against a float64 oracle, the FFMA form and the tf32 form's calc_diff and top-2048 overlap.

    python scripts/tf32_sums_precision.py [CASES]   # batch x context x next_n, default 32x8192x1,...,32x131072x2

The inputs are the GPU tests' (``make_paged_case``: H=64, D=128, 64-token pages, every request at ``context``
tokens). Per row, the scores are the float64 dots of the dequantized FP8 query and keys rounded to fp32 (the scores
wgmma's accumulator, to its own rounding); the FFMA form sums ``relu(score) * w`` in fp32; the tf32 form multiplies
``relu(score)`` truncated to tf32 (what the tensor cores read of an fp32 register) by the weights rounded to tf32
(``_weights_t``), exactly (10-bit mantissas), summed in float64 and rounded to fp32 (the tensor cores' accumulation
order is not modelled: it moves results by fp32 rounding, orders below the truncation). ``rna``: the scores rounded
to nearest instead (what a conversion per score would buy). The key scale multiplies each in fp32.
"""

from __future__ import annotations

import sys
import time

import torch

from sglang_sm120_dsa.testing import calc_diff
from sglang_sm120_dsa.testing import make_paged_case
from sglang_sm120_dsa.testing import topk_overlap

CASES = "32x8192x1,32x32768x1,32x131072x1,32x8192x2,32x32768x2,32x131072x2"
TOPK = 2048


def truncate_tf32(x: torch.Tensor) -> torch.Tensor:
    """fp32 -> the tf32 value tensor cores read from it: the low 13 mantissa bits dropped."""
    return (x.view(torch.int32) & -8192).view(torch.float32)


def round_tf32(x: torch.Tensor) -> torch.Tensor:
    """fp32 -> tf32, to nearest (ties away from zero), as the kernel rounds the weights."""
    return ((x.view(torch.int32) + 0x1000) & -8192).view(torch.float32)


def rows(case):
    """Per query row: (float64 scores ``[H, n]``, fp32 weights ``[H]``, fp32 key scales ``[n]``)."""
    batch, next_n, _, dim = case.q.shape
    num_blocks, block_kv = case.kv_cache.shape[:2]
    pages = case.kv_cache.reshape(num_blocks, -1)
    keys = pages[:, : block_kv * dim].contiguous().view(torch.float8_e4m3fn).double().reshape(num_blocks, -1, dim)
    scales = pages[:, block_kv * dim: block_kv * (dim + 4)].contiguous().view(torch.float32).reshape(num_blocks, -1)
    lengths = case.row_lengths().view(batch, next_n)
    q = case.q.double()
    for b in range(batch):
        ids = case.block_table[b, : -(-int(lengths[b].max()) // block_kv)].long()
        k, s = keys[ids].reshape(-1, dim), scales[ids].reshape(-1)
        for j in range(next_n):
            n = int(lengths[b, j])
            yield q[b, j] @ k[:n].T, case.weights[b * next_n + j], s[:n]


def forms(dots: torch.Tensor, w: torch.Tensor, s: torch.Tensor) -> dict[str, torch.Tensor]:
    """One row's logits: the oracle (float64) and the emulated forms (fp32)."""
    scores = dots.float().clamp_min(0)
    w_tf32 = round_tf32(w).double()[:, None]
    return {"oracle": s.double() * (w.double()[:, None] * dots.clamp_min(0)).sum(0),
            "ffma": s * (scores * w[:, None]).sum(0),
            "tf32": s * (truncate_tf32(scores).double() * w_tf32).sum(0).float(),
            "rna": s * (round_tf32(scores).double() * w_tf32).sum(0).float()}


def measure(batch: int, context: int, next_n: int) -> dict[str, tuple[float, float]]:
    """Per form: (calc_diff against the oracle, top-k overlap with the oracle's)."""
    case = make_paged_case(batch, next_n, 64, 128, 64, context_lens=[context] * batch, seed=context + next_n,
                           poison=False)
    logits: dict[str, list] = {}
    shared: dict[str, list[int]] = {}
    for dots, w, s in rows(case):
        row = forms(dots, w, s)
        for name, x in row.items():
            logits.setdefault(name, []).append(x.double())
            got = shared.setdefault(name, [0, 0])
            for i, v in enumerate(topk_overlap(x.double()[None], row["oracle"][None], min(TOPK, x.numel()))):
                got[i] += v
    oracle = torch.cat(logits.pop("oracle"))
    return {name: (calc_diff(torch.cat(x), oracle), shared[name][0] / shared[name][1]) for name, x in logits.items()}


def main() -> None:
    for spec in (sys.argv[1] if len(sys.argv) > 1 else CASES).split(","):
        batch, context, next_n = map(int, spec.split("x"))
        start = time.time()
        result = measure(batch, context, next_n)
        print(f"{batch} x {context}, next_n {next_n}: " + " | ".join(
            f"{name} calc_diff {d:.2e}, top-{TOPK} overlap {o:.5f}" for name, (d, o) in result.items())
            + f" ({time.time() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
