#!/usr/bin/env python3
"""Benchmark the indexer against DeepGEMM: same inputs, one process, side-by-side table, CSV and plot.

Paged (decode) logits for B x context in {1x8K, 1x64K, 8x32K, 32x8K, 32x32K, 64x64K, 128x16K, 256x8K}, next_n 1
and 2, H=64, D=128, 64-token pages (the DeepSeek-V3.2 indexer), then the metadata, then ragged (prefill) logits
for S x SKV in {2048x8192, 4096x32768, 8192x65536}. Providers: deepgemm (sgl-deep-gemm's SM90 kernels), triton
(native FP8; on SM90 the Gluon wgmma kernel where the tables enable it), triton-portable (native FP8 without it:
the kernel SM89/SM100/SM120 run, lowered for this GPU), triton-bytes (the SM80/86 path, forced),
triton-sm80 / -sm86 / -sm89 / -sm120 (that arch's whole Triton program: SGLANG_SM120_DSA_TRITON_ARCH, mma.sync;
Hopper emulates FP8 mma.sync, so sm89/sm120 times there are not those GPUs'), tilelang-sm120 (the TileLang family in
SM120 instruction mode: SM120's mma.sync program compiled for sm_90a without wgmma), sglang-tilelang (SGLang 0.5.23's
``tilelang_fp8_paged_mqa_logits``, next_n 1 only, compiled in the same SM120 mode; see ``sglang_tilelang``),
torch (the reference; small cases only). Times are medians with a cold L2 (testing/bench.py) of CUDA-graph
replays, as a server runs the indexer (no host launch cost; ``--eager`` times plain calls; a provider that cannot
be captured is timed eagerly and marked), taken in ``--rounds`` rounds that time every provider once each in
alternating order: a row's time is the median round's, and its speedup comes with the lowest and highest of the
rounds' (a single pass moved rows by ~1% between runs). Each provider's logits are checked against the first
provider's on the valid columns; a mismatch ends the run with exit code 1. Needs a CUDA GPU.
"""

from __future__ import annotations

import argparse
import datetime
import faulthandler
import functools
import importlib.metadata
import importlib.util
import os
import pathlib
import sys
import time
import types

import torch
import triton

import sglang_sm120_dsa as dsa
from sglang_sm120_dsa.deepgemm import as_torch
from sglang_sm120_dsa.testing import benchmark_paged_case
from sglang_sm120_dsa.testing import calc_diff
from sglang_sm120_dsa.testing import make_ragged_case
from sglang_sm120_dsa.testing.bench import copy_bandwidth
from sglang_sm120_dsa.testing.bench import interleaved
from sglang_sm120_dsa.testing.bench import median as _median
from sglang_sm120_dsa.testing.bench import results_stem
from sglang_sm120_dsa.testing.bench import save_rows
from sglang_sm120_dsa.testing.families import family_env

PAGED_CASES = [(1, 8192), (1, 65536), (8, 32768), (32, 8192), (32, 32768), (64, 65536), (128, 16384), (256, 8192)]
RAGGED_CASES = [(2048, 8192), (4096, 32768), (8192, 65536)]
FAMILY = {"triton": ("triton", "native"), "triton-portable": ("triton", "portable"),
          "triton-bytes": ("triton", "bytes"), "triton-sm80": ("triton", "sm80"), "triton-sm86": ("triton", "sm86"),
          "triton-sm89": ("triton", "sm89"),
          "triton-sm120": ("triton", "sm120"), "tilelang-sm120": ("tilelang", "sm120"), "torch": ("torch", "auto")}


def use(provider: str) -> None:
    """The environment that makes this package's calls run ``provider``'s kernels (a "/meta" suffix: its metadata);
    nothing for the others."""
    provider = provider.split("/")[0]
    if provider in FAMILY:
        os.environ.update(family_env(*FAMILY[provider]))


@functools.cache
def sglang_tilelang():
    """SGLang 0.5.23's TileLang indexer module (``sglang/kernels/ops/attention/dsa/tilelang_kernel.py``), compiled
    like this project's SM120 mode (no wgmma on Hopper). From an installed sglang, else from the file named by
    ``$SGLANG_TILELANG_KERNEL`` (the GPU machines have no sglang, so the file is carried there from a local
    install), with its two sglang imports (ROCm probes) answered False. Measured, never vendored."""
    name = "sglang.kernels.ops.attention.dsa.tilelang_kernel"
    if importlib.util.find_spec("sglang") is not None:
        module = importlib.import_module(name)
    else:
        path = os.environ.get("SGLANG_TILELANG_KERNEL")
        if not path:
            raise RuntimeError("sglang-tilelang: no sglang installed and SGLANG_TILELANG_KERNEL is not set")
        false = lambda: False  # noqa: E731
        for stub, attrs in (("sglang.kernels.ops.quantization.fp8_kernel", {"is_fp8_fnuz": false}),
                            ("sglang.srt.utils", {"is_hip": false, "is_gfx95_supported": false})):
            sys.modules[stub] = types.SimpleNamespace(**attrs)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    module.pass_configs["tl.disable_wgmma"] = True  # read when its kernel factory first runs
    return module


