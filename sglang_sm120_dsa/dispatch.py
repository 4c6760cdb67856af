"""Which implementation family serves an op on a device: one registry, one decision per (op, device).

Families (the values ``SGLANG_SM120_DSA_IMPL`` accepts): ``torch`` (the exact PyTorch reference), ``triton``,
``tilelang`` and ``deepgemm``. Only the families registered here exist in this build; the others are valid
names that raise a clear error when forced. ``auto`` takes, per op, the first family of :func:`cuda_order` (by
compute capability; ``_AUTO_ORDER`` for CPU tensors) that is registered, can run on the device and implements the
op: SM80/86/89 Triton, SM90/SM100 DeepGEMM after a self-check, SM120/121 TileLang, Triton wherever the preferred
family is missing (with a warning). GPUs older than SM80 are refused with the GPU's name.

The paged ops share their metadata format, so a family implements all of ``PAGED_GROUP`` or none of it; with
the same order for every op, metadata and logits always come from the same family.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging
import os
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from . import envs
from .errors import ImplementationError

__all__ = ["OPS", "PAGED_GROUP", "RAGGED_GROUP", "MIN_CAPABILITY", "Impl", "Choice", "Decision", "register",
           "registered", "available", "decide", "resolve", "explain", "describe_device", "capability", "cuda_order"]

logger = logging.getLogger("sglang_sm120_dsa")

PAGED_GROUP = ("get_paged_mqa_logits_metadata", "fp8_paged_mqa_logits", "fp8_fp4_paged_mqa_logits")
RAGGED_GROUP = ("fp8_mqa_logits", "fp8_fp4_mqa_logits")
OPS = PAGED_GROUP + RAGGED_GROUP

# Families ``auto`` tries, in order, by device type; CUDA devices go by compute capability (see cuda_order).
_AUTO_ORDER: dict[str, tuple[str, ...]] = {"cpu": ("torch",)}
MIN_CAPABILITY = (8, 0)


def cuda_order(capability: tuple[int, int]) -> tuple[tuple[str, ...], str]:
    """The families ``auto`` tries on a GPU of this compute capability, best first, and why that order.

    The PyTorch reference comes last everywhere: it only serves when no kernel family can (with a warning)."""
    major, minor = capability
    if major == 8 and minor != 9:
        return ("triton", "torch"), "SM80/86/87: Triton kernels, e4m3 decoded from bytes (no FP8 tensor cores)"
    if major == 8:
        return ("triton", "torch"), "SM89: Triton kernels with FP8 tensor-core operands"
    if major in (9, 10):
        return ("deepgemm", "triton", "torch"), "SM90/SM100: DeepGEMM ships the indexer here"
    if major == 12:
        return ("tilelang", "triton", "torch"), "SM120/121: TileLang mma.sync kernels"
    return ("triton", "torch"), f"sm_{major}{minor}: no specialised family; the portable Triton kernels"


def family_ops(metadata: Callable, paged: Callable, ragged: Callable) -> dict[str, Callable]:
    """A family's ``OPS`` table: one function per op group (the FP8 and FP8/FP4 entry points share a call type)."""
    return {"get_paged_mqa_logits_metadata": metadata, "fp8_paged_mqa_logits": paged,
            "fp8_fp4_paged_mqa_logits": paged, "fp8_mqa_logits": ragged, "fp8_fp4_mqa_logits": ragged}


def capability(device: torch.device) -> tuple[int, int]:
    """Compute capability of a CUDA device; the one place dispatch asks (tests simulate other GPUs here)."""
    return tuple(torch.cuda.get_device_capability(device))


@dataclass(frozen=True)
class Impl:
    name: str
    module: str  # imported on first use; exposes ``OPS: Mapping[op name, callable]``
    description: str
    ops: tuple[str, ...]
    device_types: tuple[str, ...]
    requires: tuple[str, ...] = ()  # modules that must be importable
    probe: Callable[[torch.device], str | None] | None = None  # further device checks, reason or None
    owns_output: bool = False  # ops return their own logits tensor instead of filling the one given
    install: str = ""  # how to get the required modules; default: this package's extra named after the first

    def unavailable(self, device: torch.device) -> str | None:
        """Why this family cannot run on ``device``, or None."""
        if device.type not in self.device_types:
            return f"runs on {' or '.join(self.device_types)} tensors, not {device.type}"
        missing = [m for m in self.requires if importlib.util.find_spec(m) is None]
        if missing:
            install = self.install or f"pip install 'sglang-sm120-dsa[{missing[0]}]'"
            return f"{', '.join(missing)} not installed ({install})"
        return self.probe(device) if self.probe else None

    def load(self) -> Mapping[str, Callable]:
        return importlib.import_module(self.module).OPS


@dataclass(frozen=True)
class Choice:
    op: str
    impl: str
    reason: str
    fn: Callable
    owns_output: bool = False


