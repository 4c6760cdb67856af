"""Launch a jitted kernel without Triton's per-call argument binding.

``kernel[grid](*args, **constexprs)`` binds every argument, builds a cache key from their specializations and
checks the kernel's globals on each call: on an H100 host ~30 us per launch (Triton 3.6 and 3.9), twice the launch
itself. A :class:`Kernel` fixes the constexprs and launch options of one tile config, launches through Triton's
JIT the first time each argument class (below) appears on a device, keeps the compiled kernel it returns, and from
then on calls that compiled kernel directly, handing it the tensors' addresses. The result is the same launch: the
same compiled kernel, grid, stream, arguments and launch hooks.

An argument class is what Triton specializes on besides the constexprs: pointer alignment (16 bytes) where a
pointer is not in ``do_not_specialize_on_alignment``, ``== 1`` and divisibility by 16 for integers not in
``do_not_specialize``, and every integer's width (i32, i64, u64). The pointers' element types are the views of
``views``, fixed per kernel. Triton's runtime knobs (``TRITON_DEBUG`` and the like) are read when the class is first
seen. The direct call uses the ``CompiledKernel`` interface of Triton 3.6 to 3.9: ``SGLANG_SM120_DSA_TRITON_LAUNCH``
(``auto``) launches directly with the versions the GPU tests ran it with (3.6 and 3.9, H100) and through the JIT
with others (logged once); ``jit`` and ``direct`` force one or the other (``direct`` from 3.6 on).
The interpreter always takes the JIT path.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence

import torch

from .. import envs
from ..errors import ImplementationError
from .config import triton_version

try:
    from triton import knobs
    from triton.runtime.driver import driver
except ImportError:  # (before Triton 3.4: no direct launch, see _DIRECT_VERSIONS)
    knobs = driver = None

_I32 = (-(1 << 31), (1 << 31) - 1)
_DIRECT_VERSIONS = ((3, 6), (3, 9))  # where the GPU tests ran the direct launches (tests/gpu, H100; 3.7/3.8 not)
_DIRECT_API = (3, 6)  # the oldest Triton whose CompiledKernel and launcher take the call below


def _direct() -> bool:
    """Whether compiled kernels are called directly (``SGLANG_SM120_DSA_TRITON_LAUNCH``, the Triton version)."""
    choice, version = envs.TRITON_LAUNCH.choice(), triton_version()
    if choice == "direct" and version < _DIRECT_API:
        raise ImplementationError(f"{envs.TRITON_LAUNCH.name}=direct needs Triton >= "
                                  f"{'.'.join(map(str, _DIRECT_API))}, this is {'.'.join(map(str, version))}")
    if choice == "auto" and version not in _DIRECT_VERSIONS:
        _note_jit_launches(version)
        return False
    return choice != "jit"


@functools.cache
def _note_jit_launches(version: tuple[int, int]) -> None:
    logging.getLogger("sglang_sm120_dsa").info(
        "triton %d.%d: the Triton kernels launch through Triton's JIT (direct launches, ~30 us less host time per "
        "call, are on by default with the versions the GPU tests ran them with, %s; %s=direct forces them)",
        *version, ", ".join(".".join(map(str, v)) for v in sorted(set(_DIRECT_VERSIONS))), envs.TRITON_LAUNCH.name)


def _width(v: int) -> str:
    return "i32" if _I32[0] <= v <= _I32[1] else "u64" if v >= 1 << 63 else "i64"


class Kernel:
    """``fn`` with fixed ``constexprs`` and launch ``options``; ``views[i]`` is the dtype pointer argument ``i``
    is viewed as for Triton (its pointer type). The kernel's parameters must be its pointers, then its runtime
    integers, then its constexprs."""

    def __init__(self, fn, views: Sequence[torch.dtype], constexprs: dict, options: dict):
        self.fn = fn
        self.views = tuple(views)
        self.kwargs = {**constexprs, **options}
        self.compiled: dict[tuple, tuple] = {}
        # (the interpreter's kernels, and stand-ins in tests, have no parameter list: they take the JIT path)
        params = getattr(fn, "params", None)
        self.direct = params is not None and os.environ.get("TRITON_INTERPRET") != "1" and _direct()
        if not self.direct:
            return
        runtime = [p for p in params if not p.is_constexpr]
        if any(p.is_constexpr for p in params[: len(runtime)]) or any(p.name not in constexprs and not p.has_default
                                                                       for p in params[len(runtime):]):
            raise ValueError(f"{fn.__name__}: constexpr parameters must come last, each given or defaulted")
        self.tail = tuple(constexprs[p.name] if p.name in constexprs else p.default for p in params[len(runtime):])
        self.aligned = tuple(i for i, p in enumerate(runtime[: len(views)]) if not p.do_not_specialize_on_alignment)
        self.special = tuple(i for i, p in enumerate(runtime[len(views):]) if not p.do_not_specialize)

    def arg_class(self, addrs: Sequence[int], ints: Sequence[int]) -> tuple:
        """What Triton's specialization of these arguments (the pointers' addresses, the integers) depends on, beyond
        the views and constexprs."""
        key = tuple(addrs[i] % 16 == 0 for i in self.aligned)
        if self.special:
            key += tuple(1 if ints[i] == 1 else 16 if ints[i] % 16 == 0 else 0 for i in self.special)
        if ints and (min(ints) < _I32[0] or max(ints) > _I32[1]):
            key += tuple(_width(v) for v in ints)
        return key

    def __call__(self, grid: tuple, ptrs: Sequence[torch.Tensor], ints: Sequence[int]) -> None:
        if not self.direct:
            self._jit(grid, ptrs, ints)
            return
        active = driver.active
        device = active.get_current_device()
        # Addresses, not tensors: for a tensor Triton's launcher calls data_ptr() and checks the address with
        # cuPointerGetAttribute, a driver call per pointer on every launch; the ops' checks already put every
        # tensor on the device.
        addrs = [p.data_ptr() for p in ptrs]
        key = (device, self.arg_class(addrs, ints))
        entry = self.compiled.get(key)
        if entry is None:
            kernel = self._jit(grid, ptrs, ints)
            if kernel is not None:
                self.compiled[key] = (kernel, kernel.run, kernel.function, kernel.packed_metadata)
            return
        kernel, run, function, packed = entry
        stream = active.get_current_stream(device)
        grid = (*grid, 1, 1)[:3]
        enter = knobs.runtime.launch_enter_hook  # (a HookChain: its metadata only for hooks that are there)
        meta = (kernel.launch_metadata(grid, stream, *ptrs, *ints, *self.tail)
                if enter is not None and getattr(enter, "calls", True) else None)
        run(grid[0], grid[1], grid[2], stream, function, packed, meta, enter, knobs.runtime.launch_exit_hook,
            *addrs, *ints, *self.tail)

    def _jit(self, grid: tuple, ptrs: Sequence[torch.Tensor], ints: Sequence[int]):
        typed = [p.view(dtype) for p, dtype in zip(ptrs, self.views, strict=True)]
        return self.fn[grid](*typed, *ints, **self.kwargs)


_KERNELS: dict[tuple, Kernel] = {}


def kernel(fn, views: Sequence[torch.dtype | None], constexprs: dict, options: dict) -> Kernel:
    """The shared :class:`Kernel` of ``fn`` for these views, constexprs and options."""
    key = (fn, tuple(views), tuple(constexprs.items()), tuple(options.items()))
    found = _KERNELS.get(key)
    if found is None:
        found = _KERNELS[key] = Kernel(fn, views, constexprs, options)
    return found


def forget() -> None:
    """Drop every :class:`Kernel` (tests that replace the jitted kernels)."""
    _KERNELS.clear()
