"""The SGLang plugin with the real SGLang 0.5.23: discovery, argument resolution per GPU and model, routing of
every indexer lookup, the version guard, idempotent registration. GPUs are simulated (compute capability and
SGLang's platform facts); nothing runs a CUDA kernel. See conftest.py for how SGLang gets here."""

from __future__ import annotations

import pytest

MODELS = ["v32", "glm5", "v4"]
CAPS = [(8, 0), (8, 6), (8, 9), (9, 0), (12, 0), (12, 1)]

# (capability major.minor, model) -> attention_backend, dsa_prefill_backend, dsa_decode_backend, kv_cache_dtype
TILELANG_BF16 = ("dsa", "tilelang", "tilelang", "bfloat16")
EXPECTED = {
    **{(cap, m): TILELANG_BF16 for cap in [(8, 0), (8, 6), (8, 9)] for m in ("v32", "glm5")},
    **{((9, 0), m): ("dsa", "flashmla_sparse", "fa3", "bfloat16") for m in ("v32", "glm5")},
    **{(cap, "v32"): ("dsa", "tilelang", "tilelang", "fp8_e4m3") for cap in [(12, 0), (12, 1)]},
    **{(cap, "glm5"): ("dsa", "flashinfer_sparse_mla", "flashinfer_sparse_mla", "fp8_e4m3")
       for cap in [(12, 0), (12, 1)]},
    **{(cap, "v4"): ("dsv4", None, None, "fp8_e4m3") for cap in CAPS},
}


@pytest.fixture
def per_gpu(scenario):
    return lambda cap: scenario({"capability": list(cap), "models": MODELS, "checks": ["routing", "dispatch"]})


def test_entry_point_and_cli_choice(scenario) -> None:
    report = scenario({"capability": [9, 0], "models": [], "checks": ["argparse_before", "argparse_prefill",
                                                                       "argparse_decode"]})
    assert report["entry_points"] == ["dsa_fallback=sglang_sm120_dsa.sglang:register"]
    assert "invalid choice: 'dsa_fallback'" in report["argparse_before"]  # SGLang itself rejects the name
    assert report["argparse_prefill"] == report["argparse_decode"] == "dsa_fallback"  # accepted once loaded
    assert not report["routing_active"] and not report["sys_modules_deep_gemm_after"]  # nothing asked for it yet


@pytest.mark.parametrize("cap", CAPS, ids=lambda c: f"sm{c[0]}{c[1]}")
def test_resolution_per_gpu_and_model(per_gpu, cap) -> None:
    report = per_gpu(cap)
    assert not report["errors"]
    for model in MODELS:
        got = report["resolved"][model]
        want = EXPECTED[(cap, model)]
        assert (got["attention_backend"], got["dsa_prefill_backend"], got["dsa_decode_backend"],
                got["kv_cache_dtype"]) == want, model
        env = got["env"]
        assert env["SGLANG_SM120_DSA_SGLANG"] == "on"  # inherited by the scheduler processes
        assert env["SGLANG_FP8_PAGED_MQA_LOGITS_TORCH"] == env["SGLANG_OPT_USE_TILELANG_INDEXER"] == "False"
        assert env["SGLANG_OPT_USE_TOPK_V2"] == (None if cap[0] == 9 else "False")


@pytest.mark.parametrize("cap", CAPS, ids=lambda c: f"sm{c[0]}{c[1]}")
def test_every_lookup_is_routed(per_gpu, cap) -> None:
    routing = per_gpu(cap)["routing"]
    assert routing.pop("deep_gemm_stand_in") is True  # no deep_gemm on a CPU machine
    assert routing.pop("act_quant uses torch on this GPU") is (cap < (8, 9))
    assert routing and all(routing.values()), {k: v for k, v in routing.items() if not v}
    assert len([k for k in routing if k.startswith("deep_gemm.")]) == 5


@pytest.mark.parametrize("cap", CAPS, ids=lambda c: f"sm{c[0]}{c[1]}")
def test_dispatch_decision_is_one_line(per_gpu, cap) -> None:
    dispatch = per_gpu(cap)["dispatch"]
    # no DeepGEMM and no working TileLang (no GPU to run its self-check): Triton everywhere, with a warning where
    # another family is preferred
    assert dispatch["families"] == ["triton"]
    infos = [msg for level, msg in dispatch["log"] if level == "INFO"]
    warnings = [msg for level, msg in dispatch["log"] if level == "WARNING"]
    assert len(infos) == 1 and infos[0].startswith(f"cuda:0 (Simulated, sm_{cap[0]}{cap[1]}): all ops -> triton (")
    if cap[0] == 12:
        assert len(warnings) == 1
        assert warnings[0].startswith(f"cuda:0 (Simulated, sm_{cap[0]}{cap[1]}): tilelang is preferred here but "
                                      "unavailable (") and warnings[0].endswith("); using triton")
        assert "tilelang not installed" in warnings[0] or "the self-check failed" in warnings[0], warnings[0]
    elif cap[0] == 9:
        assert len(warnings) == 1
        assert "deepgemm is preferred here but unavailable (deep_gemm does not import: ImportError: deep_gemm is not " \
               "installed (the SGLang plugin's indexer-only stand-in is in its place))" in warnings[0]
        assert "using triton" in warnings[0]
    else:
        assert warnings == []