_REGISTRY: dict[str, Impl] = {}


def register(impl: Impl) -> None:
    if impl.name not in envs.IMPL.choices or impl.name == "auto":
        raise ValueError(f"unknown implementation family {impl.name!r}; families: {envs.IMPL.choices[1:]}")
    unknown = set(impl.ops) - set(OPS)
    if unknown:
        raise ValueError(f"{impl.name}: unknown ops {sorted(unknown)}")
    if any(op in impl.ops for op in PAGED_GROUP) and not all(op in impl.ops for op in PAGED_GROUP):
        raise ValueError(f"{impl.name}: implements part of {PAGED_GROUP}; the paged metadata and logits go together")
    _REGISTRY[impl.name] = impl
    _decide.cache_clear()


def registered() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def family_module(name: str) -> str:
    """The module implementing a registered family."""
    return _REGISTRY[name].module


def describe_device(device: torch.device) -> str:
    if device.type != "cuda":
        return device.type
    index = device.index if device.index is not None else torch.cuda.current_device()
    props = torch.cuda.get_device_properties(index)
    major, minor = capability(torch.device("cuda", index))
    return f"cuda:{index} ({props.name}, sm_{major}{minor}, {props.multi_processor_count} SMs)"


def available(device: torch.device) -> tuple[str, ...]:
    """Registered families that can run on ``device``."""
    return tuple(name for name, impl in _REGISTRY.items() if impl.unavailable(device) is None)


def _available(device: torch.device) -> str:
    return ", ".join(available(device)) or "none"


@dataclass(frozen=True)
class Decision:
    """What serves each op on one device: a :class:`Choice`, or the error that op raises."""
    device: torch.device
    choices: Mapping[str, Choice | ImplementationError]

    def summary(self) -> str:
        """One line: the device, then each family with its ops and why."""
        groups: dict[str, list[str]] = {}
        for op, choice in self.choices.items():
            key = f"{choice.impl} ({choice.reason})" if isinstance(choice, Choice) else f"error ({choice})"
            groups.setdefault(key, []).append(op)
        parts = [f"{', '.join(ops) if len(ops) < len(OPS) else 'all ops'} -> {key}" for key, ops in groups.items()]
        return f"{describe_device(self.device)}: {'; '.join(parts)}"


def _normalize(device: torch.device) -> torch.device:
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device


def decide(device: torch.device | str) -> Decision:
    """The implementation of every op on ``device``, honouring ``SGLANG_SM120_DSA_IMPL``. Decided once per
    device (and setting), logged in one line. A family's probe may run kernels (DeepGEMM's self-check), so call
    this before capturing CUDA graphs; the SGLang plugin does it when the attention backends are built."""
    return _decide(_normalize(torch.device(device)), envs.IMPL.get())


def resolve(op: str, device: torch.device) -> Choice:
    """The implementation of ``op`` for tensors on ``device`` (see :func:`decide`)."""
    if op not in OPS:
        raise ValueError(f"unknown op {op!r}; ops: {OPS}")
    choice = decide(device).choices[op]
    if isinstance(choice, ImplementationError):
        raise choice
    return choice


@functools.cache
def _decide(device: torch.device, requested: str) -> Decision:
    if requested not in envs.IMPL.choices:
        raise ImplementationError(
            f"{envs.IMPL.name}={requested!r} is not valid: choose one of {', '.join(envs.IMPL.choices)} "
            f"(available for {describe_device(device)}: {_available(device)})")
    if requested != "auto":
        decision = Decision(device, {op: _forced(op, device, requested) for op in OPS})
    else:
        decision = _auto(device)
    logger.info("%s", decision.summary())
    return decision


def _auto(device: torch.device) -> Decision:
    if device.type == "cuda":
        if capability(device) < MIN_CAPABILITY:
            raise ImplementationError(f"{describe_device(device)} is not supported: sglang-sm120-dsa needs compute "
                                      f"capability {MIN_CAPABILITY[0]}.{MIN_CAPABILITY[1]} (SM80, A100) or newer")
        order, why = cuda_order(capability(device))
    else:
        order, why = _AUTO_ORDER.get(device.type, ()), ""
    unavailable = {name: ("not in this build" if name not in _REGISTRY else _REGISTRY[name].unavailable(device))
                   for name in order}
    choices: dict[str, Choice | ImplementationError] = {}
    for op in OPS:
        tried = []
        for name in order:
            reason = unavailable[name] or (None if op in _REGISTRY[name].ops else f"does not implement {op}")
            if reason is None:
                impl = _REGISTRY[name]
                choices[op] = Choice(op, name, _auto_reason(name, device, why, tried), impl.load()[op],
                                     impl.owns_output)
                break
            tried.append(f"{name} ({reason})")
        else:
            choices[op] = ImplementationError(f"{op}: no implementation for {describe_device(device)}. "
                                              f"Tried: {'; '.join(tried) or 'nothing (unsupported device type)'}")
    chosen = {c.impl for c in choices.values() if isinstance(c, Choice)}
    if device.type == "cuda" and order and order[0] not in chosen:
        logger.warning("%s: %s is preferred here but unavailable (%s); using %s", describe_device(device), order[0],
                       unavailable[order[0]], ", ".join(sorted(chosen)) or "nothing")
    if device.type == "cuda" and "torch" in chosen:
        logger.warning("%s: no GPU kernel family is available; auto uses the slow PyTorch reference",
                       describe_device(device))
    return Decision(device, choices)


