"""Fixtures shared by both test tiers."""

from __future__ import annotations

import pytest


@pytest.fixture
def family(monkeypatch):
    """``family("triton", mode)`` / ``family("torch")``: route the public API through one implementation family
    (and, for Triton, one FP8 operand mode) for the rest of the test."""

    def use(name: str, mode: str = "auto") -> None:
        monkeypatch.setenv("SGLANG_SM120_DSA_IMPL", name)
        monkeypatch.setenv("SGLANG_SM120_DSA_TRITON_FP8", mode)

    return use
