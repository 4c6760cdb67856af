"""One SGLang process for tests/plugin: simulates a GPU, loads the plugins, resolves server arguments for some
models and reports what happened as JSON (last line of stdout). Run by test_plugin.py with the real SGLang 0.5.23
on the path; never imported by pytest itself. With ``"gpu": true`` nothing is simulated: the process runs on the
real CUDA device, for tests/gpu/test_sglang_on_gpu.py (checks ``gpu_entry_points`` and ``gpu_act_quant``).

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
import traceback

import torch

SPEC = json.loads(sys.argv[1])
GPU = bool(SPEC.get("gpu"))
CAP = tuple(torch.cuda.get_device_capability() if GPU else SPEC.get("capability", (9, 0)))
REPORT: dict = {"errors": {}}
NEG_INF = float("-inf")

if not GPU:  # the simulated GPU: what SGLang and the dispatcher read. Nothing here can launch a kernel.
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
    if GPU:
        return contextlib.nullcontext()
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

    out = {}
    x = torch.randn(37, 2, 256, generator=torch.Generator().manual_seed(1)).to(torch.bfloat16) * 3
    for fmt in (None, "ue8m0"):
        y, s = act_quant(x, 128, fmt)
        original = getattr(act_quant_triton.act_quant, "__wrapped__", act_quant_triton.act_quant)
        _, ts = original(x, 128, fmt)
        out[f"scales {fmt} equal"] = torch.equal(s, ts)
        target = (x.double().unflatten(-1, (2, 128)) / s.double().unsqueeze(-1)).clamp(-448, 448).flatten(-2)
        out[f"values {fmt} nearest"] = bool(_nearest_e4m3(y, target).all())
    return out


def _nearest_e4m3(y: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per value of the float8 ``y``: is it the (or a tied) finite e4m3 code nearest to its float64 ``target``?"""
    from sglang_sm120_dsa.testing.naive import e4m3_value

    codes = torch.tensor([e4m3_value(b) for b in range(256)], dtype=torch.float64, device=y.device)
    finite = codes[codes.isfinite()]
    got = codes[y.view(torch.uint8).long()].reshape(-1)
    gaps = [(finite[None, :] - t[:, None]).abs().min(dim=1).values for t in target.reshape(-1).split(1 << 16)]
    return (got - target.reshape(-1)).abs() <= torch.cat(gaps)


def _refill(static: list, fresh: list) -> None:
    for dst, src in zip(static, fresh, strict=True):
        assert dst.shape == src.shape and dst.dtype == src.dtype, (dst.shape, src.shape)
        dst.copy_(src)


def _against(ours: torch.Tensor, theirs: torch.Tensor, invalid: torch.Tensor) -> dict:
    from sglang_sm120_dsa.testing import calc_diff

    return {"bitwise": torch.equal(ours[~invalid], theirs[~invalid]), "calc_diff": calc_diff(ours, theirs, invalid)}


def _paged_entry_points(utils, dsv4, deep_gemm, real, num_sms, batch, next_n, heads, gen) -> dict:
    """One decode batch through SGLang's resolvers as ``dsa_indexer`` calls them (see gpu_entry_points_report)."""
    from sglang_sm120_dsa.deepgemm import as_torch
    from sglang_sm120_dsa.testing import make_paged_case
    from sglang_sm120_dsa.testing.bench import capture

    meta_fn = utils.resolve_paged_mqa_logits_metadata_fn()
    paged_fn = utils.resolve_fp8_paged_mqa_logits_fn()
    lens = torch.randint(500, 6000, (batch,), generator=gen, dtype=torch.int32)
    case, fresh = (make_paged_case(batch, next_n, heads, 128, 64, context_lens=order, seed=seed, device="cuda")
                   for seed, order in ((batch, lens), (batch + 1, lens[torch.randperm(batch, generator=gen)])))
    width = int(lens.max())

    def deepgemm(c):
        meta = as_torch(real["get_paged_mqa_logits_metadata"](c.context_lens, 64, num_sms))
        return meta, as_torch(real["fp8_paged_mqa_logits"](c.q, c.kv_cache, c.weights, c.context_lens,
                                                            c.block_table, meta, width, False))

    def step(clean=False):  # dsa_indexer's decode step: schedule, then logits
        meta = meta_fn(case.context_lens, 64, num_sms)
        return paged_fn(case.q, case.kv_cache, case.weights, case.context_lens, case.block_table, meta, width,
                        clean_logits=clean)

    r = {}
    their_meta, theirs = deepgemm(case)
    invalid = torch.arange(width, device="cuda")[None, :] >= case.row_lengths()[:, None]
    r["metadata equal DeepGEMM's"] = torch.equal(meta_fn(case.context_lens, 64, num_sms), their_meta)
    r["eager"] = _against(step(), theirs, invalid)
    attribute = deep_gemm.fp8_paged_mqa_logits(case.q, case.kv_cache, case.weights, case.context_lens,
                                               case.block_table, their_meta, width, False)
    r["deep_gemm attribute"] = _against(attribute, theirs, invalid)
    r["clean: -inf exactly outside"] = torch.equal(step(clean=True) == NEG_INF, invalid)
    graph, captured = capture(step)
    _refill([case.q, case.kv_cache, case.weights, case.context_lens, case.block_table],
            [fresh.q, fresh.kv_cache, fresh.weights, fresh.context_lens, fresh.block_table])
    captured.fill_(123.0)
    graph.replay()
    their_meta, theirs = deepgemm(fresh)
    invalid = torch.arange(width, device="cuda")[None, :] >= fresh.row_lengths()[:, None]
    r["graph replay, fresh inputs"] = _against(captured, theirs, invalid)
    planner = dsv4.get_paged_mqa_logits_metadata(fresh.context_lens[:, -1].long(), 64, num_sms)
    r["dsv4 planner equal routed metadata"] = torch.equal(planner, meta_fn(fresh.context_lens[:, -1:].contiguous(),
                                                                           64, num_sms))
    return r


