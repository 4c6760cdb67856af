"""Timing for benchmarks and tuning (median GPU time per call with a cold L2, the device's copy bandwidth) and the
CUDA-graph capture they and the tests use."""

from __future__ import annotations

import csv
import pathlib
import time
from collections.abc import Callable

import torch

__all__ = ["bench", "capture", "copy_bandwidth", "graphed", "interleaved", "median", "results_stem", "save_rows",
           "timed"]

_flush_buffers: dict[torch.device, torch.Tensor] = {}


def _flush(device: torch.device) -> None:
    """Overwrite more than any L2 (256 MiB), so every timed call reads its inputs from memory."""
    buf = _flush_buffers.get(device)
    if buf is None:
        buf = _flush_buffers[device] = torch.empty(256 << 20, dtype=torch.uint8, device=device)
    buf.zero_()


def median(values: list[float]) -> float:
    """The middle value (the upper one of an even count): what every timing here reports."""
    return sorted(values)[len(values) // 2]


def bench(fn: Callable[[], object], *, reps: int = 30, warmup: int = 3, max_seconds: float = 2.0,
          host_times: list[float] | None = None) -> float:
    """Median seconds of ``fn`` on the current CUDA device, each call after an L2 flush, timed with events (the
    flush keeps the GPU busy while the call is launched, so host launch time is hidden as in a CUDA graph).
    ``host_times`` collects each timed call's host seconds (diagnostics)."""
    device = torch.device("cuda", torch.cuda.current_device())
    for _ in range(warmup):
        fn()
    times = []
    deadline = time.perf_counter() + max_seconds
    for _ in range(reps):
        _flush(device)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        t = time.perf_counter()
        fn()
        if host_times is not None:
            host_times.append(time.perf_counter() - t)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
        if time.perf_counter() > deadline and len(times) >= 5:
            break
    return median(times)


def capture(fn: Callable[[], object]) -> tuple[torch.cuda.CUDAGraph, object]:
    """(graph, its output): ``fn`` run once on a side stream (compilation and first-use allocations, as PyTorch
    recommends before capture), then captured. Replaying the graph rewrites that output in place."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = fn()
    return graph, out


def graphed(fn: Callable[[], object]) -> Callable[[], object] | None:
    """The replay of ``fn`` captured by :func:`capture` (no host launch cost, as in a server), or None when ``fn``
    cannot be captured."""
    try:
        graph, _ = capture(fn)
    except Exception:  # not capturable: the caller times it eagerly
        return None
    return graph.replay


def timed(fn: Callable[[], object], *, eager: bool = False, reps: int = 30) -> tuple[float, str]:
    """(median seconds, "graph" or "eager"): :func:`bench` of ``fn``'s CUDA-graph replays, or of plain calls when
    ``eager`` or when ``fn`` cannot be captured."""
    replay = None if eager else graphed(fn)
    if replay is None:
        return bench(fn, reps=reps), "eager"
    return bench(replay, reps=reps), "graph"


def interleaved(fns: dict[str, Callable[[], object]], rounds: int, *, eager: bool = False, reps: int = 30,
                setup: Callable[[str], object] | None = None) -> tuple[dict[str, list[float]], dict[str, str]]:
    """(per name the :func:`timed` medians of ``rounds`` rounds, per name "graph" or "eager"): every round times
    every function once, the order reversed every other round, so that a drift of the GPU's clocks or of the
    machine spreads over all of them alike and the per-round ratios show how far one comparison moves. Each timing
    captures its own graph, as :func:`timed` does (one graph alive at a time), after ``setup(name)`` (e.g. the
    environment that picks a provider's kernels)."""
    names = list(fns)
    times: dict[str, list[float]] = {name: [] for name in names}
    kinds: dict[str, str] = {}
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            if setup is not None:
                setup(name)
            t, kinds[name] = timed(fns[name], eager=eager, reps=reps)
            times[name].append(t)
    return times, kinds


def copy_bandwidth(num_bytes: int = 2 << 30) -> float:
    """Bytes per second of a large device-to-device copy, counting bytes read plus bytes written."""
    src = torch.empty(num_bytes, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    return 2 * num_bytes / bench(lambda: dst.copy_(src), reps=10)


def results_stem(prefix: str, gpu: str) -> str:
    """File stem of a benchmark's results on ``gpu``: ``bench_NVIDIA_H100_80GB_HBM3``."""
    return prefix + "_" + "".join(c if c.isalnum() else "_" for c in gpu)


def save_rows(rows: list[dict], path: pathlib.Path):
    """Write ``rows`` as CSV at ``path`` (folders made); returns matplotlib's pyplot (Agg backend) for the plot, or
    None, saying so, when matplotlib is not installed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot")
        return None
    return plt