def test_routed_entry_points_match_sglangs_torch_indexer(scenario) -> None:
    """CPU tensors: SGLang's resolvers and deep_gemm attributes now reach this package (the reference on CPU);
    SGLang's own torch indexer agrees on the same inputs, and its dsv4 planner gives our schedule."""
    numerics = scenario({"capability": [8, 9], "models": ["v32"], "checks": ["numerics"]})["numerics"]
    assert numerics["ragged calc_diff vs sglang torch"] < 1e-5  # SGLang's torch path rounds scores to bf16
    assert numerics["paged calc_diff vs sglang torch"] < 1e-5
    assert numerics["paged resolver == deep_gemm attribute"] and numerics["jit planner == our metadata"]


def test_act_quant_replacement_matches_sglang(scenario) -> None:
    report = scenario({"capability": [8, 0], "models": [], "checks": ["act_quant"]}, TRITON_INTERPRET="1")
    assert not report["errors"] and report["act_quant"] and all(report["act_quant"].values()), report["act_quant"]


def test_register_twice_is_harmless(scenario) -> None:
    twice = scenario({"capability": [9, 0], "models": [], "checks": ["twice"]})["twice"]
    assert twice["before"] == twice["after"] == [1, 1]  # one resolution hook, one CLI choice


def test_non_dsa_model_is_refused(scenario) -> None:
    error = scenario({"capability": [8, 9], "models": ["llama"]})["resolved"]["llama"]["error"]
    assert error.startswith("ValueError: --attention-backend dsa_fallback serves DeepSeek Sparse Attention models")
    assert "LlamaForCausalLM is not one" in error


def test_gpu_older_than_sm80_is_refused(scenario) -> None:
    error = scenario({"capability": [7, 5], "models": ["v32"]})["resolved"]["v32"]["error"]
    assert "sm_75 is not supported; sglang-sm120-dsa needs SM80 (A100) or newer" in error


def test_user_choices_are_kept_and_validated(scenario) -> None:
    argv = ["--attention-backend", "dsa_fallback", "--dsa-prefill-backend", "flashmla_sparse"]
    resolved = scenario({"capability": [12, 0], "models": ["v32"], "argv": argv})["resolved"]["v32"]
    # ours fills only the unset side; SGLang's own rule then rejects mixing tilelang with an FP8 cache
    assert "CUDA TileLang FP8 KV requires both DSA backends to be tilelang" in resolved["error"]
    argv += ["--kv-cache-dtype", "bfloat16"]
    resolved = scenario({"capability": [12, 0], "models": ["v32"], "argv": argv})["resolved"]["v32"]
    assert (resolved["dsa_prefill_backend"], resolved["dsa_decode_backend"]) == ("flashmla_sparse", "tilelang")


def test_conflicting_sglang_switch_is_overridden_with_a_warning(scenario) -> None:
    report = scenario({"capability": [12, 0], "models": ["v4"]}, SGLANG_OPT_USE_TILELANG_INDEXER="1")
    assert report["resolved"]["v4"]["env"]["SGLANG_OPT_USE_TILELANG_INDEXER"] == "False"
    assert "SGLANG_OPT_USE_TILELANG_INDEXER=1 overridden to False for --attention-backend dsa_fallback" in report["log"]


def test_other_backends_are_untouched(scenario) -> None:
    report = scenario({"capability": [8, 9], "models": ["v32"], "argv": ["--attention-backend", "dsa"]})
    assert report["resolved"]["v32"]["env"]["SGLANG_SM120_DSA_SGLANG"] is None
    assert not report["routing_active"] and not report["sys_modules_deep_gemm_after"]


def test_wrong_sglang_version_stops_at_startup(scenario) -> None:
    report = scenario({"capability": [9, 0], "models": ["v32"], "version": "0.5.22"})
    assert report["resolved"]["v32"]["error"] == (
        "RuntimeError: --attention-backend dsa_fallback needs SGLang 0.5.23, found SGLang 0.5.22: sglang-sm120-dsa "
        "patches SGLang's indexer call sites, which change between releases. Install sglang==0.5.23, or a "
        "sglang-sm120-dsa release that supports 0.5.22.")
    assert not report["routing_active"] and not report["sys_modules_deep_gemm_after"]  # nothing half-patched
    assert "SGLang 0.5.22 is installed, the plugin supports 0.5.23 only" in report["log"]
