"""Fixtures shared by the CPU tests."""

from __future__ import annotations

import pytest
import torch

from sglang_sm120_dsa import ops


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
