#!/usr/bin/env python3
"""Record DeepGEMM's SM90 paged-metadata outputs as golden vectors for the CPU tests.

Run on an H100/H200 with sgl-deep-gemm importable; writes JSON (inputs and outputs) that
tests/cpu/test_metadata.py replays against our scheduler. Cases with every context length 0 and a batch that is
a multiple of 32 are left out: DeepGEMM SM90 reads out of bounds there (deepgemm-indexer.md §4.2).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import itertools
import json
import pathlib

import torch

from sglang_sm120_dsa.deepgemm import as_torch


def lens_for(batch: int, next_n: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    lens = torch.randint(0, 9000, (batch,), generator=gen, dtype=torch.int32)
    lens[torch.rand(batch, generator=gen) < 0.25] = 0
    if seed % 5 == 0:
        lens[: batch // 2] = torch.randint(0, 300, (batch // 2,), generator=gen, dtype=torch.int32)  # short mix
    if batch % 32 == 0 and not lens.any():
        lens[0] = 1
    cols = (lens[:, None].float() * torch.rand(batch, next_n, generator=gen)).int()
    cols[:, -1] = lens
    return cols


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, required=True)
    args = parser.parse_args()
    import deep_gemm

    cases = []
    for i, (batch, next_n, num_sms) in enumerate(itertools.product([1, 2, 3, 17, 31, 32, 64, 97], [1, 2],
                                                                  [132, 100, 16, 1])):
        lens = lens_for(batch, next_n, i)
        meta = deep_gemm.get_paged_mqa_logits_metadata(lens.cuda(), 64, num_sms)
        meta = as_torch(meta)
        cases.append({"name": f"B={batch} next_n={next_n} num_sms={num_sms}", "shape": list(lens.shape),
                      "context_lens": lens.flatten().tolist(), "block_kv": 64, "num_sms": num_sms,
                      "metadata": meta.cpu().tolist()})
    meta = {"generated_by": "scripts/capture_deepgemm_golden.py", "gpu": torch.cuda.get_device_name(),
            "deep_gemm": importlib.metadata.version("sgl-deep-gemm"), "torch": torch.__version__,
            "date": datetime.date.today().isoformat()}
    args.out.write_text(json.dumps({"_meta": meta, "cases": cases}, separators=(",", ":")) + "\n")
    print(f"wrote {len(cases)} cases to {args.out}")


if __name__ == "__main__":
    main()
