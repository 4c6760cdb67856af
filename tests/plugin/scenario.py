"""One SGLang process for tests/plugin: simulates a GPU, loads the plugins, resolves server arguments for some
models and reports what happened as JSON (last line of stdout). Run by test_plugin.py with the real SGLang 0.5.23
on the path; never imported by pytest itself.

Usage: python scenario.py '{"capability": [8, 0], "models": ["v32"], "checks": ["routing"]}'
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import tempfile

import torch

SPEC = json.loads(sys.argv[1])
CAP = tuple(SPEC.get("capability", (9, 0)))
REPORT: dict = {"errors": {}}

# The simulated GPU: what SGLang and the dispatcher read. Nothing here can launch a kernel.
torch.cuda.get_device_capability = lambda device=None: CAP

HF_CONFIGS = {
    "v32": {"architectures": ["DeepseekV32ForCausalLM"], "model_type": "deepseek_v32", "index_n_heads": 64},
    "glm5": {"architectures": ["GlmMoeDsaForCausalLM"], "model_type": "glm_moe_dsa", "index_n_heads": 32},
    "v4": {"architectures": ["DeepseekV4ForCausalLM"], "model_type": "deepseek_v4", "index_n_heads": 64,
           "sliding_window": 128, "compress_ratios": [0, 4], "head_dim": 512, "o_groups": 8, "o_lora_rank": 1024,
           "hc_mult": 4},
    "llama": {"architectures": ["LlamaForCausalLM"], "model_type": "llama"},
}
COMMON = {"hidden_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4,
          "vocab_size": 1000, "index_topk": 2048, "index_head_dim": 128, "kv_lora_rank": 512,
          "qk_rope_head_dim": 64, "qk_nope_head_dim": 128, "v_head_dim": 128, "q_lora_rank": 1536,
          "torch_dtype": "bfloat16", "max_position_embeddings": 4096, "intermediate_size": 512}


def model_dir(name: str) -> str:
    path = tempfile.mkdtemp(prefix=f"{name}-")
    config = dict(COMMON, **HF_CONFIGS[name])
    if name == "llama":
        config.pop("index_topk")
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f)
    return path


def platform():
    from sglang.srt.runtime_context import override_platform

    major, minor = CAP
    return override_platform(is_cuda=True, is_hip=False, is_sm90=CAP == (9, 0), is_sm100=major == 10,
                             is_sm120=major == 12, is_blackwell=major >= 10, device_capability=CAP,
                             device_sm=major * 10 + minor)


def parse(argv: list[str]):
    from sglang.srt.server_args import prepare_server_args

    try:
        with contextlib.redirect_stderr(io.StringIO()) as err:
            return prepare_server_args(argv), None
    except SystemExit as e:
        return None, f"exit {e.code}: {err.getvalue().strip().splitlines()[-1]}"
    finally:  # prepare_server_args points logging at the stderr of the moment: the buffer
        logging.basicConfig(level=logging.INFO, force=True)


FIELDS = ("attention_backend", "prefill_attention_backend", "decode_attention_backend", "dsa_prefill_backend",
          "dsa_decode_backend", "kv_cache_dtype")
ENV = ("SGLANG_SM120_DSA_SGLANG", "SGLANG_OPT_USE_TOPK_V2", "SGLANG_FP8_PAGED_MQA_LOGITS_TORCH",
       "SGLANG_OPT_USE_TILELANG_INDEXER")


def resolve(model: str, extra: list[str]) -> dict:
    """Resolve in a clean environment, as a fresh launcher would, and restore it afterwards."""
    from sglang.srt.arg_groups.overrides import resolution_result

    saved = dict(os.environ)
    try:
        args, error = parse(["--model-path", model_dir(model), "--device", "cuda", *extra])
        if error:
            return {"error": error}
        try:
            args.resolve_once()
        except Exception as e:
            return {"error": f"{type(e).__name__}: {e}"}
        out = {f: resolution_result(args, f) for f in FIELDS}
        out["env"] = {k: os.environ.get(k) for k in ENV}
        return out
    finally:
        os.environ.clear()
        os.environ.update(saved)


def routing_report() -> dict:
    """For each SGLang lookup the plugin routes: does it now give this package's function?"""
    import importlib

    import sglang_sm120_dsa as dsa
    from sglang_sm120_dsa.deepgemm import ROUTED_MARK
    from sglang_sm120_dsa.sglang import routing

    report = {}
    deep_gemm = importlib.import_module("deep_gemm")
    report["deep_gemm_stand_in"] = bool(getattr(deep_gemm, "__sglang_sm120_dsa_stand_in__", False))
    for op in routing.DEEP_GEMM_OPS:
        fn = getattr(deep_gemm, op)
        report[f"deep_gemm.{op}"] = getattr(fn, "__wrapped__", None) is getattr(dsa, op) and hasattr(fn, ROUTED_MARK)
    for module in ("sglang.srt.layers.attention.dsa.utils", "sglang.srt.layers.attention.dsa.dsa_indexer",
                   "sglang.srt.layers.attention.dsa_backend"):
        mod = importlib.import_module(module)
        for target, op in routing.RESOLVERS.items():
            name = target.rsplit(".", 1)[1]
            if hasattr(mod, name):
                report[f"{module}.{name}()"] = getattr(mod, name)() is getattr(dsa, op)
    jit = importlib.import_module("sglang.kernels.ops.attention.dsv4")
    attn = importlib.import_module("sglang.kernels.ops.attention.dsv4.attn")
    for where in (jit, attn):
        fn = where.get_paged_mqa_logits_metadata
        report[f"{where.__name__}.get_paged_mqa_logits_metadata"] = fn.__wrapped__.__module__.endswith("dsv4.attn") \
            and fn.__code__ is not fn.__wrapped__.__code__
    act = importlib.import_module("sglang.kernels.ops.quantization.act_quant_triton")
    report["act_quant routed"] = hasattr(act.act_quant, "__wrapped__")
    report["act_quant uses torch on this GPU"] = routing._needs_torch_act_quant(torch.device("cuda", 0))
    runner = importlib.import_module("sglang.srt.model_executor.model_runner").ModelRunner
    report["init_attention_backends hooked"] = hasattr(runner.init_attention_backends, "__wrapped__")
    from sglang.srt.layers.attention.attention_registry import ATTENTION_BACKENDS

    report["factory"] = "dsa_fallback" in ATTENTION_BACKENDS
    return report


