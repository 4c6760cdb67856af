"""tilelang/launch.py without a GPU: the cached plans give each call the variant and launch sizes the tables give its
shapes, and a changed mode or table takes effect (kernels stubbed: they record their arguments)."""

from __future__ import annotations

import pytest
import torch

from sglang_sm120_dsa import dispatch
from sglang_sm120_dsa._checks import check_metadata
from sglang_sm120_dsa._checks import check_paged
from sglang_sm120_dsa._checks import check_ragged
from sglang_sm120_dsa.layout import ceil_div
from sglang_sm120_dsa.testing import make_paged_case
from sglang_sm120_dsa.testing import make_ragged_case
from sglang_sm120_dsa.tilelang import config
from sglang_sm120_dsa.tilelang import launch
from sglang_sm120_dsa.tilelang import variants


@pytest.fixture
def launched(monkeypatch):
    """Hopper (arch 90) and stub kernels; returns the list of (variant, arch, sm120 mode, scalar arguments) launched."""
    calls = []

    def jit(variant, arch, sm120):
        return lambda *args: calls.append((variant, arch, sm120, tuple(a for a in args if isinstance(a, int))))

    monkeypatch.setattr(dispatch, "capability", lambda device: (9, 0))
    monkeypatch.setattr(variants, "jit", jit)
    return calls


def _paged(batch: int, next_n: int, heads: int, dtype: torch.dtype = torch.float32):
    case = make_paged_case(batch, next_n, heads, 128, 64, avg_context=300, seed=batch, device="cpu")
    meta = torch.zeros((9, 2), dtype=torch.int32)
    call = check_paged("fp8_fp4_paged_mqa_logits", case.q, case.kv_cache, case.weights, case.context_lens,
                       case.block_table, meta, case.max_context_len, False, dtype, None, True)
    return call, torch.empty((call.rows, call.width), dtype=dtype)


def test_paged_plans_follow_the_shapes(launched, monkeypatch) -> None:
    monkeypatch.setenv("SGLANG_SM120_DSA_TILELANG_MODE", "sm120")
    for batch, next_n, heads, dtype in ((1, 1, 64, torch.float32), (40, 2, 32, torch.bfloat16), (3, 3, 16,
                                                                                                   torch.float32)):
        call, out = _paged(batch, next_n, heads, dtype)
        for _ in range(2):  # the second call takes the cached plan
            launch.paged_mqa_logits(call, out)
        sizes = config.paged_sizes(90, batch)
        rows = config.rows_per_block(heads, next_n)
        want = variants.paged_variant(heads, 128, rows, False, "bfloat16" if dtype == torch.bfloat16 else "float32",
                                      sizes)
        scalars = (batch, next_n, ceil_div(next_n, rows), ceil_div(call.width, sizes["split_kv"]), sizes["split_kv"])
        assert launched[-2] == launched[-1] and launched[-1][:3] == (want, 90, True), (launched[-1], want)
        assert launched[-1][3][:5] == scalars
    monkeypatch.setenv("SGLANG_SM120_DSA_TILELANG_MODE", "auto")  # the next call compiles for Hopper's own MMA
    launch.paged_mqa_logits(call, out)
    assert launched[-1][1:3] == (90, False)


def test_metadata_plan_takes_the_tables_split(launched, monkeypatch) -> None:
    lens = torch.tensor([5, 900, 70], dtype=torch.int32)
    launch.get_paged_mqa_logits_metadata(check_metadata(lens, 64, 8, None))
    assert launched[-1][0] == variants.METADATA
    assert launched[-1][3] == (3, 1, 8, config.paged_sizes(90, 3)["split_kv"])
    table = {"batch": {"inf": {"split_kv": 1024}}}
    monkeypatch.setattr(config, "table", lambda op, arch: table)
    launch.forget_plans()  # (tables change only in tests and tuning, which drop the plans)
    launch.get_paged_mqa_logits_metadata(check_metadata(lens, 64, 8, None))
    assert launched[-1][3][-1] == 1024


def test_ragged_plans_go_by_the_tables_bucket(launched, monkeypatch) -> None:
    """Token counts in one bucket share a plan; each takes its bucket's chunk, the same as a lookup by length."""
    table = {"tokens": {"100000": {"chunk": 512}, "2000000": {"chunk": 1024}, "inf": {"chunk": 4096}}}
    monkeypatch.setattr(config, "table", lambda op, arch: table)
    for seq_len, seq_len_kv in ((64, 256), (512, 2048), (4096, 4096)):
        case = make_ragged_case(seq_len, seq_len_kv, 64, 128, seed=seq_len, device="cpu")
        call = check_ragged("fp8_mqa_logits", case.q, case.kv, case.weights, case.ks, case.ke, False, 0,
                            torch.float32, None, False)
        launch.mqa_logits(call, torch.empty((seq_len, seq_len_kv)))
        sizes = config.ragged_sizes(90, seq_len * seq_len_kv)
        assert launched[-1][0] == variants.ragged_variant(64, 128, False, "float32", sizes)
        assert launched[-1][3][0] == ceil_div(seq_len_kv, sizes["chunk"])
    assert [c[0].get("CHUNK") for c in launched] == [512, 1024, 4096]
    assert launch._ragged_plan.cache_info().currsize == 3
