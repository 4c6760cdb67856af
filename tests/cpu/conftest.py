"""Fixtures shared by the CPU tests. The Triton kernels run under the interpreter here."""

from __future__ import annotations

import os

os.environ.setdefault("TRITON_INTERPRET", "1")  # before anything imports the kernels
os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from sglang_sm120_dsa import ops  # noqa: E402


@pytest.fixture
def poisoned_logits(monkeypatch) -> list[tuple[torch.Tensor, int]]:
    """Make the API allocate its logits buffers NaN-filled; yields the (whole buffer, returned width) list, so a
    test can check that every returned element was written and that nothing past the width was touched."""
    buffers: list[tuple[torch.Tensor, int]] = []

    def poisoned(rows, width, row_stride, dtype, device):
        buf = torch.full((rows, row_stride), float("nan"), dtype=dtype, device=device)
        buffers.append((buf, width))
        return buf[:, :width]

    monkeypatch.setattr(ops, "new_logits", poisoned)
    return buffers
