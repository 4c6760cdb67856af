#!/usr/bin/env python3
"""Why an eager call's host time shows in ``bench_indexer.py --eager``: per paged case and provider (DeepGEMM, our
native path), the eager time as the benchmark takes it (``timed(eager=True)``), then the same loop instrumented:
GPU time between the events, host time of the call inside that loop (after the flush's launch), the flush's own
GPU time, and the same for the metadata. A host time below the flush's that still adds to the GPU time would mean
the call waits for the GPU somewhere. Needs a CUDA GPU and DeepGEMM; same inputs as the benchmark."""

from __future__ import annotations

import statistics
import sys
import time

import bench_indexer
import torch

from sglang_sm120_dsa.testing import make_paged_case
from sglang_sm120_dsa.testing.bench import _flush
from sglang_sm120_dsa.testing.bench import timed


def instrumented(fn, reps: int = 30) -> tuple[float, float, float]:
    """Medians of (GPU us between the events, host us of the call, flush GPU us)."""
    device = torch.device("cuda", torch.cuda.current_device())
    gpu, host, flush = [], [], []
    for _ in range(3):
        fn()
    for _ in range(reps):
        f0, f1, start, end = (torch.cuda.Event(enable_timing=True) for _ in range(4))
        f0.record()
        _flush(device)
        f1.record()
        start.record()
        t = time.perf_counter()
        fn()
        host.append((time.perf_counter() - t) * 1e6)
        end.record()
        end.synchronize()
        gpu.append(start.elapsed_time(end) * 1e3)
        flush.append(f0.elapsed_time(f1) * 1e3)
    return statistics.median(gpu), statistics.median(host), statistics.median(flush)


def main() -> int:
    if not torch.cuda.is_available():
        print("probe_eager.py needs a CUDA GPU", file=sys.stderr)
        return 2
    import deep_gemm

    print(torch.cuda.get_device_name())
    for batch, ctx in ((1, 8192), (64, 65536), (256, 8192)):
        case = make_paged_case(batch, 1, 64, 128, 64, avg_context=ctx, seed=batch, device="cuda")
        for provider in ("deepgemm", "triton"):
            meta_fn, fn = bench_indexer.paged_fns(provider, case, deep_gemm)
            fn()
            eager = timed(fn, eager=True)[0] * 1e6
            gpu, host, flush = instrumented(fn)
            meta_gpu, meta_host, _ = instrumented(meta_fn)
            print(f"{batch} x {ctx} {provider}: timed(eager) {eager:.1f} us; instrumented: GPU {gpu:.1f}, host "
                  f"{host:.1f}, flush {flush:.1f}; metadata GPU {meta_gpu:.1f}, host {meta_host:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