def gpu_entry_points_report() -> dict:
    """On the real GPU, after activation: SGLang's own indexer entry points (the ``dsa/utils.py`` resolvers as
    ``dsa_indexer`` calls them, the ``deep_gemm`` attributes, the dsv4 planner, the DeepSeek-V4.1 FP4 wrappers in
    ``index_logits.py``) against DeepGEMM's original kernels on the same inputs, eagerly and replayed from a CUDA
    graph after fresh inputs were copied into the captured tensors. The family behind them is dispatch's choice."""
    import importlib

    from sglang.kernels.ops.attention import dsv4
    from sglang.kernels.ops.attention.dsv4 import index_logits
    from sglang.srt.layers.attention.dsa import utils

    import sglang_sm120_dsa as dsa
    from sglang_sm120_dsa import dispatch
    from sglang_sm120_dsa.deepgemm import as_torch
    from sglang_sm120_dsa.deepgemm import originals
    from sglang_sm120_dsa.testing import calc_diff
    from sglang_sm120_dsa.testing import make_paged_case
    from sglang_sm120_dsa.testing import make_ragged_case
    from sglang_sm120_dsa.testing.bench import capture

    device = torch.device("cuda", torch.cuda.current_device())
    real = originals()  # DeepGEMM's own functions, kept when routing replaced the module's attributes
    deep_gemm = importlib.import_module("deep_gemm")
    decision = dispatch.decide(device)
    out = {"families": sorted({c.impl for c in decision.choices.values()}), "decision": decision.summary(),
           "deep_gemm_stand_in": bool(getattr(deep_gemm, "__sglang_sm120_dsa_stand_in__", False))}
    num_sms = utils.resolve_num_sms()  # what dsa_indexer sizes its schedule with: DeepGEMM's SM count
    ragged_fn = utils.resolve_fp8_mqa_logits_fn()

    gen = torch.Generator().manual_seed(7)
    for batch, next_n, heads in ((16, 1, 64), (8, 2, 32), (64, 1, 64)):
        out[f"paged B{batch} next_n{next_n} H{heads}"] = _paged_entry_points(
            utils, dsv4, deep_gemm, real, num_sms, batch, next_n, heads, gen)

    cases = [make_ragged_case(1024, 8192, 64, 128, seed=seed, device="cuda") for seed in (3, 4)]
    case = cases[0]

    def prefill():
        return ragged_fn(case.q, case.kv, case.weights, case.ks, case.ke, clean_logits=False)

    r = {}
    invalid = case.invalid_mask()
    theirs = as_torch(real["fp8_mqa_logits"](case.q, case.kv, case.weights, case.ks, case.ke, False))
    r["eager"] = _against(prefill(), theirs, invalid)
    attribute = deep_gemm.fp8_mqa_logits(case.q, case.kv, case.weights, case.ks, case.ke, True)
    r["deep_gemm attribute, clean"] = _against(attribute, theirs, invalid)
    r["clean: -inf exactly outside"] = torch.equal(attribute == NEG_INF, invalid)
    graph, captured = capture(prefill)
    fresh = cases[1]
    _refill([case.q, *case.kv, case.weights], [fresh.q, *fresh.kv, fresh.weights])
    captured.fill_(123.0)
    graph.replay()
    theirs = as_torch(real["fp8_mqa_logits"](fresh.q, fresh.kv, fresh.weights, fresh.ks, fresh.ke, False))
    r["graph replay, fresh inputs"] = _against(captured, theirs, invalid)
    out["ragged 1024 x 8192"] = r

    # DeepSeek-V4.1's FP4 indexer through SGLang's own wrappers; DeepGEMM has no FP4 kernels on SM90, so the
    # oracle is this package's exact reference (the dequantized inputs), as in the GPU suite.
    def reference(fn, *args, **kwargs):
        saved = os.environ.get("SGLANG_SM120_DSA_IMPL")
        os.environ["SGLANG_SM120_DSA_IMPL"] = "torch"
        try:
            return getattr(dsa, fn)(*args, **kwargs)
        finally:
            os.environ.pop("SGLANG_SM120_DSA_IMPL")
            if saved is not None:
                os.environ["SGLANG_SM120_DSA_IMPL"] = saved

    case = make_paged_case(8, 1, 64, 128, 64, avg_context=3000, fp4=True, lens_2d=False, device="cuda", seed=11)
    meta = deep_gemm.get_paged_mqa_logits_metadata(case.context_lens[:, None], 64, num_sms)
    q = (case.q[0], case.q[1])
    try:
        ours = index_logits.deep_gemm_fp4_paged_mqa_logits(q, case.kv_cache, case.weights, case.context_lens,
                                                           case.block_table, meta, case.max_context_len)
        ref = reference("fp8_fp4_paged_mqa_logits", q, case.kv_cache, case.weights, case.context_lens[:, None],
                        case.block_table, meta, case.max_context_len)
        invalid = torch.arange(case.max_context_len, device="cuda")[None, :] >= case.row_lengths()[:, None]
        out["fp4 paged (V4.1 wrapper) calc_diff vs reference"] = calc_diff(ours, ref, invalid)
    except Exception as e:
        out["fp4 paged (V4.1 wrapper) error"] = f"{type(e).__name__}: {e}"
    case = make_ragged_case(512, 4096, 64, 128, fp4=True, device="cuda", seed=12)
    lengths = case.ke - case.ks
    try:
        tiles, diffs = 0, []
        for budget in (1 << 30, 2 << 20):  # one tile, then several
            for rows, logits in index_logits.flat_index_logits_tiles(
                    q=case.q, kv=case.kv, weights=case.weights, starts=case.ks, lengths=lengths,
                    context_lengths=lengths.tolist(), budget_bytes=budget):
                ref = reference("fp8_fp4_mqa_logits", (case.q[0][rows], case.q[1][rows]), case.kv,
                                case.weights[rows], case.ks[rows], case.ke[rows], False, logits.shape[1])
                invalid = torch.arange(logits.shape[1], device="cuda")[None, :] >= lengths[rows, None]
                diffs.append(calc_diff(logits, ref, invalid))
                tiles += 1
        out["fp4 ragged (V4.1 flat tiles)"] = {"tiles": tiles, "max calc_diff vs reference": max(diffs)}
    except Exception as e:
        out["fp4 ragged (V4.1 flat tiles) error"] = f"{type(e).__name__}: {e}"
    return out