def _forced(op: str, device: torch.device, requested: str) -> Choice | ImplementationError:
    impl = _REGISTRY.get(requested)
    prefix = f"{envs.IMPL.name}={requested}"
    if impl is None:
        return ImplementationError(f"{prefix}: the {requested} implementation is not part of this build of "
                                   f"sglang-sm120-dsa. Available for {describe_device(device)}: {_available(device)}")
    why = impl.unavailable(device)
    if why is None and op not in impl.ops:
        why = f"it does not implement {op}"
    if why is not None:
        return ImplementationError(f"{prefix}: cannot run {op} on {describe_device(device)}: {why}. "
                                   f"Available there: {_available(device)}")
    return Choice(op, requested, f"forced by {prefix}", impl.load()[op], impl.owns_output)


def _auto_reason(name: str, device: torch.device, why: str, tried: list[str]) -> str:
    skipped = f"; skipped {', '.join(tried)}" if tried else ""
    if device.type == "cpu":
        return f"CPU tensors: the PyTorch reference is the only CPU implementation{skipped}"
    if name == "torch":
        return f"no GPU kernel family can run here; falling back to the slow reference{skipped}"
    return f"{why}{skipped}"


def explain(device: torch.device) -> list[tuple[str, Choice | Exception]]:
    """The decision for every op on ``device`` (or the error it raises), for the doctor."""
    try:
        return list(decide(device).choices.items())
    except ImplementationError as e:
        return [(op, e) for op in OPS]


register(Impl("torch", "sglang_sm120_dsa.reference", "exact PyTorch reference (CPU and GPU; slow on GPU)", OPS,
              ("cpu", "cuda")))


def _triton_probe(device: torch.device) -> str | None:
    if device.type == "cpu":
        return None if os.environ.get("TRITON_INTERPRET") == "1" else "runs on CPU tensors only with TRITON_INTERPRET=1"
    major, minor = capability(device)
    return None if major >= 8 else f"needs SM80 or newer, this is sm_{major}{minor}"


register(Impl("triton", "sglang_sm120_dsa.triton", "Triton kernels (any CUDA GPU from SM80 on)", OPS, ("cuda", "cpu"),
              requires=("triton",), probe=_triton_probe))


def _refuse_during_capture(device: torch.device, check: str) -> None:
    """Probes that run kernels (self-checks) must not run while a CUDA graph is being captured."""
    if torch.cuda.is_available() and torch.cuda.is_current_stream_capturing():
        raise ImplementationError(f"{describe_device(device)}: the implementation choice {check}, which cannot run "
                                  "during CUDA-graph capture; call sglang_sm120_dsa.decide(device) or warmup(device) "
                                  "before capturing")


def _deepgemm_probe(device: torch.device) -> str | None:
    from . import deepgemm

    why = deepgemm.unsupported_arch(capability(device)[0])
    if why is not None:
        return why
    try:
        deepgemm.originals()
    except Exception as e:  # ImportError, or a _C.so built for another torch
        return f"deep_gemm does not import: {type(e).__name__}: {e}"
    _refuse_during_capture(device, "runs DeepGEMM's self-check")
    return _deepgemm_checked(device)


@functools.cache
def _deepgemm_checked(device: torch.device) -> str | None:
    from . import deepgemm

    return deepgemm.self_check(device)


register(Impl("deepgemm", "sglang_sm120_dsa.deepgemm", "DeepGEMM's own kernels (SM90, SM100/103)", OPS, ("cuda",),
              requires=("deep_gemm",), probe=_deepgemm_probe, owns_output=True,
              install="pip install sgl-deep-gemm, which SGLang installs"))


def _tilelang_probe(device: torch.device) -> str | None:
    from .tilelang import config

    why = config.unsupported(config.arch_of(device))
    if why is not None:
        return why
    _refuse_during_capture(device, "compiles and runs TileLang's self-check")
    return _tilelang_checked(device, config.mode())


@functools.cache
def _tilelang_checked(device: torch.device, mode: str) -> str | None:
    from . import tilelang

    return tilelang.self_check(device)


register(Impl("tilelang", "sglang_sm120_dsa.tilelang", "TileLang kernels on SM120's mma.sync path (SM120/121, SM89; "
              "SM90 in SM120 mode)", OPS, ("cuda",), requires=("tilelang",), probe=_tilelang_probe))
