#!/usr/bin/env python3
"""Tune the Triton family on this GPU and write its tables (configs/<op>/triton/sm_<arch>.json) under --out.

Paged logits: (1) tiles (block_t, num_warps, num_stages, maxnreg) per operand mode and rows class on B=64 x 64K;
(2) per batch-size bucket, the family settings (split_kv, programs_per_sm: chosen from the batch size alone,
because the metadata call sees nothing else) on that bucket's cases, scored by the geometric mean of the times.
Ragged logits: tiles per mode on S=4096 x SKV=32768.
H=64, D=128 (the DeepSeek-V3.2 indexer); other head counts use the table's default.
Prints every measurement; times are medians with a cold L2. Needs a CUDA GPU.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import itertools
import math
import os
import pathlib
import sys

import torch

from sglang_sm120_dsa import _checks
from sglang_sm120_dsa import configs as tables
from sglang_sm120_dsa.layout import new_logits
from sglang_sm120_dsa.layout import paged_logits_row_stride
from sglang_sm120_dsa.layout import ragged_logits_row_stride
from sglang_sm120_dsa.testing import make_paged_case
from sglang_sm120_dsa.testing import make_ragged_case
from sglang_sm120_dsa.testing.bench import bench
from sglang_sm120_dsa.triton import launch
from sglang_sm120_dsa.triton.config import MODE_NAMES
from sglang_sm120_dsa.triton.kernels.decode import MODE_FP4
from sglang_sm120_dsa.triton.variants import modes_for

# maxnreg caps registers so that more programs fit on an SM (the paged kernel is latency-bound: ncu on an H200
# showed 201 registers per thread, 12% occupancy, no eligible warp 66% of the cycles).
TILES = [dict(block_t=b, num_warps=4, num_stages=s, maxnreg=r)
         for b, s, r in itertools.product((64, 128), (2, 3), (None, 128, 96))]
TILES += [dict(block_t=128, num_warps=8, num_stages=s, maxnreg=r)
          for s, r in itertools.product((2, 3), (None, 128, 96))]
FAMILIES = [dict(split_kv=k, programs_per_sm=p) for k, p in itertools.product((256, 512, 1024, 2048), (2, 3, 4, 5))]
# batch-size bucket (upper bound) -> (batch, context, next_n) cases it is tuned on
BUCKETS = {8: [(1, 8192, 1), (1, 65536, 1), (8, 32768, 1), (1, 65536, 2), (8, 32768, 2)],
           32: [(32, 8192, 1), (32, 32768, 1), (32, 8192, 2), (32, 32768, 2)],
           128: [(64, 65536, 1), (64, 65536, 2), (128, 16384, 1), (128, 16384, 2)],
           "inf": [(256, 8192, 1), (256, 8192, 2), (512, 4096, 1)]}
RAGGED_TILES = [dict(block_kv=b, num_warps=w, num_stages=s, chunk=4096, maxnreg=r)
                for b, w, s, r in itertools.product((64, 128), (4, 8), (2, 3), (None, 128))]


class Paged:
    """A paged case prepared once; times any (family, tiles, mode)."""

    def __init__(self, batch, context, next_n, fp4=False):
        self.case = make_paged_case(batch, next_n, 64, 128, 64, avg_context=context, fp4=fp4, seed=batch + context,
                                    poison=False, device="cuda")
        self.label = f"B={batch} ctx={context} next_n={next_n}{' fp4' if fp4 else ''}"

    def time(self, family: dict, tiles: dict, mode: int) -> float:
        launch.paged_family = lambda arch, batch, f=family: dict(f)  # what the launcher and the metadata read
        c = self.case
        meta = launch.get_paged_mqa_logits_metadata(_checks.check_metadata(c.context_lens, 64, 132, None))
        call = _checks.check_paged("tune", c.q, c.kv_cache, c.weights, c.context_lens, c.block_table, meta,
                                   c.max_context_len, False, torch.float32, None, True)
        out = new_logits(call.rows, call.width, paged_logits_row_stride(call.width, torch.float32), torch.float32,
                         c.q_bf16.device)
        return bench(lambda: launch.paged_mqa_logits(call, out, tiles, mode), reps=20, max_seconds=1.0)


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


def _sweep(case: Paged, candidates, mode: int, name: str):
    results = []
    for family, tiles in candidates:
        try:
            t = case.time(family, tiles, mode)
        except Exception as e:  # e.g. out of shared memory: report, skip
            print(f"  paged {name} {case.label} {family} {tiles}: {type(e).__name__}: {str(e)[:100]}")
            continue
        results.append((t, family, tiles))
        print(f"  paged {name:6s} {case.label:28s} {family} {tiles} {t * 1e6:8.1f} us", flush=True)
    return sorted(results, key=lambda r: r[0])


def tune_paged(arch: int) -> dict:
    family0 = dict(split_kv=1024, programs_per_sm=4)
    big = {1: Paged(64, 65536, 1), 2: Paged(64, 65536, 2)}
    big_fp4 = {1: Paged(64, 65536, 1, fp4=True), 2: Paged(64, 65536, 2, fp4=True)}
    best_tiles = {}
    for mode in modes_for(arch):
        name = MODE_NAMES[mode]
        for rows, case in (big_fp4 if mode == MODE_FP4.value else big).items():
            results = _sweep(case, [(family0, t) for t in TILES], mode, name)
            best_tiles[(name, rows)] = results[0][2]
            print(f"best paged {name} next_n={rows}: {best_tiles[(name, rows)]}")
    mode0 = modes_for(arch)[0]  # the FP8 mode auto picks on this arch
    name0 = MODE_NAMES[mode0]
    families = {}
    for bound, cases in BUCKETS.items():
        prepared = [Paged(*c) for c in cases]
        scored = []
        for family in FAMILIES:
            times = [case.time(family, best_tiles[(name0, 1 if case.case.next_n == 1 else 2)], mode0)
                     for case in prepared]
            scored.append((geomean(times), family))
            cells = " ".join(f"{t * 1e6:7.1f}" for t in times)
            print(f"  family B<={bound} {family} {cells}  geomean {scored[-1][0] * 1e6:.1f}", flush=True)
        families[str(bound)] = min(scored, key=lambda r: r[0])[1]
        print(f"best family B<={bound}: {families[str(bound)]}")
        del prepared
    table = {"family": families}
    for name in ("native", "bytes", "fp4"):
        if (name, 1) in best_tiles:
            table[name] = {"default": {"inf": best_tiles[(name, 2)]}, "H=64,next_n=1": {"inf": best_tiles[(name, 1)]}}
    return table


def tune_ragged(arch: int) -> dict:
    table = {}
    for mode in modes_for(arch):
        name = MODE_NAMES[mode]
        case = make_ragged_case(4096, 32768, 64, 128, fp4=mode == MODE_FP4.value, seed=1, device="cuda")
        call = _checks.check_ragged("tune", case.q, case.kv, case.weights, case.ks, case.ke, False, 0, torch.float32,
                                    None, True)
        out = new_logits(call.seq_len, call.width, ragged_logits_row_stride(call.seq_len_kv, 0, torch.float32),
                         torch.float32, case.q_bf16.device)
        results = []
        candidates = list(RAGGED_TILES)
        for stage in (1, 2):
            for tiles in candidates:
                try:
                    run = lambda c=call, o=out, t=tiles, m=mode: launch.mqa_logits(c, o, t, m)  # noqa: E731
                    t = bench(run, reps=10, max_seconds=1.0)
                except Exception as e:
                    print(f"  ragged {name} {tiles}: {type(e).__name__}: {str(e)[:100]}")
                    continue
                results.append((t, tiles))
                print(f"  ragged {name:6s} {tiles} {t * 1e6:9.1f} us", flush=True)
            best = min(results, key=lambda r: r[0])[1]
            candidates = [{**best, "chunk": c} for c in (2048, 8192, 16384)] if stage == 1 else []
        print(f"best ragged {name}: {best}")
        table[name] = {"default": {"inf": best}}
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path(os.environ.get("OUT", "out")))
    parser.add_argument("--ops", default="paged,ragged")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("tune_triton: needs a CUDA GPU", file=sys.stderr)
        return 2
    major, minor = torch.cuda.get_device_capability()
    arch = major * 10 + minor
    meta = {"generated_by": "scripts/tune_triton.py", "gpu": torch.cuda.get_device_name(), "tuned": True,
            "triton": importlib.metadata.version("triton"), "torch": torch.__version__,
            "date": datetime.date.today().isoformat(), "cases": "H=64, D=128, block_kv=64"}
    for op, fn, key in (("paged", tune_paged, "paged_mqa_logits"), ("ragged", tune_ragged, "mqa_logits")):
        if op not in args.ops.split(","):
            continue
        print(f"wrote {tables.save(args.out, key, 'triton', arch, {'_meta': meta, **fn(arch)})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
