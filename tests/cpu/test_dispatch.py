"""Implementation selection: the registry, SGLANG_SM120_DSA_IMPL and auto on CPU tensors."""

from __future__ import annotations

import logging

import pytest
import torch

import sglang_sm120_dsa as dsa
from sglang_sm120_dsa import dispatch
from sglang_sm120_dsa.errors import ImplementationError

CPU = torch.device("cpu")


@pytest.fixture
def impl_env(monkeypatch):
    def set_impl(value: str | None) -> None:
        if value is None:
            monkeypatch.delenv("SGLANG_SM120_DSA_IMPL", raising=False)
        else:
            monkeypatch.setenv("SGLANG_SM120_DSA_IMPL", value)

    return set_impl


@pytest.mark.parametrize("value", [None, "", "auto", "AUTO", " torch "])
def test_auto_and_torch_pick_the_reference_on_cpu(impl_env, value) -> None:
    impl_env(value)
    for op in dispatch.OPS:
        choice = dispatch.resolve(op, CPU)
        assert choice.impl == "torch" and callable(choice.fn)
        assert ("forced" in choice.reason) == (value is not None and value.strip() == "torch")


def test_invalid_value_lists_the_choices(impl_env) -> None:
    impl_env("cuda_magic")
    with pytest.raises(ImplementationError, match=r"SGLANG_SM120_DSA_IMPL='cuda_magic' is not valid: choose one "
                       r"of auto, torch, triton, tilelang, deepgemm \(available for cpu: torch, triton\)"):
        dispatch.resolve("fp8_paged_mqa_logits", CPU)


@pytest.mark.parametrize("family", ["tilelang", "deepgemm"])
def test_family_not_in_this_build(impl_env, family) -> None:
    impl_env(family)
    with pytest.raises(ImplementationError, match=rf"SGLANG_SM120_DSA_IMPL={family}: the {family} implementation "
                       r"is not part of this build of sglang-sm120-dsa. Available for cpu: torch, triton"):
        dispatch.resolve("fp8_mqa_logits", CPU)


def test_forced_family_reaches_the_public_api(impl_env) -> None:
    from sglang_sm120_dsa.triton.interpreter import unsupported_reason

    if unsupported_reason():
        pytest.skip(unsupported_reason())
    impl_env("tilelang")
    with pytest.raises(ImplementationError, match="not part of this build"):
        dsa.get_paged_mqa_logits_metadata(torch.ones(3, dtype=torch.int32), 64, 4)
    for family in ("torch", "triton"):
        impl_env(family)
        assert dsa.get_paged_mqa_logits_metadata(torch.ones(3, dtype=torch.int32), 64, 4).shape == (5, 2)


def test_triton_runs_on_cpu_only_under_the_interpreter(impl_env, monkeypatch) -> None:
    impl_env("triton")
    monkeypatch.delenv("TRITON_INTERPRET")
    with pytest.raises(ImplementationError, match="runs on CPU tensors only with TRITON_INTERPRET=1"):
        dispatch.resolve("fp8_paged_mqa_logits", CPU)


def test_registry_rejects_bad_families() -> None:
    with pytest.raises(ValueError, match="unknown implementation family 'cuda'"):
        dispatch.register(dispatch.Impl("cuda", "x", "", dispatch.OPS, ("cuda",)))
    with pytest.raises(ValueError, match="paged metadata and logits go together"):
        dispatch.register(dispatch.Impl("triton", "x", "", ("fp8_paged_mqa_logits",), ("cuda",)))
    with pytest.raises(ValueError, match="unknown ops"):
        dispatch.register(dispatch.Impl("triton", "x", "", ("fp8_gemm",), ("cuda",)))
    assert dispatch.registered() == ("torch", "triton")


def test_unavailable_family_is_explained(monkeypatch, impl_env) -> None:
    """A registered family that cannot run here (GPU-only, or a missing package) raises when forced and is
    skipped with its reason under auto."""
    fake = dispatch.Impl("tilelang", "sglang_sm120_dsa.reference", "test double", dispatch.RAGGED_GROUP, ("cuda",),
                         requires=("surely_not_a_module_xyz",))
    monkeypatch.setitem(dispatch._REGISTRY, "tilelang", fake)
    monkeypatch.setitem(dispatch._AUTO_ORDER, "cpu", ("tilelang", "torch"))
    dispatch._resolve.cache_clear()
    try:
        impl_env("tilelang")
        with pytest.raises(ImplementationError, match=r"cannot run fp8_mqa_logits on cpu: runs on cuda tensors"):
            dispatch.resolve("fp8_mqa_logits", CPU)
        impl_env(None)
        choice = dispatch.resolve("fp8_mqa_logits", CPU)
        assert choice.impl == "torch" and "skipped tilelang (runs on cuda tensors, not cpu)" in choice.reason
        assert fake.unavailable(torch.device("cuda", 0)).startswith("surely_not_a_module_xyz not installed")
    finally:
        dispatch._resolve.cache_clear()


def test_unknown_op() -> None:
    with pytest.raises(ValueError, match="unknown op 'fp8_gemm'"):
        dispatch.resolve("fp8_gemm", CPU)


def test_explain_covers_every_op() -> None:
    assert [op for op, _ in dispatch.explain(CPU)] == list(dispatch.OPS)


def test_decision_is_logged_once(impl_env, caplog) -> None:
    impl_env("torch")
    dispatch._resolve.cache_clear()
    with caplog.at_level(logging.INFO, logger="sglang_sm120_dsa"):
        for _ in range(3):
            dispatch.resolve("fp8_mqa_logits", CPU)
    assert sum("fp8_mqa_logits" in r.message for r in caplog.records) <= 1


def test_get_num_sms_without_cuda() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    import sglang_sm120_dsa.ops as ops

    saved = ops._num_sms
    try:
        ops._num_sms = None
        with pytest.raises(RuntimeError, match="no CUDA device; pass num_sms explicitly or call set_num_sms"):
            dsa.get_num_sms()
        dsa.set_num_sms(24)
        assert dsa.get_num_sms() == 24
    finally:
        ops._num_sms = saved
