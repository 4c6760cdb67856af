"""The comparison helpers themselves: they must be able to fail."""

from __future__ import annotations

import pytest
import torch

from sglang_sm120_dsa.testing import assert_bitwise_equal
from sglang_sm120_dsa.testing import assert_close_to_exact
from sglang_sm120_dsa.testing import calc_diff
from sglang_sm120_dsa.testing import count_bytes
from sglang_sm120_dsa.testing import topk_overlap


def test_calc_diff() -> None:
    x = torch.randn(1000, dtype=torch.float64)
    assert calc_diff(x, x) == 0.0
    assert calc_diff(torch.zeros(3), torch.zeros(3)) == 0.0
    assert abs(calc_diff(x, -x) - 2.0) < 1e-12
    assert 1e-7 < calc_diff(x, x * (1 + 1e-3)) < 1e-6


def test_topk_overlap() -> None:
    x = torch.tensor([[5.0, 4.0, 3.0, 2.0, 1.0], [1.0, 2.0, 3.0, 4.0, 5.0]])
    assert topk_overlap(x, x, 2) == (4, 4)
    y = torch.tensor([[5.0, 1.0, 9.0, 2.0, 0.0], [9.0, 0.0, 3.0, 1.0, 5.0]])  # rows share {0}, then {4}
    assert topk_overlap(x, y, 2) == (2, 4)
    assert topk_overlap(x, -x, 2) == (0, 4)


def test_assert_bitwise_equal_reports_the_first_difference() -> None:
    x = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    y = x.clone()
    assert_bitwise_equal(x, y)
    y[1, 2] = -0.0 + y[1, 2] + 1e-6
    with pytest.raises(AssertionError, match=r"1 of 12 elements differ; first at flat 6 \(1, 2\)"):
        assert_bitwise_equal(x, y)
    with pytest.raises(AssertionError, match="float32"):
        assert_bitwise_equal(x, y.double())
    zero, negative_zero = torch.zeros(1), -torch.zeros(1)
    with pytest.raises(AssertionError):
        assert_bitwise_equal(zero, negative_zero)  # bits, not values


def test_assert_close_to_exact() -> None:
    exact = torch.randn(64, 64, dtype=torch.float64) * 50
    invalid = torch.zeros(64, 64, dtype=torch.bool)
    invalid[:, 60:] = True
    assert_close_to_exact(exact.float(), exact, invalid)
    assert_close_to_exact(exact.to(torch.bfloat16), exact, invalid)
    with pytest.raises(AssertionError, match="calc_diff"):
        assert_close_to_exact((exact * (1 + 1e-4)).float(), exact, invalid)
    two_ulp = exact.clone()
    two_ulp[3, 3] = exact[3, 3] * (1 + 2.0**-6)  # about two bf16 ulps away
    with pytest.raises(AssertionError, match="ulp"):
        assert_close_to_exact(two_ulp.to(torch.bfloat16), exact, invalid)
    nan = exact.float()
    nan[0, 0] = float("nan")
    with pytest.raises(AssertionError, match="NaN"):
        assert_close_to_exact(nan, exact, invalid)
    nan_masked = exact.float()
    nan_masked[0, 61] = float("nan")  # not compared
    assert_close_to_exact(nan_masked.masked_fill(invalid, 0), exact, invalid)


def test_count_bytes() -> None:
    tensors = (torch.zeros(4), (torch.zeros(2, dtype=torch.int8), None), [torch.zeros(3, dtype=torch.int64)])
    assert count_bytes(*tensors) == 16 + 2 + 24
