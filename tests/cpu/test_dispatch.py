"""Implementation selection: the registry, SGLANG_SM120_DSA_IMPL and auto on CPU tensors."""

from __future__ import annotations

import dataclasses
import functools
import logging

import pytest
import torch

import sglang_sm120_dsa as dsa
from sglang_sm120_dsa import dispatch
from sglang_sm120_dsa.errors import ImplementationError
from sglang_sm120_dsa.errors import IndexerArgumentError

CPU = torch.device("cpu")


@pytest.fixture
def impl_env(monkeypatch):
    """Set SGLANG_SM120_DSA_IMPL; decisions are cached per device and setting, so each test starts afresh."""
    def set_impl(value: str | None) -> None:
        if value is None:
            monkeypatch.delenv("SGLANG_SM120_DSA_IMPL", raising=False)
        else:
            monkeypatch.setenv("SGLANG_SM120_DSA_IMPL", value)

    dispatch._decide.cache_clear()
    yield set_impl
    dispatch._decide.cache_clear()


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


def test_family_not_in_this_build(impl_env, monkeypatch) -> None:
    monkeypatch.delitem(dispatch._REGISTRY, "tilelang")
    monkeypatch.setattr(dispatch, "_decide", functools.cache(dispatch._decide.__wrapped__))
    impl_env("tilelang")
    with pytest.raises(ImplementationError, match=r"SGLANG_SM120_DSA_IMPL=tilelang: the tilelang implementation "
                       r"is not part of this build of sglang-sm120-dsa. Available for cpu: torch, triton"):
        dispatch.resolve("fp8_mqa_logits", CPU)


def test_tilelang_is_gpu_only(impl_env) -> None:
    impl_env("tilelang")
    with pytest.raises(ImplementationError, match=r"SGLANG_SM120_DSA_IMPL=tilelang: cannot run fp8_mqa_logits on cpu: "
                       r"runs on cuda tensors, not cpu. Available there: torch, triton"):
        dispatch.resolve("fp8_mqa_logits", CPU)


def test_deepgemm_is_gpu_only(impl_env) -> None:
    impl_env("deepgemm")
    with pytest.raises(ImplementationError, match=r"SGLANG_SM120_DSA_IMPL=deepgemm: cannot run fp8_mqa_logits on cpu: "
                       r"runs on cuda tensors, not cpu. Available there: torch, triton"):
        dispatch.resolve("fp8_mqa_logits", CPU)


def test_forced_family_reaches_the_public_api(impl_env) -> None:
    from sglang_sm120_dsa.triton.interpreter import unsupported_reason

    if unsupported_reason():
        pytest.skip(unsupported_reason())
    impl_env("tilelang")
    with pytest.raises(ImplementationError, match="runs on cuda tensors, not cpu"):
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
    assert dispatch.registered() == ("torch", "triton", "deepgemm", "tilelang")


def test_unavailable_family_is_explained(monkeypatch, impl_env) -> None:
    """A registered family that cannot run here (GPU-only, or a missing package) raises when forced and is
    skipped with its reason under auto."""
    fake = dispatch.Impl("tilelang", "sglang_sm120_dsa.reference", "test double", dispatch.RAGGED_GROUP, ("cuda",),
                         requires=("surely_not_a_module_xyz",))
    monkeypatch.setitem(dispatch._REGISTRY, "tilelang", fake)
    monkeypatch.setitem(dispatch._AUTO_ORDER, "cpu", ("tilelang", "torch"))
    dispatch._decide.cache_clear()
    try:
        impl_env("tilelang")
        with pytest.raises(ImplementationError, match=r"cannot run fp8_mqa_logits on cpu: runs on cuda tensors"):
            dispatch.resolve("fp8_mqa_logits", CPU)
        impl_env(None)
        choice = dispatch.resolve("fp8_mqa_logits", CPU)
        assert choice.impl == "torch" and "skipped tilelang (runs on cuda tensors, not cpu)" in choice.reason
        assert fake.unavailable(torch.device("cuda", 0)).startswith("surely_not_a_module_xyz not installed")
    finally:
        dispatch._decide.cache_clear()


