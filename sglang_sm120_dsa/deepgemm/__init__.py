"""The ``deepgemm`` family: DeepGEMM's own kernels (sgl-deep-gemm) behind this package's API.

``auto`` prefers it on SM90 and SM100/103, where DeepGEMM ships the indexer, once it imports and passes
:func:`self_check` on the device. The family passes DeepGEMM the same arguments a caller of ``deep_gemm`` would
and returns DeepGEMM's tensors (no copy), so DeepGEMM's limits apply; the ones DeepGEMM would not name clearly
on SM90 (heads, page size, next_n, MXFP4, varlen) are checked here first and raise with a pointer to
``SGLANG_SM120_DSA_IMPL=triton``. What the adapter adds: 1-D ``context_lens`` become ``[B, 1]`` views (next_n 1),
non-contiguous ``weights`` are made contiguous (DeepGEMM's SM90 TMA descriptor assumes a row stride of H), and
``clean_logits`` is applied afterwards with a mask, because DeepGEMM's paged clean is not usable on SM90.

The SGLang plugin replaces ``deep_gemm``'s functions by this package's ops; :func:`originals` keeps the real ones.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from .._checks import MetadataCall
from .._checks import PagedCall
from .._checks import RaggedCall
from .._checks import check_metadata
from .._checks import check_paged
from .._checks import check_ragged
from ..dispatch import capability
from ..dispatch import family_ops
from ..errors import UnsupportedCall
from ..layout import paged_logits_row_stride
from ..layout import ragged_logits_row_stride

__all__ = ["OPS", "ROUTED_MARK", "as_torch", "originals", "self_check", "unsupported_arch"]

ROUTED_MARK = "_sglang_sm120_dsa_original"  # attribute of a routed deep_gemm function: the function it replaced
_NAMES = ("get_num_sms", "get_paged_mqa_logits_metadata", "fp8_paged_mqa_logits", "fp8_fp4_paged_mqa_logits",
          "fp8_mqa_logits", "fp8_fp4_mqa_logits")
_SM90_HEADS = (32, 64)
_SM90_MAX_NEXT_N = 2
_HINT = "set SGLANG_SM120_DSA_IMPL=triton for the Triton kernels, which take the whole contract"


@functools.cache
def originals() -> dict[str, Callable]:
    """DeepGEMM's indexer functions as they were before any routing (raises ImportError without deep_gemm)."""
    import deep_gemm

    if getattr(deep_gemm, "__sglang_sm120_dsa_stand_in__", False):
        raise ImportError("deep_gemm is not installed (the SGLang plugin's indexer-only stand-in is in its place)")
    found = {}
    for name in _NAMES:
        fn = getattr(deep_gemm, name, None)
        fn = getattr(fn, ROUTED_MARK, fn)
        if fn is not None:
            found[name] = fn
    return found


def unsupported_arch(major: int) -> str | None:
    if major in (9, 10):
        return None
    if major == 12:  # the SGLang wheel has SM120 kernels, with reported races and wrong FP4 results (DeepGEMM #392)
        return "this family serves SM90 and SM100/103 only: DeepGEMM's SM120 indexer is not trusted here"
    return "DeepGEMM has no indexer kernels for this GPU (SM90 and SM100/103 only)"


def _refuse(fn: str, what: str) -> UnsupportedCall:
    return UnsupportedCall(f"{fn}: DeepGEMM on SM90 (the deepgemm family) does not support {what}; {_HINT}")


def as_torch(x) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.from_dlpack(x)  # tvm-ffi builds return DLPack tensors


def _with_row_stride(out: torch.Tensor, row_stride: int) -> torch.Tensor:
    """DLPack rewrites the row stride of a one-row result; restore the layout DeepGEMM allocated."""
    if out.shape[0] == 1 and out.stride(0) != row_stride:
        return out.as_strided(out.shape, (row_stride, 1))
    return out


def _mask_outside(out: torch.Tensor, lo: torch.Tensor | None, hi: torch.Tensor) -> torch.Tensor:
    """``-inf`` where column < lo or >= hi (per row); shapes only, no host sync."""
    cols = torch.arange(out.shape[1], device=out.device, dtype=torch.int32)[None, :]
    outside = cols >= hi.reshape(-1, 1)
    if lo is not None:
        outside |= cols < lo.reshape(-1, 1)
    return out.masked_fill_(outside, float("-inf"))


def _lens_2d(lens: torch.Tensor) -> torch.Tensor:
    return lens if lens.dim() == 2 else lens.view(-1, 1)


def _check(fn: str, call: MetadataCall | PagedCall | RaggedCall) -> None:
    """Refuse, by shapes only, what DeepGEMM does not take (or, on SM90, would not name clearly)."""
    paged = not isinstance(call, RaggedCall)
    limits = [(paged and not call.lens_2d and call.next_n > 1, "1-D context_lens with next_n > 1")]
    device = call.context_lens.device if isinstance(call, MetadataCall) else call.q.device
    if capability(device)[0] == 9:
        if not isinstance(call, MetadataCall):
            limits += [(call.is_fp4, "MXFP4 operands"),
                       (call.num_heads not in _SM90_HEADS, f"{call.num_heads} heads (only {_SM90_HEADS})")]
        if paged:
            limits += [(call.block_kv != 64, f"block_kv={call.block_kv} (only 64)"),
                       (call.indices is not None, "varlen indices")]
        if isinstance(call, PagedCall):
            workers, theirs = call.schedule_meta.shape[0] - 1, originals()["get_num_sms"]()
            limits += [(call.next_n > _SM90_MAX_NEXT_N, f"next_n={call.next_n} (at most {_SM90_MAX_NEXT_N})"),
                       (workers != theirs, f"a schedule_meta made for {workers} workers (it schedules for "
                                           f"deep_gemm.get_num_sms() = {theirs})")]
    for broken, what in limits:
        if broken:
            raise _refuse(fn, what)


