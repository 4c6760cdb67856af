"""Fixtures shared by both test tiers."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture(autouse=True)
def _fresh_launch_plans():
    """The launchers cache their plans (tiles, kernel variants) per call shape; tests replace the tables and the
    kernels they come from, so each test starts and ends without any."""

    def forget() -> None:
        for family in ("triton", "tilelang"):
            launch = sys.modules.get(f"sglang_sm120_dsa.{family}.launch")
            if launch is not None:
                launch.forget_plans()

    forget()
    yield
    forget()


@pytest.fixture
def family(monkeypatch):
    """``family("triton", mode)`` / ``family("tilelang", mode)`` / ``family("torch")``: route the public API through
    one implementation family (and its mode: Triton's FP8 operand path, ``portable`` for native FP8 without the SM90
    Gluon kernel, ``sm80``/``sm89``/``sm120`` for that arch's Triton program; TileLang's instruction set) for the
    rest of the test."""

    def use(name: str, mode: str = "auto") -> None:
        # (imported here, not at import: tests/cpu sets TRITON_INTERPRET before the package loads its kernels)
        from sglang_sm120_dsa.testing.families import family_env

        for key, value in family_env(name, mode).items():
            monkeypatch.setenv(key, value)

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
