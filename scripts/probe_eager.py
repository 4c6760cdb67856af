#!/usr/bin/env python3
"""Why an eager call's host time shows in ``bench_indexer.py --eager``: per paged case and provider (DeepGEMM, our
native path), the eager time as the benchmark takes it (``timed(eager=True)``), then the same loop instrumented:
GPU time between the events and host time of the call inside that loop (testing.bench.bench's ``host_times``), the
same for the metadata, and the flush's own GPU time. A host time below the flush's that still adds to the GPU time
would mean the call waits for the GPU somewhere. Needs a CUDA GPU and DeepGEMM; same inputs as the benchmark."""

from __future__ import annotations

import statistics
import sys

import bench_indexer
import torch

from sglang_sm120_dsa.testing import make_paged_case
from sglang_sm120_dsa.testing.bench import _flush
from sglang_sm120_dsa.testing.bench import bench
from sglang_sm120_dsa.testing.bench import timed


def instrumented(fn) -> tuple[float, float]:
    """Medians of (GPU us between the events, host us of the call) over testing.bench.bench's eager loop."""
    host: list[float] = []
    gpu = bench(fn, host_times=host)
    return gpu * 1e6, statistics.median(host) * 1e6


def main() -> int:
    if not torch.cuda.is_available():
        print("probe_eager.py needs a CUDA GPU", file=sys.stderr)
        return 2
    import deep_gemm

    device = torch.device("cuda", torch.cuda.current_device())
    print(f"{torch.cuda.get_device_name()}: the flush alone takes {bench(lambda: _flush(device)) * 1e6:.1f} us")
    for batch, ctx in ((1, 8192), (64, 65536), (256, 8192)):
        case = make_paged_case(batch, 1, 64, 128, 64, avg_context=ctx, seed=batch, device="cuda")
        for provider in ("deepgemm", "triton"):
            meta_fn, fn = bench_indexer.paged_fns(provider, case, deep_gemm)
            fn()
            eager = timed(fn, eager=True)[0] * 1e6
            gpu, host = instrumented(fn)
            meta_gpu, meta_host = instrumented(meta_fn)
            print(f"{batch} x {ctx} {provider}: timed(eager) {eager:.1f} us; instrumented: GPU {gpu:.1f}, host "
                  f"{host:.1f}; metadata GPU {meta_gpu:.1f}, host {meta_host:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
