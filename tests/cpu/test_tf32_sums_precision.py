"""scripts/tf32_sums_precision.py: its tf32 conversions drop or round the 13 low mantissa bits, and on a small case
its emulated forms land where their arithmetic puts them (the FFMA form at fp32 rounding of the oracle, the tf32
form orders above it, rounding to nearest closer than truncation)."""

from __future__ import annotations

import pathlib
import sys

import pytest
import torch

sys.path.insert(0, str(pathlib.Path(__file__).parents[2] / "scripts"))
precision = pytest.importorskip("tf32_sums_precision")


def test_tf32_conversions() -> None:
    x = torch.tensor([1 + 2**-10 + 2**-11, -(1 + 2**-10 + 2**-11), 1 + 2**-10 + 2**-12, 3.0])
    assert precision.truncate_tf32(x).tolist() == [1 + 2**-10, -(1 + 2**-10), 1 + 2**-10, 3.0]
    assert precision.round_tf32(x).tolist() == [1 + 2**-9, -(1 + 2**-9), 1 + 2**-10, 3.0]


def test_emulated_forms_on_a_small_case() -> None:
    result = precision.measure(2, 2048, 2)
    assert set(result) == {"ffma", "tf32", "rna"}
    assert result["ffma"][0] < 1e-12 and result["ffma"][1] == 1.0, result
    assert 1e-9 < result["tf32"][0] < 1e-6, result
    assert result["rna"][0] < result["tf32"][0], result
    assert 0.99 < result["tf32"][1] <= 1.0, result