def numerics_report() -> dict:
    """SGLang's entry points, now routed, against SGLang's own torch indexer on the same CPU inputs."""
    import importlib

    from sglang.srt.layers.attention.dsa import utils

    from sglang_sm120_dsa.testing import calc_diff
    from sglang_sm120_dsa.testing.cases import make_paged_case
    from sglang_sm120_dsa.testing.cases import make_ragged_case

    out = {}
    rcase = make_ragged_case(48, 300, 64, 128)
    ours = utils.resolve_fp8_mqa_logits_fn()(rcase.q, rcase.kv, rcase.weights, rcase.ks, rcase.ke, False)
    theirs = utils._fp8_mqa_logits_torch(rcase.q, rcase.kv, rcase.weights, rcase.ks, rcase.ke, False)
    cols = torch.arange(300)[None, :]
    outside = (cols < rcase.ks[:, None]) | (cols >= rcase.ke[:, None])
    out["ragged calc_diff vs sglang torch"] = calc_diff(ours, theirs, outside)
    case = make_paged_case(4, 1, 64, 128, 64, avg_context=500, poison=False)  # SGLang reads every table entry
    lens = case.context_lens.reshape(-1, 1)
    meta = utils.resolve_paged_mqa_logits_metadata_fn()(lens, 64, 8)
    deep_gemm = importlib.import_module("deep_gemm")
    ours = utils.resolve_fp8_paged_mqa_logits_fn()(case.q, case.kv_cache, case.weights, lens, case.block_table, meta,
                                                  case.max_context_len, False)
    routed = deep_gemm.fp8_paged_mqa_logits(case.q, case.kv_cache, case.weights, lens, case.block_table, meta,
                                            case.max_context_len, False)
    theirs = utils._fp8_paged_mqa_logits_torch(case.q, case.kv_cache, case.weights, lens, case.block_table, meta,
                                               case.max_context_len, False)
    invalid = torch.arange(case.max_context_len)[None, :] >= lens
    out["paged calc_diff vs sglang torch"] = calc_diff(ours, theirs, invalid)
    out["paged resolver == deep_gemm attribute"] = torch.equal(ours.nan_to_num(), routed.nan_to_num())
    jit = importlib.import_module("sglang.kernels.ops.attention.dsv4")
    out["jit planner == our metadata"] = torch.equal(jit.get_paged_mqa_logits_metadata(lens.long(), 64, 8), meta)
    return out