def get_paged_mqa_logits_metadata(call: MetadataCall) -> torch.Tensor:
    _check("get_paged_mqa_logits_metadata", call)
    return as_torch(originals()["get_paged_mqa_logits_metadata"](_lens_2d(call.context_lens), call.block_kv,
                                                                   call.num_sms))


def paged_mqa_logits(call: PagedCall) -> torch.Tensor:
    fn = "fp8_fp4_paged_mqa_logits" if call.is_fp4 or call.logits_dtype != torch.float32 else "fp8_paged_mqa_logits"
    _check(fn, call)
    lens = _lens_2d(call.context_lens)
    args = (call.kv_cache, call.weights.contiguous(), lens, call.block_table, call.schedule_meta, call.width, False)
    if fn == "fp8_paged_mqa_logits":
        out = originals()[fn](call.q, *args)
    else:
        out = originals()[fn]((call.q, call.q_sf), *args, logits_dtype=call.logits_dtype)
    out = _with_row_stride(as_torch(out), paged_logits_row_stride(call.width, call.logits_dtype))
    return _mask_outside(out, None, lens) if call.clean_logits else out


def mqa_logits(call: RaggedCall) -> torch.Tensor:
    fn = "fp8_fp4_mqa_logits" if call.is_fp4 or call.logits_dtype != torch.float32 else "fp8_mqa_logits"
    _check(fn, call)
    args = (call.weights.contiguous(), call.ks, call.ke, False, call.max_seqlen_k)
    if fn == "fp8_mqa_logits":
        out = originals()[fn](call.q, (call.kv, call.kv_sf), *args)
    else:
        out = originals()[fn]((call.q, call.q_sf), (call.kv, call.kv_sf), *args, logits_dtype=call.logits_dtype)
    stride = ragged_logits_row_stride(call.seq_len_kv, call.max_seqlen_k, call.logits_dtype)
    out = _with_row_stride(as_torch(out), stride)
    if not call.clean_logits:
        return out
    if call.max_seqlen_k > 0:  # column j holds key ks + j
        return _mask_outside(out, None, call.ke - call.ks)
    return _mask_outside(out, call.ks, call.ke)


OPS = family_ops(get_paged_mqa_logits_metadata, paged_mqa_logits, mqa_logits)


def self_check(device: torch.device) -> str | None:
    """Run DeepGEMM once on small paged and ragged FP8 cases and compare with the reference; the problem, or None.

    Runs kernels: call it outside CUDA-graph capture (the dispatcher decides before any op runs in a graph)."""
    from .. import reference
    from ..layout import new_logits
    from ..testing.cases import make_paged_case
    from ..testing.cases import make_ragged_case
    from ..testing.numeric import calc_diff

    tolerance = 5e-6  # vs the dequantized reference; DeepGEMM measures ~2e-7 on H200
    try:
        case = make_paged_case(2, 1, 64, 128, 64, context_lens=[300, 1000], device=device)
        num_sms = torch.cuda.get_device_properties(device).multi_processor_count
        meta_call = check_metadata(case.context_lens, 64, num_sms, None)
        call = check_paged("self_check", case.q, case.kv_cache, case.weights, case.context_lens, case.block_table,
                           get_paged_mqa_logits_metadata(meta_call), case.max_context_len, True, torch.float32,
                           None, False)
        ours = paged_mqa_logits(call)
        ref = new_logits(call.rows, call.width, paged_logits_row_stride(call.width, torch.float32), torch.float32,
                         device)
        reference.OPS["fp8_paged_mqa_logits"](call, ref)
        checks = [("paged", ours, ref)]
        rcase = make_ragged_case(64, 512, 64, 128, device=device)
        rcall = check_ragged("self_check", rcase.q, rcase.kv, rcase.weights, rcase.ks, rcase.ke, True, 0,
                             torch.float32, None, False)
        rref = new_logits(64, 512, ragged_logits_row_stride(512, 0, torch.float32), torch.float32, device)
        reference.OPS["fp8_mqa_logits"](rcall, rref)
        checks.append(("ragged", mqa_logits(rcall), rref))
    except Exception as e:  # an import or launch failure is a failed check, reported with its cause
        return f"self-check raised {type(e).__name__}: {e}"
    for name, got, want in checks:
        masks_differ = not torch.equal(torch.isneginf(got), torch.isneginf(want))
        diff = calc_diff(got, want, torch.isneginf(want))
        if masks_differ or not diff < tolerance:
            return f"self-check failed on the {name} case (calc_diff {diff:.2e}, -inf masks equal: {not masks_differ})"
    return None