def paged_fns(provider, case, deep_gemm):
    """(metadata fn, logits fn) for one provider on one case, or None when the provider cannot run it."""
    args = (case.kv_cache, case.weights, case.context_lens, case.block_table)
    if provider == "sglang-tilelang":  # one query token per request; 1-D lengths; no metadata
        if case.next_n != 1:
            return None
        lens = case.context_lens.reshape(case.context_lens.shape[0], -1)[:, -1].contiguous()
        fn = sglang_tilelang().tilelang_fp8_paged_mqa_logits
        return (lambda: None), lambda: fn(case.q, case.kv_cache, case.weights, lens, case.block_table, None,
                                          case.max_context_len, False)
    if provider == "deepgemm":
        meta_fn = lambda: deep_gemm.get_paged_mqa_logits_metadata(case.context_lens, 64, deep_gemm.get_num_sms())  # noqa
        meta = meta_fn()
        return meta_fn, lambda: deep_gemm.fp8_paged_mqa_logits(case.q, *args, meta, case.max_context_len, False)
    use(provider)
    meta_fn = lambda: dsa.get_paged_mqa_logits_metadata(case.context_lens, 64, dsa.get_num_sms())  # noqa: E731
    meta = meta_fn()
    return meta_fn, lambda: dsa.fp8_paged_mqa_logits(case.q, *args, meta, case.max_context_len, False)


