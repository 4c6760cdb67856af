"""Route SGLang 0.5.23's indexer calls to this package (``design A`` of docs/sglang-integration).

SGLang reaches the indexer only through lookups made at call time, so replacing the looked-up objects covers
every call site (DSA, DSA-kpool, DeepSeek-V4 and V4.1):

* the five indexer functions of the ``deep_gemm`` module (an indexer-only stand-in when it does not import);
* the three ``lru_cache``d resolvers of ``layers/attention/dsa/utils.py`` (so SGLang's torch flag cannot bypass us);
* the dsv4 JIT metadata planner, whose schedule would not match our kernels;
* ``act_quant`` on GPUs older than SM89, where SGLang's Triton version cannot compile;
* after the attention backends are built (before CUDA-graph capture): the dispatch decision and the warmup.

Everything here runs in SGLang processes only, after :func:`sglang_sm120_dsa.sglang.register` checked the version.
"""

from __future__ import annotations

import functools
import importlib.machinery
import logging
import sys
import types
from collections.abc import Callable

import torch

from .. import dispatch
from .. import ops
from ..deepgemm import ROUTED_MARK
from .act_quant import act_quant

__all__ = ["activate", "active", "DEEP_GEMM_OPS", "RESOLVERS", "JIT_METADATA", "ACT_QUANT", "BACKENDS_BUILT"]

logger = logging.getLogger("sglang_sm120_dsa.sglang")

DEEP_GEMM_OPS = ("get_paged_mqa_logits_metadata", "fp8_paged_mqa_logits", "fp8_fp4_paged_mqa_logits",
                 "fp8_mqa_logits", "fp8_fp4_mqa_logits")
_DSA_UTILS = "sglang.srt.layers.attention.dsa.utils"
RESOLVERS = {
    f"{_DSA_UTILS}.resolve_paged_mqa_logits_metadata_fn": "get_paged_mqa_logits_metadata",
    f"{_DSA_UTILS}.resolve_fp8_paged_mqa_logits_fn": "fp8_paged_mqa_logits",
    f"{_DSA_UTILS}.resolve_fp8_mqa_logits_fn": "fp8_mqa_logits",
}
JIT_METADATA = "sglang.kernels.ops.attention.dsv4.attn.get_paged_mqa_logits_metadata"
ACT_QUANT = "sglang.kernels.ops.quantization.act_quant_triton.act_quant"
BACKENDS_BUILT = "sglang.srt.model_executor.model_runner.ModelRunner.init_attention_backends"
_NATIVE_FP8 = (8, 9)  # Triton's float8e4nv, which SGLang's act_quant stores, needs SM89

_active = False


def active() -> bool:
    return _active


def activate() -> None:
    """Install every route in this process (idempotent)."""
    global _active
    if _active:
        return
    from sglang.srt.plugins.hook_registry import HookRegistry
    from sglang.srt.plugins.hook_registry import HookType

    _route_deep_gemm()
    for target, op in RESOLVERS.items():
        HookRegistry.register(target, _resolver(op), HookType.REPLACE)
    HookRegistry.register(JIT_METADATA, _jit_metadata, HookType.REPLACE)
    HookRegistry.register(ACT_QUANT, _act_quant, HookType.AROUND)
    HookRegistry.register(BACKENDS_BUILT, _after_backends_built, HookType.AFTER)
    HookRegistry.apply_hooks()  # inside load_plugins() it would run next anyway; later (resolution) it must run now
    _register_backend_factory()
    _active = True
    logger.info("sglang-sm120-dsa: SGLang's indexer calls are routed to sglang_sm120_dsa (dsa_fallback)")


def _routed(op: str, original: Callable | None) -> Callable:
    fn = getattr(ops, op)

    @functools.wraps(fn)
    def routed(*args, **kwargs):
        return fn(*args, **kwargs)

    setattr(routed, ROUTED_MARK, original)  # None in the stand-in
    return routed


def _route_deep_gemm() -> None:
    try:
        import deep_gemm
    except Exception as e:  # not installed, or a _C.so for another torch/arch
        deep_gemm = types.ModuleType("deep_gemm", "sglang-sm120-dsa: indexer-only stand-in for deep_gemm")
        deep_gemm.__spec__ = importlib.machinery.ModuleSpec("deep_gemm", None)
        deep_gemm.get_num_sms, deep_gemm.set_num_sms = ops.get_num_sms, ops.set_num_sms
        deep_gemm.__sglang_sm120_dsa_stand_in__ = True
        sys.modules["deep_gemm"] = deep_gemm
        logger.info("sglang-sm120-dsa: deep_gemm does not import (%s: %s); installed an indexer-only stand-in "
                    "(no GEMMs, so SGLang will not use DeepGEMM GEMMs)", type(e).__name__, e)
    else:
        from .. import deepgemm

        deepgemm.originals()  # keep the real kernels for the deepgemm family before replacing them
    for op in DEEP_GEMM_OPS:
        current = getattr(deep_gemm, op, None)
        if not hasattr(current, ROUTED_MARK):
            setattr(deep_gemm, op, _routed(op, current))


def _resolver(op: str) -> Callable[[], Callable]:
    routed = getattr(ops, op)

    def resolve():
        return routed

    return resolve


def _jit_metadata(seq_lens: torch.Tensor, page_size: int, num_sm: int) -> torch.Tensor:
    """SGLang's dsv4 planner signature: one row per request, any integer dtype."""
    return ops.get_paged_mqa_logits_metadata(seq_lens.reshape(-1).to(torch.int32), page_size, num_sm)


@functools.cache
def _needs_torch_act_quant(device: torch.device) -> bool:
    return device.type == "cuda" and dispatch.capability(device) < _NATIVE_FP8


def _act_quant(original: Callable, x: torch.Tensor, *args, **kwargs):
    if _needs_torch_act_quant(x.device):
        return act_quant(x, *args, **kwargs)
    return original(x, *args, **kwargs)


_warmed: set[tuple[torch.device, int | None]] = set()


def _after_backends_built(result, runner, *args, **kwargs) -> None:
    """The decision (and DeepGEMM's self-check) and the kernel compilation, before SGLang captures graphs."""
    device = torch.device("cuda", torch.cuda.current_device())
    heads = getattr(runner.model_config.hf_config, "index_n_heads", None)
    decision = dispatch.decide(device)
    if (device, heads) not in _warmed:
        logger.info("sglang-sm120-dsa: %s", decision.summary())
        # SGLang's index-K caches have 64-token pages on every path (spec: sglang-integration.md)
        count = ops.warmup(device, heads, progress=lambda line: logger.info("sglang-sm120-dsa warmup: %s", line),
                           block_kv=64)
        logger.info("sglang-sm120-dsa: %d kernel variants ready for %s heads", count, heads or "all")
        _warmed.add((device, heads))


def _register_backend_factory() -> None:
    """A ``dsa_fallback`` backend for paths that skip argument resolution: SGLang's own DSA / dsv4 backend."""
    from sglang.srt.layers.attention.attention_registry import ATTENTION_BACKENDS

    def create(runner):
        from sglang.srt.configs.model_config import is_deepseek_v4

        activate()
        return ATTENTION_BACKENDS["dsv4" if is_deepseek_v4(runner.model_config.hf_config) else "dsa"](runner)

    ATTENTION_BACKENDS.setdefault("dsa_fallback", create)
