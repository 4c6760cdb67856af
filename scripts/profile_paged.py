#!/usr/bin/env python3
"""One paged-logits launch per provider on the same inputs, between cudaProfilerStart/Stop, for ``ncu``:

    ncu --profile-from-start off --clock-control none --section SpeedOfLight --section MemoryWorkloadAnalysis \\
        python3 scripts/profile_paged.py [CASE [PROVIDER ...]]
    # CASE: batch x context x next_n (default 64x65536x1); PROVIDER: deepgemm, or a Triton FP8 mode (native, bytes,
    # portable; default: deepgemm native); section=AHEAD,MAXNREG,PROGRAMS: the Gluon kernel's section for every
    # Triton provider of this process (scripts/ab_sm90_entry.py's, instead of the table's)

The benchmark's inputs (testing.benchmark_paged_case: H=64, D=128, 64-token pages). The metadata and a first call
of each provider (compilation) run before the profiled range, so ``ncu`` sees only the logits kernels, one launch
each.
"""

from __future__ import annotations

import os
import sys

import torch

import sglang_sm120_dsa as dsa
from sglang_sm120_dsa.testing import benchmark_paged_case
from sglang_sm120_dsa.testing.families import family_env

sys.path.insert(0, os.path.dirname(__file__))

from ab_sm90_entry import use_section  # noqa: E402


def main() -> None:
    batch, ctx, next_n = map(int, (sys.argv[1] if len(sys.argv) > 1 else "64x65536x1").split("x"))
    sections = [p.removeprefix("section=") for p in sys.argv[2:] if p.startswith("section=")]
    providers = [p for p in sys.argv[2:] if not p.startswith("section=")] or ["deepgemm", "native"]
    if sections:
        use_section(sections[-1], next_n)
    case = benchmark_paged_case(batch, ctx, next_n)
    args = (case.q, case.kv_cache, case.weights, case.context_lens, case.block_table)
    calls = []
    for provider in providers:
        if provider == "deepgemm":
            import deep_gemm

            meta = deep_gemm.get_paged_mqa_logits_metadata(case.context_lens, 64, deep_gemm.get_num_sms())
            calls.append(lambda meta=meta: deep_gemm.fp8_paged_mqa_logits(*args, meta, case.max_context_len, False))
        else:
            env = family_env("triton", provider)
            meta = dsa.get_paged_mqa_logits_metadata(case.context_lens, 64, dsa.get_num_sms())

            def call(meta=meta, env=env):
                os.environ.update(env)  # (read at each call: the mode this provider names)
                return dsa.fp8_paged_mqa_logits(*args, meta, case.max_context_len, False)

            calls.append(call)
        calls[-1]()  # compiles outside the profiled range
    torch.cuda.synchronize()
    torch.cuda.cudart().cudaProfilerStart()
    for call in calls:
        call()
    torch.cuda.synchronize()
    torch.cuda.cudart().cudaProfilerStop()


if __name__ == "__main__":
    main()
