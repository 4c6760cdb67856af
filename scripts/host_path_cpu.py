"""The Python host path of an eager paged or ragged call, measured on any CPU (no GPU): the public call, argument
checks, dispatch, output allocation and the Triton launcher, with the launcher's plan and compiled kernel stubbed (a
GPU host adds Triton's C launch, ~15 us on an H100 host). For comparing commits on the development machine, where no
GPU host is at hand (scripts/bench_host.py measures the real thing):

    python scripts/host_path_cpu.py [--op paged|ragged] [--reps N] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import timeit
import types

import torch

import sglang_sm120_dsa as dsa
from sglang_sm120_dsa import dispatch
from sglang_sm120_dsa.testing import make_paged_case
from sglang_sm120_dsa.testing import make_ragged_case
from sglang_sm120_dsa.triton import launch


def _kernel(grid, ptrs, ints) -> None:
    """The stubbed compiled kernel: launches nothing."""


def _through_triton(op_fn) -> None:
    """Route every op to the Triton launcher ``op_fn`` after the real dispatch lookup (which is timed too)."""
    real = dispatch.resolve
    choice = types.SimpleNamespace(fn=op_fn, owns_output=False)
    dispatch.resolve = lambda op, device: (real(op, device), choice)[1]


def stubbed_call(batch: int = 32, next_n: int = 2, heads: int = 64):
    """A no-argument eager paged call through the Triton launcher whose kernels do nothing (patches this process's
    launch._paged_plan and dispatch.resolve for good: run it in its own process)."""
    case = make_paged_case(batch, next_n, heads, 128, 64, avg_context=4000, seed=0)
    meta = torch.zeros(133, 2, dtype=torch.int32)
    plan = launch.PagedPlan(_kernel, True, 0, (132,), (6, 1, 0, 4), _kernel)
    launch._paged_plan = lambda *key: plan
    _through_triton(launch.paged_mqa_logits)
    return lambda: dsa.fp8_paged_mqa_logits(case.q, case.kv_cache, case.weights, case.context_lens, case.block_table,
                                            meta, case.max_context_len, False)


def stubbed_ragged_call(seq_len: int = 512, seq_len_kv: int = 2048, heads: int = 64):
    """:func:`stubbed_call`'s ragged counterpart (bench_host.py's ragged case; the real plan buckets)."""
    case = make_ragged_case(seq_len, seq_len_kv, heads, 128, seed=3)
    launch._ragged_plan = lambda *key: (_kernel, 2, 8192)
    _through_triton(launch.mqa_logits)
    return lambda: dsa.fp8_mqa_logits(case.q, case.kv, case.weights, case.ks, case.ke)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--op", choices=("paged", "ragged"), default="paged")
    p.add_argument("--reps", type=int, default=20000)
    p.add_argument("--profile", action="store_true")
    args = p.parse_args()
    call, what = ((stubbed_call(), "paged call, Python path (B=32, next_n 2, H=64") if args.op == "paged" else
                  (stubbed_ragged_call(), "ragged call, Python path (512 x 2048, H=64"))
    call()
    best = min(timeit.repeat(call, number=args.reps, repeat=3)) / args.reps * 1e6
    print(f"eager {what}; kernel stubbed): {best:.1f} us")
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(lambda: [call() for _ in range(args.reps)])
        pstats.Stats(profile).sort_stats("tottime").print_stats(15)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