def ragged_fn(provider, case, deep_gemm):
    if provider == "deepgemm":
        return lambda: deep_gemm.fp8_mqa_logits(case.q, case.kv, case.weights, case.ks, case.ke, False)
    use(provider)
    return lambda: dsa.fp8_mqa_logits(case.q, case.kv, case.weights, case.ks, case.ke, False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--providers",
                        default="deepgemm,triton,triton-portable,triton-bytes,tilelang-sm120,sglang-tilelang")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path(os.environ.get("OUT", "out")))
    parser.add_argument("--quick", action="store_true", help="first three paged cases and one ragged case")
    parser.add_argument("--eager", action="store_true", help="time plain calls, not CUDA-graph replays")
    parser.add_argument("--cases", help="paged B x context cases instead of all, e.g. 64x65536,256x8192")
    parser.add_argument("--ragged", help="ragged S x SKV cases instead of all, e.g. 2048x8192; none: no ragged")
    parser.add_argument("--stall-seconds", type=float, default=240,
                        help="print every thread's Python stack when one case takes longer (0: never)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds per case, each timing every provider once in alternating order (median kept)")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("bench_indexer: needs a CUDA GPU", file=sys.stderr)
        return 2
    providers = args.providers.split(",")
    deep_gemm = None
    if "deepgemm" in providers:
        try:
            import deep_gemm
        except Exception as e:  # report and go on without it
            print(f"deepgemm unavailable ({type(e).__name__}: {e}); skipping it")
            providers.remove("deepgemm")
    if "sglang-tilelang" in providers:
        try:
            sglang_tilelang()
        except Exception as e:  # report and go on without it
            print(f"sglang-tilelang unavailable ({type(e).__name__}: {e}); skipping it")
            providers.remove("sglang-tilelang")
    gpu = torch.cuda.get_device_name()
    bw = copy_bandwidth()
    versions = f"torch {torch.__version__}, triton {triton.__version__}"  # (the imported one: PYTHONPATH may differ)
    if deep_gemm is not None:
        versions += f", sgl-deep-gemm {importlib.metadata.version('sgl-deep-gemm')}"
    if any(p.startswith("tilelang") for p in providers):
        versions += f", tilelang {importlib.metadata.version('tilelang')}"
    print(f"{gpu}, {torch.cuda.get_device_properties(0).multi_processor_count} SMs, {versions}, "
          f"{datetime.date.today()}; copy bandwidth {bw / 1e12:.2f} TB/s (read + write)")
    rows, failed = [], False
    cases = _sizes(args.cases) if args.cases else PAGED_CASES[:3] if args.quick else PAGED_CASES
    ragged_cases = _sizes(args.ragged) if args.ragged else RAGGED_CASES[:1] if args.quick else RAGGED_CASES
    for next_n in (1, 2):
        for batch, ctx in cases:
            _watch(args.stall_seconds)
            case = benchmark_paged_case(batch, ctx, next_n)
            tokens = int(case.context_lens[:, -1].long().sum())
            moved = case.q.numel() + case.weights.numel() * 4 + tokens * 132 + tokens * next_n * 4
            invalid = case.invalid_mask()
            first, out, fns = None, None, {}
            for provider in providers:
                if provider == "torch" and tokens > 300_000:
                    continue
                t0 = time.perf_counter()
                pair = paged_fns(provider, case, deep_gemm)
                if pair is None:
                    continue
                meta_fn, fns[provider] = pair
                out = as_torch(fns[provider]())
                if first is None:
                    first = out
                elif not _agrees(out, first, invalid, f"{provider} B={batch} ctx={ctx} next_n={next_n}"):
                    failed = True
                if provider != "sglang-tilelang":  # (no metadata)
                    fns[provider + "/meta"] = meta_fn
                print(f"  {provider}: ready and checked ({time.perf_counter() - t0:.1f} s)", flush=True)
            del first, out
            t0 = time.perf_counter()
            times, timing = interleaved(fns, args.rounds, eager=args.eager, setup=use)
            for provider in [p for p in fns if not p.endswith("/meta")]:
                t = _median(times[provider])
                t_meta = _median(times[provider + "/meta"]) if provider + "/meta" in times else 0.0
                rows.append(dict(op="paged", provider=provider, batch=batch, context=ctx, next_n=next_n, us=t * 1e6,
                                 metadata_us=t_meta * 1e6, gb_s=moved / t / 1e9, pct_copy_bw=100 * moved / t / bw,
                                 tflops=2 * tokens * next_n * 64 * 128 / t / 1e12, timing=timing[provider],
                                 **_spread(times, provider, next(iter(fns))), gpu=gpu))
            del case, fns
            print(f"[paged {batch} x {ctx} next_n {next_n}: timed in {time.perf_counter() - t0:.1f} s]"
                  f"{_brief(rows, 'paged', batch, ctx, next_n)}", flush=True)
    for seq, seq_kv in ragged_cases:
        _watch(args.stall_seconds)
        case = make_ragged_case(seq, seq_kv, 64, 128, seed=seq, device="cuda")
        cost = int((case.ke.long() - case.ks.long()).clamp_min(0).sum())
        invalid = case.invalid_mask()
        first, fns = None, {}
        for provider in providers:
            if provider in ("torch", "sglang-tilelang"):
                continue
            fns[provider] = ragged_fn(provider, case, deep_gemm)
            out = as_torch(fns[provider]())
            if first is None:
                first = out
            elif not _agrees(out, first, invalid, f"{provider} ragged S={seq} SKV={seq_kv}"):
                failed = True
            del out
        del first
        t0 = time.perf_counter()
        times, timing = interleaved(fns, args.rounds, eager=args.eager, reps=10, setup=use)
        for provider in fns:
            t = _median(times[provider])
            rows.append(dict(op="ragged", provider=provider, batch=seq, context=seq_kv, next_n=1, us=t * 1e6,
                             metadata_us=0.0, gb_s=0.0, pct_copy_bw=0.0, tflops=2 * cost * 64 * 128 / t / 1e12,
                             timing=timing[provider], **_spread(times, provider, next(iter(fns))), gpu=gpu))
        del case, fns
        print(f"[ragged {seq} x {seq_kv}: timed in {time.perf_counter() - t0:.1f} s]"
              f"{_brief(rows, 'ragged', seq, seq_kv, 1)}", flush=True)
    faulthandler.cancel_dump_traceback_later()
    report(rows, providers, args.out, gpu, f"{gpu}, {versions}, {datetime.date.today()}")
    return 1 if failed else 0


def _agrees(out: torch.Tensor, first: torch.Tensor, invalid: torch.Tensor, label: str) -> bool:
    """Whether ``out`` matches the first provider's logits on the valid columns (calc_diff < 1e-5); says so if not."""
    diff = calc_diff(out, first, invalid)
    if diff < 1e-5:
        return True
    print(f"MISMATCH {label}: calc_diff {diff:.2e}")
    return False


def _brief(rows: list[dict], op: str, batch: int, context: int, next_n: int) -> str:
    """One case's medians on its progress line, so a call killed before the table still reports what it timed."""
    mine = [r for r in rows if (r["op"], r["batch"], r["context"], r["next_n"]) == (op, batch, context, next_n)]
    return "".join(f"; {r['provider']} {r['us']:.1f} us {mine[0]['us'] / r['us']:.3f}x "
                   f"({r['x_lo']:.3f}-{r['x_hi']:.3f})" for r in mine)


def _watch(seconds: float) -> None:
    """From now on, print the Python stacks (stderr) every ``seconds`` until the next case starts: a case that
    stalls says where, even when the run is then killed from outside."""
    faulthandler.cancel_dump_traceback_later()
    if seconds > 0:
        faulthandler.dump_traceback_later(seconds, repeat=True)