def test_unknown_op() -> None:
    with pytest.raises(ValueError, match="unknown op 'fp8_gemm'"):
        dispatch.resolve("fp8_gemm", CPU)


def test_explain_covers_every_op() -> None:
    assert [op for op, _ in dispatch.explain(CPU)] == list(dispatch.OPS)


def test_decision_is_logged_once_in_one_line(impl_env, caplog) -> None:
    impl_env("torch")
    dispatch._decide.cache_clear()
    with caplog.at_level(logging.INFO, logger="sglang_sm120_dsa"):
        for _ in range(3):
            for op in dispatch.OPS:
                dispatch.resolve(op, CPU)
    lines = [r.message for r in caplog.records if r.name == "sglang_sm120_dsa"]
    assert lines == ["cpu: all ops -> torch (forced by SGLANG_SM120_DSA_IMPL=torch)"]


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


def test_get_num_sms_reads_each_devices_properties_once(monkeypatch) -> None:
    """The current device's SM count, its properties read once per device (simulated CUDA)."""
    import types

    import sglang_sm120_dsa.ops as ops

    reads, current = [], [0]
    monkeypatch.setattr(ops, "_num_sms", None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: current[0])
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda i: reads.append(i) or types.SimpleNamespace(multi_processor_count=(132, 78)[i]))
    ops._sms_of.cache_clear()
    try:
        assert [dsa.get_num_sms() for _ in range(3)] == [132] * 3
        current[0] = 1
        assert [dsa.get_num_sms() for _ in range(3)] == [78] * 3
        current[0] = 0
        assert dsa.get_num_sms() == 132 and reads == [0, 1]
        dsa.set_num_sms(100)
        assert dsa.get_num_sms() == 100
        with pytest.raises(IndexerArgumentError, match="must be <= 132"):
            dsa.set_num_sms(133)
    finally:
        ops._sms_of.cache_clear()


# --- auto on GPUs, simulated: the capability table of the dispatcher ------------------------------------------

GPU = torch.device("cuda", 0)


@pytest.fixture
def simulate_gpu(monkeypatch, impl_env):
    """Make dispatch see ``cuda:0`` as a GPU of the given capability; ``deepgemm`` is None (not installed), or
    the reason its probe gives (None: importable and self-checked)."""
    impl_env(None)

    def simulate(cap: tuple[int, int], deepgemm: str | None = "absent"):
        monkeypatch.setattr(dispatch, "capability", lambda device: cap)
        monkeypatch.setattr(dispatch, "describe_device", lambda device: f"cuda:0 (Simulated GPU, sm_{cap[0]}{cap[1]})")
        real = dispatch._REGISTRY["deepgemm"]
        if deepgemm != "absent":  # stands in for DeepGEMM: the reference's ops behind the deepgemm name
            fake = dataclasses.replace(real, module="sglang_sm120_dsa.reference", requires=(),
                                       probe=lambda device: deepgemm)
            monkeypatch.setitem(dispatch._REGISTRY, "deepgemm", fake)
        dispatch._decide.cache_clear()
        return dispatch.decide(GPU)

    yield simulate
    dispatch._decide.cache_clear()


def families(decision) -> set[str]:
    return {choice.impl for choice in decision.choices.values()}


@pytest.mark.parametrize("cap", [(8, 0), (8, 6), (8, 7)])
def test_sm80_family_uses_triton_bytes(simulate_gpu, cap) -> None:
    decision = simulate_gpu(cap)
    assert families(decision) == {"triton"}
    assert "e4m3 decoded from bytes" in decision.choices["fp8_paged_mqa_logits"].reason


def test_sm89_uses_triton_native(simulate_gpu) -> None:
    decision = simulate_gpu((8, 9))
    assert families(decision) == {"triton"}
    assert "FP8 tensor-core operands" in decision.choices["fp8_mqa_logits"].reason


