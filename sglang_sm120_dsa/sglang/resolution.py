"""What ``--attention-backend dsa_fallback`` means, decided during SGLang's argument resolution (launcher only).

The policy functions (:func:`env_overrides`, :func:`sparse_backends`) are plain functions of the GPU's compute
capability and the model, so they can be read and tested without SGLang; :func:`install` wires them into
SGLang's ``handle_model_specific_adjustments`` step.
"""

from __future__ import annotations

import logging
import os

import torch

from .. import envs
from ..dispatch import MIN_CAPABILITY
from ..dispatch import capability as device_capability
from . import BACKEND
from . import SUPPORTED_SGLANG

__all__ = ["install", "install_version_guard", "model_kind", "env_overrides", "sparse_backends"]

logger = logging.getLogger("sglang_sm120_dsa.sglang")

_STEP = "handle_model_specific_adjustments"
_BACKEND_FIELDS = ("attention_backend", "prefill_attention_backend", "decode_attention_backend")
_DSA_SPARSE_FIELDS = ("dsa_prefill_backend", "dsa_decode_backend")
_SOURCE = "sglang_sm120_dsa"
MODELS = "DeepSeek Sparse Attention models (DeepSeek-V3.2, GLM-5, DeepSeek-V4, any DeepSeek-family config with " \
         "index_topk)"


def model_kind(hf_config) -> str | None:
    """SGLang's backend for the model: ``dsa`` (V3.2, GLM-5, ...), ``dsv4`` (DeepSeek-V4), or None (not DSA)."""
    from sglang.srt.configs.model_config import is_deepseek_dsa
    from sglang.srt.configs.model_config import is_deepseek_v4

    if is_deepseek_v4(hf_config):
        return "dsv4"
    return "dsa" if is_deepseek_dsa(hf_config) else None


def env_overrides(capability: tuple[int, int]) -> dict[str, bool]:
    """SGLang switches that would take indexer calls away from us, or cannot run on this GPU."""
    overrides = {
        "SGLANG_FP8_PAGED_MQA_LOGITS_TORCH": False,  # its torch indexer (next_n 1 only, no V4 schedule)
        "SGLANG_OPT_USE_TILELANG_INDEXER": False,  # its TileLang indexer (V4 default on SM120)
    }
    if capability[0] not in (9, 10):  # cluster launch and large shared memory: SM90/SM100 only
        overrides["SGLANG_OPT_USE_TOPK_V2"] = False
    return overrides


def sparse_backends(capability: tuple[int, int], glm: bool, kv_cache_dtype: str, learnable_sink: bool) -> str | None:
    """The DSA sparse-attention backend (prefill and decode) to declare where SGLang's defaults cannot run, or
    None to keep SGLang's choice. Its defaults (flashmla_sparse/fa3 below SM100, trtllm from SM100) need SM90 or
    SM100 kernels; on SM120 it already picks flashinfer_sparse_mla for GLM with an FP8 cache; sink models must
    keep flashmla_sparse."""
    major = capability[0]
    if learnable_sink or major in (9, 10):
        return None
    if major == 12 and glm and kv_cache_dtype == "fp8_e4m3":
        return None
    return "tilelang" if major in (8, 12) else None


def _requested(server_args) -> bool:
    raw = getattr(server_args, "_raw_input", None) or {}
    return BACKEND in (raw.get(field) for field in _BACKEND_FIELDS)


def _set_env(overrides: dict[str, bool]) -> None:
    from sglang.srt.environ import envs as sglang_envs

    for name, value in overrides.items():
        var = getattr(sglang_envs, name)
        if var.is_set() and var.get() != value:
            logger.warning("sglang-sm120-dsa: %s=%s overridden to %s for --attention-backend %s", name,
                           os.environ[name], value, BACKEND)
        var.set(value)


