"""Comparison metrics shared by tests, benchmarks and users (DeepGEMM's definitions)."""

from __future__ import annotations

import torch

__all__ = [
    "calc_diff",
    "topk_overlap",
    "count_bytes",
    "assert_bitwise_equal",
    "assert_close_to_exact",
    "assert_logits_match",
    "zero_masked",
]


def calc_diff(x: torch.Tensor, y: torch.Tensor, invalid: torch.Tensor | None = None) -> float:
    """``1 - 2 * sum(x * y) / sum(x^2 + y^2)`` in float64: 0 for identical tensors, ~1e-7 per part in 1e7 error.

    ``invalid`` (bool, broadcastable) leaves those entries out, e.g. the ``-inf`` columns of logits; any other
    non-finite input gives NaN, which fails every ``<`` threshold.
    """
    x, y = x.double(), y.double()
    if invalid is not None:
        x, y = zero_masked(x, invalid), zero_masked(y, invalid)
    denominator = (x * x + y * y).sum()
    if denominator == 0:
        return 0.0
    return float(1 - 2 * (x * y).sum() / denominator)


def topk_overlap(x: torch.Tensor, y: torch.Tensor, k: int) -> tuple[int, int]:
    """(members shared, members) of the per-row top-``k`` column sets of ``x`` and ``y`` (``[rows, cols]``, ``k``
    at most cols): how far the token selections of two indexers' logits agree."""
    chosen = torch.zeros_like(x, dtype=torch.bool).scatter_(1, x.topk(k, dim=1).indices, True)
    return int(chosen.gather(1, y.topk(k, dim=1).indices).sum()), k * x.shape[0]


def zero_masked(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Copy of ``x`` with the entries where ``mask`` is True set to 0 (for ``calc_diff`` over valid columns)."""
    return x.masked_fill(mask, 0)


def count_bytes(*tensors) -> int:
    """Total bytes of the tensors (tuples and lists are walked; None counts 0)."""
    total = 0
    for t in tensors:
        if isinstance(t, (tuple, list)):
            total += count_bytes(*t)
        elif t is not None:
            total += t.numel() * t.element_size()
    return total


def assert_bitwise_equal(x: torch.Tensor, y: torch.Tensor, what: str = "tensors") -> None:
    """Raise AssertionError naming the first differing element (index, coordinate, both values)."""
    if x.shape != y.shape or x.dtype != y.dtype:
        raise AssertionError(f"{what}: {x.dtype} {list(x.shape)} vs {y.dtype} {list(y.shape)}")
    int_type = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[x.element_size()]
    a, b = x.contiguous().view(int_type).flatten(), y.contiguous().view(int_type).flatten()
    diff = (a != b).nonzero()
    if diff.numel():
        i = int(diff[0])
        coord = tuple(int(c) for c in torch.unravel_index(torch.tensor(i), x.shape))
        raise AssertionError(f"{what}: {diff.numel()} of {a.numel()} elements differ; first at flat {i} {coord}: "
                             f"{x.flatten()[i].item()!r} vs {y.flatten()[i].item()!r}")


def assert_close_to_exact(out: torch.Tensor, exact: torch.Tensor, invalid: torch.Tensor, tol: float = 1e-9) -> None:
    """``out`` (fp32 or bf16) against float64 ``exact`` on the valid entries.

    fp32: ``calc_diff < tol``. bf16: every entry within one bf16 ulp of the exact value (a correctly rounded fp32
    result rounded again to bf16 can land one ulp from the exact value's own rounding), and ``calc_diff`` within
    bf16 precision.
    """
    valid_out = out.double().masked_fill(invalid, 0)
    valid_exact = exact.double().masked_fill(invalid, 0)
    if torch.isnan(valid_out).any():
        raise AssertionError(f"{int(torch.isnan(valid_out).sum())} NaN among the valid entries")
    if out.dtype == torch.bfloat16:
        ulp = torch.exp2(torch.floor(torch.log2(valid_exact.abs().clamp_min(1e-30))) - 7)
        worst = ((valid_out - valid_exact).abs() / ulp).max().item() if out.numel() else 0.0
        if worst > 1.0:
            raise AssertionError(f"bf16 logits {worst:.2f} ulp from the exact value (at most 1 allowed)")
        tol = 1e-5
    diff = calc_diff(valid_out, valid_exact)
    if not diff < tol:
        raise AssertionError(f"calc_diff {diff:.3e} >= {tol:.0e}")


def assert_logits_match(out: torch.Tensor, expected: torch.Tensor, *, clean: bool, tol: float = 1e-9) -> None:
    """The API's output contract against an oracle whose ``-inf`` marks the invalid entries: same shape,
    ``stride(1) == 1`` and a 1024-byte-aligned row stride, the exact ``-inf`` mask when ``clean``, and the valid
    entries close (:func:`assert_close_to_exact`)."""
    if out.shape != expected.shape:
        raise AssertionError(f"shape {list(out.shape)} != {list(expected.shape)}")
    if out.stride(1) != 1 or (out.stride(0) * out.element_size()) % 1024:
        raise AssertionError(f"strides {out.stride()} break the layout contract")
    invalid = (expected == float("-inf")).to(out.device)
    if clean and not torch.equal(out == float("-inf"), invalid):
        raise AssertionError(f"-inf mask differs in {int(((out == float('-inf')) != invalid).sum())} entries")
    assert_close_to_exact(out, expected.to(out.device), invalid, tol)