def gpu_act_quant_report() -> dict:
    """The torch act_quant that replaces SGLang's Triton kernel below SM89, against that kernel on this GPU (which
    rounds to nearest even, unlike Triton's CPU interpreter): scales bit for bit; values against each other and
    against the nearest e4m3 code (ties either way) to the IEEE float32 quotient ``x / scale``. SGLang's kernel
    divides with Triton's default ``div.full.f32`` (not IEEE) before its round-to-nearest ``cvt``."""
    from sglang.kernels.ops.quantization import act_quant_triton

    from sglang_sm120_dsa.sglang.act_quant import act_quant

    original = getattr(act_quant_triton.act_quant, "__wrapped__", act_quant_triton.act_quant)
    out = {}
    gen = torch.Generator("cuda").manual_seed(5)
    x = torch.randn(333, 4, 512, device="cuda", generator=gen) * torch.logspace(-3, 3, 512, device="cuda")
    x = x.to(torch.bfloat16)
    for fmt in (None, "ue8m0"):
        y, s = act_quant(x, 128, fmt)
        ty, ts = original(x, 128, fmt)
        target = (x.float().unflatten(-1, (4, 128)) / s.unsqueeze(-1)).clamp(-448, 448).flatten(-2).double()
        ours, theirs = _nearest_e4m3(y, target), _nearest_e4m3(ty, target)
        differ = (y.view(torch.uint8) != ty.view(torch.uint8)).reshape(-1)
        out[str(fmt)] = {"scales equal": torch.equal(s, ts), "values": y.numel(), "values differing": int(differ.sum()),
                         "ours not nearest": int((~ours).sum()), "sglang's not nearest": int((~theirs).sum())}
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
        checks = {"routing": routing_report, "numerics": numerics_report, "act_quant": act_quant_report,
                  "gpu_entry_points": gpu_entry_points_report, "gpu_act_quant": gpu_act_quant_report}
        for name, fn in checks.items():
            if name in SPEC.get("checks", ()):
                try:
                    REPORT[name] = fn()
                except Exception as e:
                    REPORT["errors"][name] = f"{type(e).__name__}: {e}\n{traceback.format_exc()[-3000:]}"
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