def act_quant_report() -> dict:
    """Our torch act_quant against SGLang's Triton kernel run by Triton's CPU interpreter: the scales must be equal
    bit for bit. The interpreter's float8 rounding is not the GPU's (it does not round to nearest even), so the
    values are checked against a float64 oracle over all 256 e4m3 codes instead."""
    from sglang.kernels.ops.quantization import act_quant_triton

    from sglang_sm120_dsa.sglang.act_quant import act_quant
    from sglang_sm120_dsa.testing.naive import e4m3_value

    codes = torch.tensor([e4m3_value(b) for b in range(256)], dtype=torch.float64)
    finite = codes.isfinite()
    out = {}
    x = torch.randn(37, 2, 256, generator=torch.Generator().manual_seed(1)).to(torch.bfloat16) * 3
    for fmt in (None, "ue8m0"):
        y, s = act_quant(x, 128, fmt)
        original = getattr(act_quant_triton.act_quant, "__wrapped__", act_quant_triton.act_quant)
        _, ts = original(x, 128, fmt)
        out[f"scales {fmt} equal"] = torch.equal(s, ts)
        target = (x.double().unflatten(-1, (2, 128)) / s.double().unsqueeze(-1)).clamp(-448, 448).flatten(-2)
        gap = (codes[finite][None, :] - target.reshape(-1, 1)).abs().min(dim=1).values
        got = codes[y.view(torch.uint8).long()].reshape(-1)
        out[f"values {fmt} nearest"] = bool(((got - target.reshape(-1)).abs() <= gap).all())
    return out


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    with platform():
        if "argparse_before" in SPEC.get("checks", ()):
            REPORT["argparse_before"] = parse(["--model-path", "x", "--attention-backend", "dsa_fallback"])[1]
        if SPEC.get("version"):
            import sglang_sm120_dsa.sglang as plugin

            plugin.sglang_version = lambda: SPEC["version"]
        from sglang.srt.plugins import load_plugins

        load_plugins()
        from importlib.metadata import entry_points

        REPORT["entry_points"] = [f"{ep.name}={ep.value}" for ep in entry_points(group="sglang.srt.plugins")]
        if "twice" in SPEC.get("checks", ()):
            from sglang.srt.arg_groups.choices import ATTENTION_BACKEND_CHOICES
            from sglang.srt.arg_groups.resolution_hooks import _HOOKS

            import sglang_sm120_dsa.sglang as plugin

            before = (len(_HOOKS["handle_model_specific_adjustments"]), ATTENTION_BACKEND_CHOICES.count("dsa_fallback"))
            plugin.register()  # as if SGLang ran the entry point again in this process
            plugin.register()
            after = (len(_HOOKS["handle_model_specific_adjustments"]), ATTENTION_BACKEND_CHOICES.count("dsa_fallback"))
            REPORT["twice"] = {"before": before, "after": after}
        REPORT["sys_modules_deep_gemm_before"] = "deep_gemm" in sys.modules
        for name in ("prefill", "decode"):
            if f"argparse_{name}" in SPEC.get("checks", ()):
                args, error = parse(["--model-path", "x", f"--{name}-attention-backend", "dsa_fallback"])
                REPORT[f"argparse_{name}"] = error or getattr(args, f"{name}_attention_backend")
        REPORT["resolved"] = {m: resolve(m, SPEC.get("argv", ["--attention-backend", "dsa_fallback"]))
                              for m in SPEC.get("models", ())}
        checks = {"routing": routing_report, "numerics": numerics_report, "act_quant": act_quant_report}
        for name, fn in checks.items():
            if name in SPEC.get("checks", ()):
                try:
                    REPORT[name] = fn()
                except Exception as e:
                    REPORT["errors"][name] = f"{type(e).__name__}: {e}"
        if "dispatch" in SPEC.get("checks", ()):
            from sglang_sm120_dsa import dispatch

            dispatch.describe_device = lambda device: f"cuda:0 (Simulated, sm_{CAP[0]}{CAP[1]})"
            records = []
            handler = logging.Handler()
            handler.emit = records.append
            logging.getLogger("sglang_sm120_dsa").addHandler(handler)
            decision = dispatch.decide(torch.device("cuda", 0))
            REPORT["dispatch"] = {"families": sorted({c.impl for c in decision.choices.values()}),
                                  "log": [(r.levelname, r.getMessage()) for r in records]}
    from sglang_sm120_dsa.sglang import routing

    REPORT["routing_active"] = routing.active()
    REPORT["sys_modules_deep_gemm_after"] = "deep_gemm" in sys.modules
    print(json.dumps(REPORT))


if __name__ == "__main__":
    main()