def _resolve(server_args, previous) -> None:
    if not _requested(server_args):
        return previous(server_args)
    from sglang.srt.arg_groups.overrides import declare_resolution
    from sglang.srt.arg_groups.overrides import model_config_of
    from sglang.srt.arg_groups.overrides import resolution_result

    hf_config = model_config_of(server_args).hf_config
    arch = (getattr(hf_config, "architectures", None) or ["?"])[0]
    kind = model_kind(hf_config)
    if kind is None:
        raise ValueError(f"--attention-backend {BACKEND} serves {MODELS}; {arch} is not one. "
                         "Choose another attention backend for this model.")
    capability = device_capability(torch.device("cuda"))
    if capability < MIN_CAPABILITY:
        raise ValueError(f"--attention-backend {BACKEND}: sm_{capability[0]}{capability[1]} is not supported; "
                         f"sglang-sm120-dsa needs SM80 (A100) or newer")
    _set_env(env_overrides(capability))
    previous(server_args)

    declared = {field: kind for field in _BACKEND_FIELDS if server_args._raw_input.get(field) == BACKEND}
    sparse = None
    if kind == "dsa":
        kv = resolution_result(server_args, "kv_cache_dtype")
        sparse = sparse_backends(capability, arch == "GlmMoeDsaForCausalLM", kv,
                                 bool(getattr(hf_config, "learnable_sink", False)))
        if sparse is not None:  # only where the user did not choose
            declared.update({f: sparse for f in _DSA_SPARSE_FIELDS if server_args._raw_input.get(f) is None})
    elif capability[0] == 8:
        logger.warning("sglang-sm120-dsa: SGLang %s has no DeepSeek-V4 sparse-attention kernels below SM90; "
                       "%s serves V4's indexer, the attention itself may not run here", SUPPORTED_SGLANG, BACKEND)
    declare_resolution(server_args, _SOURCE, **declared)
    if sparse is not None:  # SGLang validated its own pair inside previous(); ours is validated here
        _check_sparse(server_args, kv)
    os.environ[envs.SGLANG.name] = "on"  # the scheduler processes spawned next inherit it
    from . import routing

    routing.activate()
    logger.info("sglang-sm120-dsa: %s on sm_%d%d -> %s", BACKEND, *capability,
                ", ".join(f"{k}={v}" for k, v in declared.items()))


def _check_sparse(server_args, kv_cache_dtype: str) -> None:
    """SGLang's own validation of the DSA backend pair, run on what was declared."""
    from sglang.srt.arg_groups.overrides import _check_dsa_backend_constraints
    from sglang.srt.arg_groups.overrides import resolution_result

    _check_dsa_backend_constraints(kv_cache_dtype, *(resolution_result(server_args, f) for f in _DSA_SPARSE_FIELDS),
                                   hip=False, dcp_size=resolution_result(server_args, "dcp_size") or 1)


def _hook_once(step: str, fn) -> None:
    from sglang.srt.arg_groups.resolution_hooks import _HOOKS
    from sglang.srt.arg_groups.resolution_hooks import register_resolution_hook

    if fn not in _HOOKS.get(step, ()):
        register_resolution_hook(step)(fn)


def install() -> None:
    _hook_once(_STEP, _resolve)


def _version_guard(server_args, previous) -> None:
    if _requested(server_args):
        from . import sglang_version

        found = sglang_version()
        raise RuntimeError(f"--attention-backend {BACKEND} needs SGLang {SUPPORTED_SGLANG}, found SGLang {found}: "
                           f"sglang-sm120-dsa patches SGLang's indexer call sites, which change between releases. "
                           f"Install sglang=={SUPPORTED_SGLANG}, or a sglang-sm120-dsa release that supports {found}.")
    previous(server_args)


def install_version_guard() -> None:
    """With an unsupported SGLang, asking for dsa_fallback stops resolution (at startup) with the guard's message;
    nothing else is installed."""
    _hook_once("handle_deprecated_dp_attention", _version_guard)
