"""Time one checkout's Triton kernels against DeepGEMM on the same inputs, in one process (scripts/ab_checkouts.sh
runs it for two checkouts, so that a change is measured against its base on the same GPU, Triton and inputs).

    python scripts/ab_kernels.py ragged MODES SIZES TAG   # SIZES: S x SKV [x H], e.g. 2048x8192,8192x65536x32
    python scripts/ab_kernels.py paged MODES CASES TAG    # CASES: batch x context x next_n [x H], e.g. 64x65536x2

MODES: comma-separated Triton modes of testing.families.family_env ("" or auto, native, bytes, portable, sm80,
sm86, sm89, sm120); a trailing "fp4" runs the MXFP4 op (no DeepGEMM beside it). Prints µs, TFLOPS (ragged) and
DeepGEMM's time on the valid columns' logits (calc_diff, -inf masks); asserts that a rerun gives the same valid logits
bitwise.
"""

from __future__ import annotations

import os
import sys

import torch
import triton

import sglang_sm120_dsa as dsa
from sglang_sm120_dsa.testing import make_paged_case
from sglang_sm120_dsa.testing.bench import timed
from sglang_sm120_dsa.testing.cases import make_ragged_case
from sglang_sm120_dsa.testing.families import family_env
from sglang_sm120_dsa.testing.numeric import calc_diff


def use(mode: str) -> None:
    for name in [k for k in os.environ if k.startswith("SGLANG_SM120_DSA_")]:
        del os.environ[name]
    os.environ.update(family_env("triton", mode or "auto"))


def compare(tag: str, label: str, fn, valid: torch.Tensor, ref_fn, flops: float = 0.0) -> None:
    out = torch.where(valid, fn(), 0)
    assert torch.equal(out, torch.where(valid, fn(), 0)), f"{label}: a rerun changed the logits"
    t = timed(fn)[0]
    line = f"{tag} triton {triton.__version__} {label}: {t * 1e6:9.1f} us"
    if flops:
        line += f" {flops / t / 1e12:6.1f} TF"
    if ref_fn is not None:
        ref = torch.where(valid, ref_fn(), 0)
        tg = timed(ref_fn)[0]
        line += (f" | DeepGEMM {tg * 1e6:9.1f} us, x{tg / t:.3f}, calc_diff {calc_diff(out, ref):.1e},"
                 f" masks equal {torch.equal(torch.isinf(out), torch.isinf(ref))}")
    print(line, flush=True)


def ragged_case(tag: str, mode: str, s: int, skv: int, deep_gemm, heads: int = 64) -> None:
    fp4 = mode.endswith("fp4")
    case = make_ragged_case(s, skv, heads, 128, seed=s, fp4=fp4, device="cuda")
    op = dsa.fp8_fp4_mqa_logits if fp4 else dsa.fp8_mqa_logits
    args = (case.q, case.kv, case.weights, case.ks, case.ke, False)
    cols = torch.arange(op(*args).shape[1], device="cuda")
    valid = (cols[None, :] >= case.ks[:, None]) & (cols[None, :] < case.ke[:, None])
    flops = 2 * heads * 128 * float((case.ke - case.ks).clamp(min=0).sum())
    compare(tag, f"{mode or 'auto':8s} {s}x{skv}" + (f" H={heads}" if heads != 64 else ""), lambda: op(*args), valid,
            None if fp4 else lambda: deep_gemm.fp8_mqa_logits(*args), flops)


def paged_case(tag: str, mode: str, batch: int, ctx: int, next_n: int, deep_gemm, heads: int = 64) -> None:
    # (testing.benchmark_paged_case's inputs, spelled out: the base checkouts this runs against may predate it)
    fp4 = mode.endswith("fp4")
    case = make_paged_case(batch, next_n, heads, 128, 64, avg_context=ctx, fp4=fp4, seed=batch + ctx, poison=False,
                           device="cuda")
    args = (case.q, case.kv_cache, case.weights, case.context_lens, case.block_table)
    op = dsa.fp8_fp4_paged_mqa_logits if fp4 else dsa.fp8_paged_mqa_logits
    meta = dsa.get_paged_mqa_logits_metadata(case.context_lens, 64, dsa.get_num_sms())
    width = op(*args, meta, case.max_context_len, False).shape[1]
    valid = torch.arange(width, device="cuda")[None, :] < case.context_lens.reshape(-1, 1).to(torch.int64)
    reference = None  # (DeepGEMM 0.1.4.post1 has no MXFP4 op)
    if not fp4:
        dmeta = deep_gemm.get_paged_mqa_logits_metadata(case.context_lens, 64, deep_gemm.get_num_sms())
        reference = lambda: deep_gemm.fp8_paged_mqa_logits(*args, dmeta, case.max_context_len, False)  # noqa: E731
    compare(tag, f"{mode or 'auto':8s} {batch}x{ctx} n{next_n}" + (f" H={heads}" if heads != 64 else ""),
            lambda: op(*args, meta, case.max_context_len, False), valid, reference)


def main() -> None:
    kernel, modes, shapes, tag = sys.argv[1:5]
    import deep_gemm

    for mode in modes.split(","):
        use(mode[:-3] if mode.endswith("fp4") else mode)
        for shape in shapes.split(","):
            dims = [int(x) for x in shape.split("x")]
            if kernel == "ragged":
                ragged_case(tag, mode, *dims[:2], deep_gemm, *dims[2:])
            else:
                paged_case(tag, mode, *dims[:3], deep_gemm, *dims[3:])
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
