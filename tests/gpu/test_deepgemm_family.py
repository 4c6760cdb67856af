"""The deepgemm family and the routed ``deep_gemm`` module on SM90 with the real DeepGEMM.

What the SGLang plugin does to ``deep_gemm`` (its indexer functions become this package's ops) is done here to
the real module, then SGLang-style calls go through it, eagerly and inside a CUDA graph, and are compared with
DeepGEMM's original functions on the same inputs: bitwise under ``auto`` (which must pick DeepGEMM after its
self-check), calc_diff < 5e-6 with the Triton family forced.
"""

from __future__ import annotations

import pytest
import torch

import sglang_sm120_dsa as dsa
from sglang_sm120_dsa import dispatch
from sglang_sm120_dsa.deepgemm import ROUTED_MARK
from sglang_sm120_dsa.deepgemm import as_torch
from sglang_sm120_dsa.deepgemm import originals
from sglang_sm120_dsa.errors import UnsupportedCall
from sglang_sm120_dsa.testing import calc_diff
from sglang_sm120_dsa.testing import make_paged_case
from sglang_sm120_dsa.testing import make_ragged_case
from sglang_sm120_dsa.testing.bench import capture

NEG_INF = float("-inf")


@pytest.fixture
def auto(monkeypatch):
    monkeypatch.delenv("SGLANG_SM120_DSA_IMPL", raising=False)
    dispatch._decide.cache_clear()
    yield
    dispatch._decide.cache_clear()


@pytest.fixture
def routed(deep_gemm, monkeypatch):
    """The real deep_gemm module with its indexer functions routed, as in an SGLang process; restored after."""
    from sglang_sm120_dsa.sglang import routing

    real = originals()
    for op in routing.DEEP_GEMM_OPS:
        monkeypatch.setattr(deep_gemm, op, getattr(deep_gemm, op))  # restored at teardown
    routing._route_deep_gemm()
    assert all(getattr(getattr(deep_gemm, op), ROUTED_MARK) is real[op] for op in routing.DEEP_GEMM_OPS)
    return deep_gemm, real


def test_auto_picks_deepgemm_after_its_self_check(deep_gemm, auto) -> None:
    device = torch.device("cuda", torch.cuda.current_device())
    assert dispatch._deepgemm_checked(device) is None
    decision = dsa.decide(device)
    assert {c.impl for c in decision.choices.values()} == {"deepgemm"}, decision.summary()


@pytest.mark.parametrize("next_n,heads", [(1, 64), (2, 32), (1, 32)])
def test_routed_paged_equals_deepgemm_in_a_graph(routed, auto, next_n, heads) -> None:
    module, real = routed
    case = make_paged_case(16, next_n, heads, 128, 64, avg_context=3000, device="cuda", seed=next_n + heads)
    num_sms = torch.cuda.get_device_properties(0).multi_processor_count
    theirs_meta = as_torch(real["get_paged_mqa_logits_metadata"](case.context_lens, 64, num_sms))
    meta = module.get_paged_mqa_logits_metadata(case.context_lens, 64, num_sms)
    assert torch.equal(meta, theirs_meta)
    args = (case.kv_cache, case.weights, case.context_lens, case.block_table, meta, case.max_context_len, False)
    theirs = as_torch(real["fp8_paged_mqa_logits"](case.q, *args))
    eager = module.fp8_paged_mqa_logits(case.q, *args)
    valid = torch.arange(case.max_context_len, device="cuda")[None, :] < case.context_lens.reshape(-1, 1)
    assert eager.stride() == theirs.stride() and torch.equal(eager[valid], theirs[valid])  # the rest: unspecified

    graph, captured = capture(lambda: module.fp8_paged_mqa_logits(case.q, *args))
    captured.fill_(123.0)
    graph.replay()
    torch.cuda.synchronize()
    assert torch.equal(captured[valid], theirs[valid])


def test_routed_ragged_equals_deepgemm_and_cleans(routed, auto) -> None:
    module, real = routed
    case = make_ragged_case(512, 4096, 64, 128, device="cuda")
    theirs = as_torch(real["fp8_mqa_logits"](case.q, case.kv, case.weights, case.ks, case.ke, False))
    ours = module.fp8_mqa_logits(case.q, case.kv, case.weights, case.ks, case.ke, False)
    cols = torch.arange(4096, device="cuda")[None, :]
    outside = (cols < case.ks[:, None]) | (cols >= case.ke[:, None])
    assert ours.stride() == theirs.stride() and torch.equal(ours[~outside], theirs[~outside])  # outside: unspecified
    clean = module.fp8_mqa_logits(case.q, case.kv, case.weights, case.ks, case.ke, True)
    assert torch.equal(clean == NEG_INF, outside)
    assert torch.equal(clean[~outside], theirs[~outside])


