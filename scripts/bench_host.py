#!/usr/bin/env python3
"""Host time per call of the public ops against DeepGEMM's: what an eager caller (prefill, a server without CUDA
graphs) pays per call and per layer, which the CUDA-graph benchmark (bench_indexer.py) hides.

For each op and provider, on the same inputs in one process:

* ``isolated``: host microseconds of one call right after a synchronize (the GPU idle, as between a server's
  steps), median of ``--reps``;
* ``back-to-back``: host microseconds per call over ``--reps`` calls in a row on a case small enough that the GPU
  keeps up (so the loop measures the host).

Writes ``$OUT/host_<gpu>.csv`` and ``.png``. ``--breakdown`` adds our pieces back to back (argument checks,
dispatch, output allocation, the launcher), and ``--profile`` prints cProfile's top functions over the
back-to-back calls of each Triton provider. Needs a CUDA GPU and DeepGEMM.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import os
import pathlib
import pstats
import statistics
import sys
import time

import bench_indexer
import torch
import triton

import sglang_sm120_dsa as dsa
from sglang_sm120_dsa import _checks
from sglang_sm120_dsa import dispatch
from sglang_sm120_dsa import envs
from sglang_sm120_dsa._checks import check_paged
from sglang_sm120_dsa._checks import check_ragged
from sglang_sm120_dsa.layout import new_logits
from sglang_sm120_dsa.layout import paged_logits_row_stride
from sglang_sm120_dsa.testing import make_paged_case
from sglang_sm120_dsa.testing import make_ragged_case
from sglang_sm120_dsa.testing.bench import results_stem
from sglang_sm120_dsa.testing.bench import save_rows

_LAUNCH = os.environ.get("SGLANG_SM120_DSA_TRITON_LAUNCH", "auto")  # the other providers' launch setting


def use(provider: str) -> None:
    """Route the API through ``provider``; ``triton-jit`` is ``triton`` launched through Triton's JIT on every call
    (SGLANG_SM120_DSA_TRITON_LAUNCH=jit, read when a kernel is first used: the plans are dropped here)."""
    from sglang_sm120_dsa.triton import launch

    bench_indexer.use("triton" if provider == "triton-jit" else provider)  # (tilelang-sm120: carry the site bundle)
    if hasattr(envs, "TRITON_LAUNCH"):  # (checkouts before it, as A/B bases, have neither this nor plans)
        os.environ[envs.TRITON_LAUNCH.name] = "jit" if provider == "triton-jit" else _LAUNCH
        launch.forget_plans()


def isolated(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    torch.cuda.synchronize()
    return statistics.median(times) * 1e6


def back_to_back(fn, reps: int) -> float:
    best = float("inf")
    for _ in range(3):  # the least disturbed of three loops
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, time.perf_counter() - t)
        torch.cuda.synchronize()
    return best / reps * 1e6


def cases():
    """(name, DeepGEMM call, our call, case) per op on small inputs, the benchmark's calls (bench_indexer.paged_fns,
    ragged_fn); ours read the environment at call time."""
    import deep_gemm

    out = []
    for b, n in ((1, 1), (32, 2)):
        case = make_paged_case(b, n, 64, 128, 64, avg_context=4096, seed=b, poison=False, device="cuda")
        (dg_meta, dg), (meta, ours) = (bench_indexer.paged_fns(p, case, deep_gemm) for p in ("deepgemm", "triton"))
        out.append((f"metadata B={b} next_n={n}", dg_meta, meta, None))
        out.append((f"paged B={b} next_n={n} x 4K", dg, ours, case))
    rc = make_ragged_case(512, 2048, 64, 128, seed=3, device="cuda")
    out.append(("ragged 512 x 2048", *(bench_indexer.ragged_fn(p, rc, deep_gemm) for p in ("deepgemm", "triton")), rc))
    return out


def breakdown(name: str, extra, reps: int) -> list[str]:
    """Our pieces of one call, back to back: checks, dispatch, output allocation, launcher."""
    rows = []
    if name.startswith("paged"):
        case = extra
        meta = dsa.get_paged_mqa_logits_metadata(case.context_lens, 64, dsa.get_num_sms())
        a = (case.q, case.kv_cache, case.weights, case.context_lens, case.block_table, meta, case.max_context_len,
             False, torch.float32, None, False)
        call = check_paged("fp8_paged_mqa_logits", *a)
        choice = dispatch.resolve("fp8_paged_mqa_logits", call.q.device)
        stride = paged_logits_row_stride(call.width, call.logits_dtype)
        out = new_logits(call.rows, call.width, stride, call.logits_dtype, call.q.device)
        pieces = {"checks": lambda: check_paged("fp8_paged_mqa_logits", *a),  # (a memo hit after the first call)
                  "full checks": lambda: _checks._check_paged("fp8_paged_mqa_logits", *a),
                  "dispatch": lambda: dispatch.resolve("fp8_paged_mqa_logits", call.q.device),
                  "output": lambda: new_logits(call.rows, call.width, stride, call.logits_dtype, call.q.device),
                  "launcher": lambda: choice.fn(call, out)}
    elif name.startswith("ragged"):
        rc = extra
        a = (rc.q, rc.kv, rc.weights, rc.ks, rc.ke, False, 0, torch.float32, None, False)
        pieces = {"checks": lambda: check_ragged("fp8_mqa_logits", *a)}
    else:
        return rows
    for piece, fn in pieces.items():
        rows.append(f"    {piece:<11} {back_to_back(fn, reps):7.1f} us")
    return rows


def write(rows: list[dict], gpu: str, out_dir: pathlib.Path) -> None:
    """CSV and a bar plot (back to back, isolated hatched) of the host times."""
    stem = results_stem("host", gpu)
    plt = save_rows(rows, out_dir / f"{stem}.csv")
    if plt is None:
        return
    ops = list(dict.fromkeys(r["op"] for r in rows))
    providers = list(dict.fromkeys(r["provider"] for r in rows))
    fig, ax = plt.subplots(figsize=(12, 4.5))
    width = 0.8 / len(providers)
    for i, p in enumerate(providers):
        mine = [next(r for r in rows if r["provider"] == p and r["op"] == op) for op in ops]
        xs = [j + i * width for j in range(len(ops))]
        ax.bar(xs, [r["isolated_us"] for r in mine], width, color=f"C{i}", alpha=0.35, hatch="//")
        ax.bar(xs, [r["back_to_back_us"] for r in mine], width, color=f"C{i}", label=p)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(ops))], ops, fontsize=8)
    ax.set_ylabel("host us per call (solid: back to back; hatched: isolated)")
    ax.set_title(f"host time per eager call, {gpu}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / f"{stem}.png", dpi=110)
    print(f"wrote {out_dir / stem}.csv and .png")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--providers", default="triton,triton-jit,triton-bytes,triton-portable")
    p.add_argument("--reps", type=int, default=200)
    p.add_argument("--breakdown", action="store_true")
    p.add_argument("--profile", action="store_true")
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path(os.environ.get("OUT", "out")))
    args = p.parse_args()
    if not torch.cuda.is_available():
        print("bench_host.py needs a CUDA GPU", file=sys.stderr)
        return 2
    providers = args.providers.split(",")
    gpu = torch.cuda.get_device_name()
    print(f"{gpu}, torch {torch.__version__}, triton {triton.__version__}, {datetime.date.today()}; "
          "host us per call (isolated / back-to-back)")
    print(f"{'op':<28} {'DeepGEMM':>15} " + " ".join(f"{p:>17}" for p in providers))
    rows = []
    for name, dg, ours, extra in cases():
        for _ in range(3):
            dg()
        times = {"deepgemm": (isolated(dg, args.reps), back_to_back(dg, args.reps))}
        notes, profiles = [], []
        for provider in providers:
            use(provider)
            for _ in range(3):  # compile, decide
                ours()
            times[provider] = (isolated(ours, args.reps), back_to_back(ours, args.reps))
            if args.breakdown and provider == providers[0]:
                notes += breakdown(name, extra, args.reps)
            if args.profile:
                prof = cProfile.Profile()
                prof.enable()
                for _ in range(args.reps):
                    ours()
                prof.disable()
                torch.cuda.synchronize()
                profiles.append((provider, prof))
        rows += [{"op": name, "provider": k, "isolated_us": round(v[0], 1), "back_to_back_us": round(v[1], 1)}
                 for k, v in times.items()]
        cells = [f"{a:6.1f} /{b:6.1f}" for a, b in times.values()]
        print(f"{name:<28} {cells[0]:>15} " + " ".join(f"{c:>17}" for c in cells[1:]), flush=True)
        for line in notes:
            print(line)
        for provider, prof in profiles:
            print(f"  cProfile of {provider}, {name}, {args.reps} calls:")
            pstats.Stats(prof, stream=sys.stdout).sort_stats("tottime").print_stats(14)
    write(rows, gpu, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