def _sizes(text: str) -> list[tuple[int, int]]:
    """``"64x65536,256x8192"`` -> [(64, 65536), (256, 8192)]; ``"none"`` -> []."""
    return [] if text == "none" else [tuple(int(n) for n in size.split("x")) for size in text.split(",")]


def _spread(times: dict[str, list[float]], provider: str, base: str) -> dict:
    """The lowest and highest per-round speedup of ``provider`` over ``base`` (how much one comparison moves)."""
    ratios = [b / t for b, t in zip(times[base], times[provider], strict=True)]
    return dict(rounds=len(ratios), x_lo=min(ratios), x_hi=max(ratios))


def report(rows, providers, out_dir: pathlib.Path, gpu: str, title: str) -> None:
    base = providers[0]
    ref = {(r["op"], r["batch"], r["context"], r["next_n"]): r for r in rows if r["provider"] == base}
    head = "".join(f" | {p:>12s} us  x{base[:2]} (range)   " for p in providers)
    print("\ntimes: CUDA-graph replays, except where marked e (eager calls); medians of the rounds, the speedups'"
          " lowest-highest per round in brackets")
    print(f"{'paged  B x ctx   next_n':28s}{head} | meta us (per provider) | best GB/s  %copy")
    for key in [k for k in ref if k[0] == "paged"]:
        cells, metas, best = "", "", None
        for p in providers:
            r = next((r for r in rows if r["provider"] == p and
                      (r["op"], r["batch"], r["context"], r["next_n"]) == key), None)
            if r is None:
                cells += f" | {'-':>15s}{'':16s}"
                continue
            mark = "e" if r["timing"] == "eager" else " "
            spread = f"({r['x_lo']:.2f}-{r['x_hi']:.2f})" if p != base else ""
            cells += f" | {r['us']:12.1f}{mark}  {ref[key]['us'] / r['us']:4.2f} {spread:11s}"
            metas += f" {r['metadata_us']:5.1f}"
            if p != base and (best is None or r["us"] < best["us"]):
                best = r
        best = best or ref[key]
        print(f"paged {key[1]:4d} x {key[2]:6d}   {key[3]}      {cells} | {metas:22s} | {best['gb_s']:7.0f} "
              f"{best['pct_copy_bw']:5.1f}")
    print(f"\n{'ragged S x SKV':28s}" + "".join(f" | {p:>12s} TFLOPS" for p in providers))
    for key in [k for k in ref if k[0] == "ragged"]:
        cells = ""
        for p in providers:
            r = next((r for r in rows if r["provider"] == p and (r["op"], r["batch"], r["context"]) == key[:3]), None)
            cells += f" | {r['tflops']:19.0f}" if r else f" | {'-':>19s}"
        print(f"ragged {key[1]:5d} x {key[2]:6d}       {cells}")
    stem = results_stem("bench", gpu)
    plt = save_rows(rows, out_dir / f"{stem}.csv")
    if plt is None:
        return
    fig, axes = plt.subplots(1, 2, figsize=(14, 5), gridspec_kw={"width_ratios": [3, 1]})
    paged_keys = [k for k in ref if k[0] == "paged"]
    width = 0.8 / len(providers)
    for i, p in enumerate(providers):
        vals = [next((r["pct_copy_bw"] for r in rows if r["provider"] == p and
                      (r["op"], r["batch"], r["context"], r["next_n"]) == k), 0) for k in paged_keys]
        axes[0].bar([j + i * width for j in range(len(paged_keys))], vals, width, label=p)
        rk = [k for k in ref if k[0] == "ragged"]
        rv = [next((r["tflops"] for r in rows if r["provider"] == p and (r["op"], r["batch"], r["context"]) == k[:3]),
                   0) for k in rk]
        axes[1].bar([j + i * width for j in range(len(rk))], rv, width, label=p)
    axes[0].set_xticks([j + 0.4 - width / 2 for j in range(len(paged_keys))],
                       [f"{k[1]}x{k[2] // 1024}K\nn={k[3]}" for k in paged_keys], fontsize=8)
    axes[0].set_ylabel("% of measured copy bandwidth")
    axes[0].set_title("paged logits (H=64, D=128)")
    axes[0].legend()
    rk = [k for k in ref if k[0] == "ragged"]
    axes[1].set_xticks([j + 0.4 - width / 2 for j in range(len(rk))], [f"{k[1]}x{k[2] // 1024}K" for k in rk],
                       fontsize=8)
    axes[1].set_ylabel("TFLOPS")
    axes[1].set_title("ragged logits")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_dir / f"{stem}.png", dpi=110)
    print(f"wrote {out_dir / stem}.csv and .png")


if __name__ == "__main__":
    sys.exit(main())