def test_triton_forced_through_routed_deep_gemm(routed, monkeypatch) -> None:
    """What SGLang on an SM80/89 GPU runs (Triton behind deep_gemm's names), here against DeepGEMM itself."""
    module, real = routed
    monkeypatch.setenv("SGLANG_SM120_DSA_IMPL", "triton")
    case = make_paged_case(8, 1, 64, 128, 64, avg_context=5000, device="cuda")
    lens = case.context_lens.reshape(-1, 1)
    num_sms = torch.cuda.get_device_properties(0).multi_processor_count
    theirs = as_torch(real["fp8_paged_mqa_logits"](
        case.q, case.kv_cache, case.weights, lens, case.block_table,
        as_torch(real["get_paged_mqa_logits_metadata"](lens, 64, num_sms)), case.max_context_len, False))
    meta = module.get_paged_mqa_logits_metadata(lens, 64, num_sms)
    ours = module.fp8_paged_mqa_logits(case.q, case.kv_cache, case.weights, lens, case.block_table, meta,
                                       case.max_context_len, False)
    invalid = torch.arange(case.max_context_len, device="cuda")[None, :] >= lens
    assert calc_diff(ours, theirs, invalid) < 5e-6


def test_sm90_limits_are_refused_clearly(deep_gemm, auto) -> None:
    case = make_paged_case(2, 1, 16, 128, 64, avg_context=300, device="cuda")
    meta = dsa.get_paged_mqa_logits_metadata(case.context_lens, 64, 8)
    with pytest.raises(UnsupportedCall, match=r"fp8_paged_mqa_logits: DeepGEMM on SM90 \(the deepgemm family\) "
                       r"does not support 16 heads \(only \(32, 64\)\); set SGLANG_SM120_DSA_IMPL=triton"):
        dsa.fp8_paged_mqa_logits(case.q, case.kv_cache, case.weights, case.context_lens, case.block_table, meta,
                                 case.max_context_len)
    case = make_paged_case(2, 1, 64, 128, 64, avg_context=300, device="cuda")
    with pytest.raises(UnsupportedCall, match=r"does not support a schedule_meta made for 8 workers \(it schedules "
                       r"for deep_gemm.get_num_sms\(\) = \d+\)"):
        dsa.fp8_paged_mqa_logits(case.q, case.kv_cache, case.weights, case.context_lens, case.block_table, meta,
                                 case.max_context_len)


def test_one_dimensional_lens_become_a_view(deep_gemm, auto) -> None:
    case = make_paged_case(4, 1, 64, 128, 64, avg_context=2000, lens_2d=False, device="cuda")
    meta = dsa.get_paged_mqa_logits_metadata(case.context_lens, 64, dsa.get_num_sms())
    ours = dsa.fp8_paged_mqa_logits(case.q, case.kv_cache, case.weights, case.context_lens, case.block_table, meta,
                                    case.max_context_len, True)
    invalid = torch.arange(case.max_context_len, device="cuda")[None, :] >= case.context_lens[:, None]
    assert torch.equal(ours == NEG_INF, invalid)


@pytest.mark.parametrize("impl", ["auto", "triton"])
def test_plugin_backend_hook_decides_and_warms_up(deep_gemm, monkeypatch, caplog, impl) -> None:
    """What the plugin runs after SGLang builds the attention backends (before graph capture), with a stand-in for
    SGLang's model runner: one decision line, then every variant for the model's indexer heads compiled."""
    import logging
    import types

    from sglang_sm120_dsa.sglang import routing

    monkeypatch.setenv("SGLANG_SM120_DSA_IMPL", impl)
    dispatch._decide.cache_clear()
    monkeypatch.setattr(routing, "_warmed", set())
    hf_config = types.SimpleNamespace(index_n_heads=64)
    runner = types.SimpleNamespace(model_config=types.SimpleNamespace(hf_config=hf_config))
    with caplog.at_level(logging.INFO, logger="sglang_sm120_dsa"):
        routing._after_backends_built(None, runner)
        routing._after_backends_built(None, runner)  # a draft runner: nothing again
    lines = [r.getMessage() for r in caplog.records if r.name == "sglang_sm120_dsa.sglang"]
    family = "deepgemm" if impl == "auto" else "triton"
    assert sum(f"all ops -> {family}" in line for line in lines) == 1, lines
    ready = [line for line in lines if "kernel variants ready for 64 heads" in line]
    assert len(ready) == 1 and (ready[0].startswith("sglang-sm120-dsa: 0 ") == (family == "deepgemm")), ready
    dispatch._decide.cache_clear()
