"""Fixtures shared by both test tiers."""

from __future__ import annotations

import pytest


@pytest.fixture
def family(monkeypatch):
    """``family("triton", mode)`` / ``family("tilelang", mode)`` / ``family("torch")``: route the public API through
    one implementation family (and its mode: Triton's FP8 operand path, ``portable`` for native FP8 without the SM90
    Gluon kernel, ``sm80``/``sm89``/``sm120`` for that arch's Triton program; TileLang's instruction set) for the
    rest of the test."""

    def use(name: str, mode: str = "auto") -> None:
        monkeypatch.setenv("SGLANG_SM120_DSA_IMPL", name)
        portable = name == "triton" and mode == "portable"
        emulated = name == "triton" and mode.startswith("sm")  # another arch's program (TRITON_ARCH)
        monkeypatch.setenv("SGLANG_SM120_DSA_TRITON_SM90", "off" if portable else "auto")
        monkeypatch.setenv("SGLANG_SM120_DSA_TRITON_ARCH", mode if emulated else "auto")
        fp8 = "native" if portable else mode if name == "triton" and not emulated else "auto"
        monkeypatch.setenv("SGLANG_SM120_DSA_TRITON_FP8", fp8)
        monkeypatch.setenv("SGLANG_SM120_DSA_TILELANG_MODE", mode if name == "tilelang" else "auto")

    return use


@pytest.fixture
def guarded_logits(monkeypatch):
    """Make the API allocate its logits inside a NaN-filled buffer with a guard row above and below and guard
    columns past the row; returns ``check(what)``, which asserts that the last call wrote nothing outside its
    logits (the values written inside are not checked)."""
    import torch

    from sglang_sm120_dsa import ops  # here, not at import: tests/cpu sets TRITON_INTERPRET before the kernels load

    guards = []

    def guarded(rows, width, row_stride, dtype, device):
        buf = torch.full((rows + 2, row_stride + 64), float("nan"), dtype=dtype, device=device)
        guards.append((buf, rows, width))
        return buf[1:rows + 1, :width]

    def check(what: str = "") -> None:
        buf, rows, width = guards[-1]
        inside = torch.zeros_like(buf, dtype=torch.bool)
        inside[1:rows + 1, :width] = True
        assert torch.isnan(buf[~inside]).all(), f"{what}: wrote outside the logits"

    monkeypatch.setattr(ops, "new_logits", guarded)
    return check