@pytest.mark.parametrize("cap", [(9, 0), (10, 0), (10, 3)])
def test_hopper_and_blackwell_prefer_checked_deepgemm(simulate_gpu, cap, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="sglang_sm120_dsa"):
        decision = simulate_gpu(cap, deepgemm=None)
    assert families(decision) == {"deepgemm"}
    assert all(choice.owns_output for choice in decision.choices.values())
    assert [r.message for r in caplog.records if r.name == "sglang_sm120_dsa"] == [
        f"cuda:0 (Simulated GPU, sm_{cap[0]}{cap[1]}): all ops -> deepgemm (SM90/SM100: DeepGEMM ships the indexer "
        "here)"]


@pytest.mark.parametrize("deepgemm", ["absent", "self-check failed on the paged case (calc_diff 1.00e+00)"])
def test_hopper_falls_back_to_triton_with_a_warning(simulate_gpu, caplog, deepgemm) -> None:
    with caplog.at_level(logging.WARNING, logger="sglang_sm120_dsa"):
        decision = simulate_gpu((9, 0), deepgemm=deepgemm)
    assert families(decision) == {"triton"}
    expected = "deep_gemm not installed" if deepgemm == "absent" else "self-check failed"
    assert expected in decision.choices["fp8_paged_mqa_logits"].reason
    warnings = [r.message for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "deepgemm is preferred here but unavailable" in warnings[0]
    assert expected in warnings[0]


@pytest.mark.parametrize("cap", [(12, 0), (12, 1)])
def test_sm120_without_tilelang_falls_back_to_triton_with_a_warning(simulate_gpu, cap, caplog,
                                                                  monkeypatch) -> None:
    """TileLang missing, or present but failing its self-check (here: no GPU to run it on)."""
    for missing in (True, False):
        if missing:
            real = dispatch.importlib.util.find_spec
            monkeypatch.setattr(dispatch.importlib.util, "find_spec",
                                lambda m, real=real: None if m == "tilelang" else real(m))
            reason = "tilelang not installed"
        else:
            monkeypatch.undo()
            dispatch._tilelang_checked.cache_clear()
            if dispatch.importlib.util.find_spec("tilelang") is None:
                continue
            reason = "the self-check failed"
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="sglang_sm120_dsa"):
            decision = simulate_gpu(cap)
        assert families(decision) == {"triton"}
        assert f"skipped tilelang ({reason}" in decision.choices["fp8_paged_mqa_logits"].reason
        assert any("tilelang is preferred here but unavailable" in r.message and reason in r.message
                   and r.message.endswith("using triton") for r in caplog.records)


def test_unknown_newer_arch_uses_triton(simulate_gpu) -> None:
    assert families(simulate_gpu((11, 0))) == {"triton"}


@pytest.mark.parametrize("cap", [(7, 5), (6, 1)])
def test_older_than_sm80_is_refused_with_the_gpu_name(simulate_gpu, cap) -> None:
    with pytest.raises(ImplementationError, match=rf"cuda:0 \(Simulated GPU, sm_{cap[0]}{cap[1]}\) is not supported: "
                       r"sglang-sm120-dsa needs compute capability 8.0 \(SM80, A100\) or newer"):
        simulate_gpu(cap)


def test_forced_family_on_a_simulated_gpu(simulate_gpu, impl_env) -> None:
    impl_env("deepgemm")
    decision = simulate_gpu((8, 9))
    assert all(isinstance(c, ImplementationError) and "deep_gemm not installed" in str(c)
               for c in decision.choices.values())
    impl_env("triton")
    assert families(simulate_gpu((9, 0))) == {"triton"}


def test_env_choice_is_validated_with_the_choices_named(monkeypatch) -> None:
    from sglang_sm120_dsa import envs

    monkeypatch.setenv("SGLANG_SM120_DSA_TILELANG_MODE", " SM120 ")
    assert envs.TILELANG_MODE.choice() == "sm120"
    monkeypatch.setenv("SGLANG_SM120_DSA_TILELANG_MODE", "sm100")
    with pytest.raises(ImplementationError, match=r"SGLANG_SM120_DSA_TILELANG_MODE='sm100' is not valid: choose one "
                                                  r"of auto, sm120"):
        envs.TILELANG_MODE.choice()
