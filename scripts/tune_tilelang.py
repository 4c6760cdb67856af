#!/usr/bin/env python3
"""Tune the TileLang paged kernel's split size (``split_kv``, a runtime value: no recompilation) per batch size.

For each batch bucket, times the paged FP8 logits (H=64, D=128, 64-token pages, next_n 1 and 2) at every candidate
split with the compiled tile sizes, as CUDA-graph replays with a cold L2 (testing/bench.py), checks that every split
gives the same logits, and writes ``paged_mqa_logits__tilelang__sm_<arch>.json`` under ``--out`` (ship it as
``configs/paged_mqa_logits/tilelang/sm_<arch>.json``). The split with the lowest time summed over next_n wins.
Prints one line per case. Needs a CUDA GPU; on Hopper run it in SM120 mode
(``SGLANG_SM120_DSA_TILELANG_MODE=sm120``, the default here), which is what the sm_90 table serves.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import importlib.metadata
import os
import pathlib
import sys

os.environ.setdefault("SGLANG_SM120_DSA_TILELANG_MODE", "sm120")
os.environ["SGLANG_SM120_DSA_IMPL"] = "tilelang"

import torch  # noqa: E402

import sglang_sm120_dsa as dsa  # noqa: E402
from sglang_sm120_dsa import configs as tables  # noqa: E402
from sglang_sm120_dsa.testing import benchmark_paged_case  # noqa: E402
from sglang_sm120_dsa.testing.bench import timed  # noqa: E402
from sglang_sm120_dsa.tilelang import config  # noqa: E402
from sglang_sm120_dsa.tilelang import launch  # noqa: E402

# (batch, average context): the batch is the table's key; contexts as in the benchmark
CASES = [(1, 65536), (4, 32768), (8, 32768), (16, 16384), (32, 32768), (64, 65536), (128, 16384), (256, 8192)]
SPLITS = [256, 512, 1024, 2048]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path(os.environ.get("OUT", "out")))
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("tune_tilelang: needs a CUDA GPU", file=sys.stderr)
        return 2
    arch, _ = config.device_build(torch.device("cuda"))
    config.table = lambda op, arch: {}  # ignore a shipped table: every split starts from the defaults
    launch.forget_plans()
    base = dict(config.PAGED_DEFAULT)
    tuned = {"_meta": {"generated_by": "scripts/tune_tilelang.py", "gpu": torch.cuda.get_device_name(), "tuned": True,
                       "mode": config.mode(), "tilelang": importlib.metadata.version("tilelang"),
                       "torch": torch.__version__, "date": str(datetime.date.today()),
                       "cases": "H=64, D=128, block_kv=64, next_n 1+2, graph replays, cold L2",
                       "block_t": base["block_t"]}, "batch": {}}
    print(f"{'B x ctx':14s}" + "".join(f"  split {s:5d} us" for s in SPLITS))
    for batch, ctx in CASES:
        totals = dict.fromkeys(SPLITS, 0.0)
        for next_n in (1, 2):
            case = benchmark_paged_case(batch, ctx, next_n)
            meta = dsa.get_paged_mqa_logits_metadata(case.context_lens, 64, dsa.get_num_sms())
            invalid, first, row = case.invalid_mask(), None, f"{batch:4d} x {ctx:6d} n{next_n}"
            for split in SPLITS:
                config.PAGED_DEFAULT = {**base, "split_kv": split}
                launch.forget_plans()  # (the launcher's plans hold the sizes they were made with)
                fn = functools.partial(dsa.fp8_paged_mqa_logits, case.q, case.kv_cache, case.weights,
                                       case.context_lens, case.block_table, meta, case.max_context_len, False)
                out = fn().masked_fill(invalid, 0)
                if first is None:
                    first = out
                elif not torch.equal(out, first):
                    print(f"split {split} changed the logits of B={batch} next_n={next_n}", file=sys.stderr)
                    return 1
                t = timed(fn)[0]
                totals[split] += t
                row += f"  {t * 1e6:14.1f}"
            print(row, flush=True)
        best = min(SPLITS, key=totals.__getitem__)
        tuned["batch"][str(batch)] = {"split_kv": best}
        print(f"  B <= {batch}: split_kv {best}", flush=True)
    config.PAGED_DEFAULT = base
    print(f"wrote {tables.save(args.out, 'paged_mqa_logits', 'tilelang', arch, tuned)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
