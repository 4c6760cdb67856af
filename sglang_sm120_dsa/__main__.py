"""Doctor: ``python -m sglang_sm120_dsa``.

Prints the environment, the implementation ``auto`` picks for every op on this machine's device and why, the
start-up compile time of its kernels (what a server pays before CUDA-graph capture on a cold cache), checks
every available implementation against an oracle (the float64 brute force for the reference, the reference for
the kernel families), and times a small benchmark. Exits non-zero if any check fails. Runs on CPU-only machines.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from . import __version__
from . import dispatch
from . import envs
from . import ops
from .errors import UnsupportedCall
from .testing import calc_diff
from .testing import make_paged_case
from .testing import make_ragged_case
from .testing import naive_metadata
from .testing import naive_paged_logits
from .testing import naive_ragged_logits
from .testing.bench import bench
from .testing.bench import median
from .testing.numeric import count_bytes

# fp32 logits of the reference vs the float64 brute force; kernels vs the reference (DeepGEMM's simulated bound).
REFERENCE_TOL = 1e-9
KERNEL_TOL = 5e-6
NUM_SMS = 8  # schedule workers for the self-check; any positive value is valid


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _triton_version() -> str:
    """The imported Triton's version: a copy on ``PYTHONPATH`` (which compiles the kernels) may differ from the
    installed distribution."""
    try:
        import triton
    except ImportError:
        return "not installed"
    return triton.__version__


def print_environment(device: torch.device) -> None:
    print(f"sglang-sm120-dsa {__version__}")
    print(f"  python {platform.python_version()}, torch {torch.__version__}, triton {_triton_version()}, "
          f"tilelang {_version('tilelang')}, sglang {_version('sglang')}, deep_gemm {_version('sgl-deep-gemm')}")
    if torch.cuda.is_available():
        print(f"  device: {dispatch.describe_device(device)}")
    else:
        print("  device: no CUDA device (CPU only)")
    print(f"  {envs.IMPL.name}={envs.IMPL.get()}")
    for var in envs.ENV_VARS:  # the others only where set: they change which program runs
        if var is not envs.IMPL and var.get() != var.default:
            print(f"  {var.name}={var.get()}")


def print_dispatch(device: torch.device) -> bool:
    print(f"\ndispatch for {dispatch.describe_device(device)} tensors:")
    ok = True
    for op, choice in dispatch.explain(device):
        if isinstance(choice, Exception):
            ok = False
            print(f"  {op:31s} ERROR  {choice}")
        else:
            print(f"  {op:31s} {choice.impl:8s} {choice.reason}")
    return ok


@dataclass
class Check:
    name: str
    run: Callable[[], tuple[float, bool]]  # -> (calc_diff, masks equal / bitwise equal)
    tol: float  # 0: a bitwise check


def _compare(out: torch.Tensor, oracle: torch.Tensor) -> tuple[float, bool]:
    out, oracle = out.cpu(), oracle.cpu()
    mask = oracle == float("-inf")
    return calc_diff(out, oracle, mask), torch.equal(out == float("-inf"), mask)


def _checks(device: torch.device, impl: str) -> list[Check]:
    """Small cases covering each op; the reference is compared with the brute force, kernels with the reference."""
    oracle_is_naive = impl == "torch"
    tol = REFERENCE_TOL if oracle_is_naive else KERNEL_TOL
    checks = []
    workers = ops.get_num_sms() if impl == "deepgemm" else NUM_SMS  # DeepGEMM schedules for every SM
    # H=64: the head count compile_time warmed up, so a JIT family compiles nothing more here
    for fp4, lens_2d, next_n in ((False, True, 2), (False, False, 3), (True, True, 1)):
        case = make_paged_case(3, next_n, 64, 128, 64, context_lens=[0, 65, 300], lens_2d=lens_2d, fp4=fp4,
                               seed=7, device=device)

        def run(case=case) -> tuple[float, bool]:
            meta = ops.get_paged_mqa_logits_metadata(case.context_lens, 64, workers)
            out = ops.fp8_fp4_paged_mqa_logits(case.q, case.kv_cache, case.weights, case.context_lens,
                                               case.block_table, meta, case.max_context_len, clean_logits=True)
            q, q_sf = case.q if case.is_fp4 else (case.q, None)
            if oracle_is_naive:
                oracle = naive_paged_logits(q, case.kv_cache, case.weights, case.context_lens, case.block_table,
                                            case.max_context_len, q_sf=q_sf)
            else:
                with _forced("torch"):
                    oracle = ops.fp8_fp4_paged_mqa_logits(case.q, case.kv_cache, case.weights, case.context_lens,
                                                          case.block_table, meta, case.max_context_len, True)
            return _compare(out, oracle)

        name = f"paged {'FP4' if fp4 else 'FP8'} B=3 next_n={next_n} H=64 D=128 {'2-D' if lens_2d else '1-D'} lens"
        checks.append(Check(name, run, tol))
    for fp4, compressed in ((False, False), (False, True), (True, False)):
        case = make_ragged_case(64, 256, 64, 128, cp=True, compressed=compressed, fp4=fp4, seed=8, device=device)

        def run(case=case) -> tuple[float, bool]:
            out = ops.fp8_fp4_mqa_logits(case.q, case.kv, case.weights, case.ks, case.ke, clean_logits=True,
                                         max_seqlen_k=case.max_seqlen_k)
            q, q_sf = case.q if case.is_fp4 else (case.q, None)
            if oracle_is_naive:
                oracle = naive_ragged_logits(q, case.kv, case.weights, case.ks, case.ke, case.max_seqlen_k, q_sf=q_sf)
            else:
                with _forced("torch"):
                    oracle = ops.fp8_fp4_mqa_logits(case.q, case.kv, case.weights, case.ks, case.ke, True,
                                                    case.max_seqlen_k)
            return _compare(out, oracle)

        checks.append(Check(f"ragged {'FP4' if fp4 else 'FP8'} S=64 SKV=256 H=64 D=128 CP"
                            f"{' compressed' if compressed else ''}", run, tol))

    lens = torch.tensor([[0, 0], [700, 900], [1, 5], [4096, 4096]], dtype=torch.int32)

    def run_metadata() -> tuple[float, bool]:
        meta = ops.get_paged_mqa_logits_metadata(lens.to(device), 64, NUM_SMS)
        if impl != "torch":  # other families schedule with their own split size; check shape and determinism
            again = ops.get_paged_mqa_logits_metadata(lens.to(device), 64, NUM_SMS)
            return 0.0, meta.shape == (NUM_SMS + 1, 2) and torch.equal(meta, again)
        return 0.0, torch.equal(meta.cpu(), naive_metadata(lens, NUM_SMS))

    checks.append(Check("metadata B=4 next_n=2 (bitwise)", run_metadata, 0.0))
    return checks


class _forced:
    """Temporarily force one implementation family through the environment variable."""

    def __init__(self, name: str):
        self.name = name

    def __enter__(self) -> None:
        self.old = os.environ.get(envs.IMPL.name)
        os.environ[envs.IMPL.name] = self.name

    def __exit__(self, *exc) -> None:
        if self.old is None:
            os.environ.pop(envs.IMPL.name, None)
        else:
            os.environ[envs.IMPL.name] = self.old


def self_check(device: torch.device) -> bool:
    impls = dispatch.available(device)
    print(f"\nself-check on {device.type} ({', '.join(impls)}):")
    ok = True
    for impl in impls:
        checks = _checks(device, impl)
        for i, check in enumerate(checks, 1):
            t0 = time.perf_counter()
            try:
                with _forced(impl):
                    diff, masks = check.run()
                passed = masks and diff <= check.tol
                if check.tol == 0:
                    detail = "bitwise equal" if masks else "DIFFERENT"
                else:
                    detail = f"calc_diff {diff:.1e} (< {check.tol:.0e}), -inf masks {'equal' if masks else 'DIFFER'}"
            except UnsupportedCall as e:  # outside the family's documented limits: shown, not a failure
                passed, detail = None, str(e)
            except Exception as e:  # report and go on: the doctor must show every failure
                passed, detail = False, f"{type(e).__name__}: {e}"
            ok &= passed is not False
            verdict = {True: "PASS", False: "FAIL", None: "N/A "}[passed]
            print(f"  [{i}/{len(checks)}] {impl:8s} {check.name:52s} {verdict}  {detail}  "
                  f"({time.perf_counter() - t0:.2f} s)", flush=True)
    return ok


def compile_time(device: torch.device, num_heads: int = 64) -> bool:
    """Time ``warmup`` of the auto-chosen family for one head count (DeepSeek-V3.2's indexer: 64) and SGLang's
    64-token pages: every variant a server with that model compiles before capture. Cold (an empty TileLang/Triton
    cache) this is the first start's cost; warm it is the cache lookups."""
    if device.type != "cuda":
        print("\nstart-up compile: no GPU, nothing to compile")
        return True
    impl = dispatch.resolve("fp8_paged_mqa_logits", device).impl
    print(f"\nstart-up compile ({impl}, H={num_heads}):", flush=True)
    t0 = time.perf_counter()
    try:
        count = ops.warmup(device, num_heads, progress=lambda line: print(f"  {line}", flush=True), block_kv=64)
    except Exception as e:  # report and go on: the doctor must show every failure
        print(f"  FAIL  {type(e).__name__}: {e}")
        return False
    if count == 0:  # the reference, and DeepGEMM, whose own JIT compiles on first call
        print(f"  {impl} has no warmup step: nothing compiled here")
    else:
        print(f"  {count} variants ready in {time.perf_counter() - t0:.1f} s (seconds when the compile cache is warm)")
    return True


def _time(fn: Callable[[], object], device: torch.device, min_seconds: float = 0.3) -> float:
    """Median seconds per call: on CUDA the benchmark's timer (cold L2, GPU time; see testing/bench.py), on the CPU
    the wall clock after a warm-up call."""
    if device.type == "cuda":
        return bench(fn)
    fn()
    times = []
    deadline = time.perf_counter() + min_seconds
    while len(times) < 3 or (time.perf_counter() < deadline and len(times) < 50):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return median(times)


def benchmark(device: torch.device) -> None:
    """One decode and one prefill shape with the auto-selected implementation (DeepSeek-V3.2 indexer: H=64, D=128)."""
    batch, avg = (64, 8192) if device.type == "cuda" else (4, 2048)
    seq, seq_kv = (2048, 8192) if device.type == "cuda" else (128, 2048)
    print(f"\nbenchmark on {dispatch.describe_device(device)} (auto-selected implementations):")
    case = make_paged_case(batch, 1, 64, 128, 64, avg_context=avg, seed=1, device=device)
    workers = ops.get_num_sms() if device.type == "cuda" else NUM_SMS
    meta = ops.get_paged_mqa_logits_metadata(case.context_lens, 64, workers)
    args = (case.q, case.kv_cache, case.weights, case.context_lens, case.block_table, meta, case.max_context_len)
    t = _time(lambda: ops.fp8_paged_mqa_logits(*args), device)
    tokens = int(case.context_lens.max(dim=-1).values.sum())
    moved = count_bytes(case.q, case.weights) + tokens * (128 + 4) + tokens * 4
    impl = dispatch.resolve("fp8_paged_mqa_logits", device).impl
    print(f"  fp8_paged_mqa_logits  {impl:8s} B={batch} next_n=1 ctx~{avg}   {t * 1e6:10.0f} us  "
          f"{moved / t / 1e9:7.2f} GB/s")

    rc = make_ragged_case(seq, seq_kv, 64, 128, seed=2, device=device)
    t = _time(lambda: ops.fp8_mqa_logits(rc.q, rc.kv, rc.weights, rc.ks, rc.ke), device)
    cost = int((rc.ke.long() - rc.ks.long()).clamp_min(0).sum())
    impl = dispatch.resolve("fp8_mqa_logits", device).impl
    print(f"  fp8_mqa_logits        {impl:8s} S={seq} SKV={seq_kv}          {t * 1e6:10.0f} us  "
          f"{2 * cost * 64 * 128 / t / 1e12:7.3f} TFLOPS")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sglang_sm120_dsa", description=__doc__.splitlines()[0])
    parser.add_argument("--device", help="cpu or cuda[:N] (default: cuda if available, else cpu)")
    parser.add_argument("--no-bench", action="store_true", help="skip the benchmark")
    parser.add_argument("--no-compile", action="store_true", help="skip the start-up compile (warmup) timing")
    args = parser.parse_args(argv)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())

    print_environment(device)
    ok = print_dispatch(device)
    if not args.no_compile:
        ok &= compile_time(device)
    ok &= self_check(device)
    if ok and not args.no_bench:
        benchmark(device)
    print(f"\n{'OK' if ok else 'FAILED'}: sglang-sm120-dsa {__version__} on {dispatch.describe_device(device)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
