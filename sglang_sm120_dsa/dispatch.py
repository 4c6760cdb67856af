"""Which implementation family serves an op on a device: one registry, one decision per (op, device).

Families (the values ``SGLANG_SM120_DSA_IMPL`` accepts): ``torch`` (the exact PyTorch reference), ``triton``,
``tilelang`` and ``deepgemm``. Only the families registered here exist in this build; the others are valid
names that raise a clear error when forced. ``auto`` takes the first family in ``_AUTO_ORDER`` for the device
type that is registered, can run on the device and implements the op.

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

__all__ = ["OPS", "PAGED_GROUP", "RAGGED_GROUP", "Impl", "Choice", "register", "registered", "available", "resolve",
           "explain", "describe_device"]

logger = logging.getLogger("sglang_sm120_dsa")

PAGED_GROUP = ("get_paged_mqa_logits_metadata", "fp8_paged_mqa_logits", "fp8_fp4_paged_mqa_logits")
RAGGED_GROUP = ("fp8_mqa_logits", "fp8_fp4_mqa_logits")
OPS = PAGED_GROUP + RAGGED_GROUP

# Preference per device type; the reference is the last resort on GPUs.
_AUTO_ORDER: dict[str, tuple[str, ...]] = {"cpu": ("torch",), "cuda": ("triton", "torch")}


@dataclass(frozen=True)
class Impl:
    name: str
    module: str  # imported on first use; exposes ``OPS: Mapping[op name, callable]``
    description: str
    ops: tuple[str, ...]
    device_types: tuple[str, ...]
    requires: tuple[str, ...] = ()  # modules that must be importable
    probe: Callable[[torch.device], str | None] | None = None  # further device checks, reason or None

    def unavailable(self, device: torch.device) -> str | None:
        """Why this family cannot run on ``device``, or None."""
        if device.type not in self.device_types:
            return f"runs on {' or '.join(self.device_types)} tensors, not {device.type}"
        missing = [m for m in self.requires if importlib.util.find_spec(m) is None]
        if missing:
            return f"{', '.join(missing)} not installed (pip install 'sglang-sm120-dsa[{missing[0]}]')"
        return self.probe(device) if self.probe else None

    def load(self) -> Mapping[str, Callable]:
        return importlib.import_module(self.module).OPS


@dataclass(frozen=True)
class Choice:
    op: str
    impl: str
    reason: str
    fn: Callable


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
    _resolve.cache_clear()


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
    return f"cuda:{index} ({props.name}, sm_{props.major}{props.minor}, {props.multi_processor_count} SMs)"


def available(device: torch.device) -> tuple[str, ...]:
    """Registered families that can run on ``device``."""
    return tuple(name for name, impl in _REGISTRY.items() if impl.unavailable(device) is None)


def _available(device: torch.device) -> str:
    return ", ".join(available(device)) or "none"


def resolve(op: str, device: torch.device) -> Choice:
    """The implementation of ``op`` for tensors on ``device``, honouring ``SGLANG_SM120_DSA_IMPL``."""
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return _resolve(op, device, envs.IMPL.get())


@functools.cache
def _resolve(op: str, device: torch.device, requested: str) -> Choice:
    if op not in OPS:
        raise ValueError(f"unknown op {op!r}; ops: {OPS}")
    if requested not in envs.IMPL.choices:
        raise ImplementationError(
            f"{envs.IMPL.name}={requested!r} is not valid: choose one of {', '.join(envs.IMPL.choices)} "
            f"(available for {describe_device(device)}: {_available(device)})")
    if requested != "auto":
        return _forced(op, device, requested)

    tried = []
    for name in _AUTO_ORDER.get(device.type, ()):
        impl = _REGISTRY.get(name)
        why = "not in this build" if impl is None else impl.unavailable(device)
        if why is None and op not in impl.ops:
            why = f"does not implement {op}"
        if why is not None:
            tried.append(f"{name} ({why})")
            continue
        choice = Choice(op, name, _auto_reason(name, device, tried), impl.load()[op])
        if device.type == "cuda" and name == "torch":
            _warn_reference_on_gpu(device)
        logger.info("%s on %s -> %s (%s)", op, describe_device(device), name, choice.reason)
        return choice
    raise ImplementationError(f"{op}: no implementation for {describe_device(device)}. "
                              f"Tried: {'; '.join(tried) or 'nothing (unsupported device type)'}")


@functools.cache
def _warn_reference_on_gpu(device: torch.device) -> None:
    logger.warning("%s: no GPU kernel family is available; auto uses the slow PyTorch reference",
                   describe_device(device))


def _forced(op: str, device: torch.device, requested: str) -> Choice:
    impl = _REGISTRY.get(requested)
    prefix = f"{envs.IMPL.name}={requested}"
    if impl is None:
        raise ImplementationError(f"{prefix}: the {requested} implementation is not part of this build of "
                                  f"sglang-sm120-dsa. Available for {describe_device(device)}: {_available(device)}")
    why = impl.unavailable(device)
    if why is None and op not in impl.ops:
        why = f"it does not implement {op}"
    if why is not None:
        raise ImplementationError(f"{prefix}: cannot run {op} on {describe_device(device)}: {why}. "
                                  f"Available there: {_available(device)}")
    return Choice(op, requested, f"forced by {prefix}", impl.load()[op])


def _auto_reason(name: str, device: torch.device, tried: list[str]) -> str:
    skipped = f"; skipped {', '.join(tried)}" if tried else ""
    if device.type == "cpu":
        return f"CPU tensors: the PyTorch reference is the only CPU implementation{skipped}"
    if name == "torch":
        return f"no GPU kernel family in this build; falling back to the slow reference{skipped}"
    return f"preferred family for {describe_device(device)}{skipped}"


def explain(device: torch.device) -> list[tuple[str, Choice | Exception]]:
    """The decision for every op on ``device`` (or the error it raises), for the doctor."""
    result: list[tuple[str, Choice | Exception]] = []
    for op in OPS:
        try:
            result.append((op, resolve(op, device)))
        except ImplementationError as e:
            result.append((op, e))
    return result


register(Impl("torch", "sglang_sm120_dsa.reference", "exact PyTorch reference (CPU and GPU; slow on GPU)", OPS,
              ("cpu", "cuda")))


def _triton_probe(device: torch.device) -> str | None:
    if device.type == "cpu":
        return None if os.environ.get("TRITON_INTERPRET") == "1" else "runs on CPU tensors only with TRITON_INTERPRET=1"
    major, minor = torch.cuda.get_device_capability(device)
    return None if major >= 8 else f"needs SM80 or newer, this is sm_{major}{minor}"


register(Impl("triton", "sglang_sm120_dsa.triton", "Triton kernels (any CUDA GPU from SM80 on)", OPS, ("cuda", "cpu"),
              requires=("triton",), probe=_triton_probe))
