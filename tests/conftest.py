"""Fixtures shared by both test tiers."""

from __future__ import annotations

import pytest


@pytest.fixture
def family(monkeypatch):
    """``family("triton", mode)`` / ``family("tilelang", mode)`` / ``family("torch")``: route the public API through
    one implementation family (and its mode: Triton's FP8 operand path, TileLang's instruction set) for the rest
    of the test."""

    def use(name: str, mode: str = "auto") -> None:
        monkeypatch.setenv("SGLANG_SM120_DSA_IMPL", name)
        monkeypatch.setenv("SGLANG_SM120_DSA_TRITON_FP8", mode if name == "triton" else "auto")
        monkeypatch.setenv("SGLANG_SM120_DSA_TILELANG_MODE", mode if name == "tilelang" else "auto")

    return use
