"""triton/fastlaunch.py without a GPU: which arguments make a new class (what Triton specializes on), the parameter
layout it requires, and the JIT path it keeps for the interpreter. The direct launch itself runs in every GPU test
(tests/gpu: each Triton op's second call), and aot's kernels' layouts are checked in test_triton_aot.py."""

from __future__ import annotations

import pytest
import torch
import triton
import triton.language as tl
from triton.runtime.jit import JITFunction

from sglang_sm120_dsa.triton import fastlaunch


def _toy(x_ptr, y_ptr, n, stride, BLOCK: tl.constexpr, FLAG: tl.constexpr = False):
    pass


def _constexpr_first(BLOCK: tl.constexpr, x_ptr, n):
    pass


def _direct(monkeypatch, fn, views, constexprs) -> fastlaunch.Kernel:
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)  # (the analysis is skipped under the interpreter)
    return fastlaunch.Kernel(fn, views, constexprs, {"num_warps": 4})


def test_argument_classes(monkeypatch) -> None:
    """Alignment of the specialized pointer, ``== 1`` / divisibility by 16 of the specialized integer, and any
    integer beyond int32 change the class; values that Triton compiles alike do not."""
    fn = JITFunction(_toy, do_not_specialize=["n"], do_not_specialize_on_alignment=["y_ptr"])
    kernel = _direct(monkeypatch, fn, (torch.uint8, torch.int32), {"BLOCK": 64})
    assert kernel.direct and kernel.aligned == (0,) and kernel.special == (1,) and kernel.tail == (64, False)
    base = kernel.arg_class((256, 4), (5, 32))
    assert base == kernel.arg_class((512, 8), (70000, 64))  # y's alignment and n's value: not specialized
    others = [kernel.arg_class((260, 4), (5, 32)),  # x off 16 bytes
              kernel.arg_class((256, 4), (5, 1)),  # stride == 1
              kernel.arg_class((256, 4), (5, 24)),  # stride not a multiple of 16
              kernel.arg_class((256, 4), (1 << 31, 32)),  # n needs 64 bits
              kernel.arg_class((256, 4), (5, 1 << 32)),
              kernel.arg_class((256, 4), (1 << 63, 32))]  # u64
    assert len({base, *others}) == 1 + len(others), others
    assert kernel.arg_class((256, 4), (-(1 << 31) - 1, 32)) == others[3]  # i64 either way
    assert kernel.arg_class((256, 4), ((1 << 31) - 1, -(1 << 31))) == base  # int32's bounds


def test_direct_calls_pass_addresses(monkeypatch) -> None:
    """A class's first call goes through the JIT (typed tensors); later calls hand Triton's launcher the tensors'
    addresses (so it neither calls data_ptr() nor checks each pointer with the driver), then the integers and the
    constexprs, on the current stream, with the class from those addresses."""
    fn = JITFunction(_toy, do_not_specialize=["n"], do_not_specialize_on_alignment=["y_ptr"])
    kernel = _direct(monkeypatch, fn, (torch.uint8, torch.int32), {"BLOCK": 64})
    launched, jitted = [], []
    compiled = type("Compiled", (), {"function": 11, "packed_metadata": 12,
                                     "run": staticmethod(lambda *a: launched.append(a))})()
    kernel._jit = lambda grid, ptrs, ints: jitted.append((grid, tuple(ptrs), tuple(ints))) or compiled
    active = type("Active", (), {"get_current_device": lambda self: 0, "get_current_stream": lambda self, d: 99})()
    monkeypatch.setattr(fastlaunch, "driver", type("Driver", (), {"active": active})())
    monkeypatch.setattr(fastlaunch.knobs.runtime, "launch_enter_hook", None)
    monkeypatch.setattr(fastlaunch.knobs.runtime, "launch_exit_hook", None)
    x, y = torch.zeros(64, dtype=torch.float32), torch.zeros(8, dtype=torch.int32)
    kernel((5,), (x, y), (7, 32))
    assert jitted == [((5,), (x, y), (7, 32))] and not launched
    kernel((5, 2), (x, y), (9, 48))  # (same class: n is not specialized, 48 % 16 == 0 like 32)
    assert len(jitted) == 1 and len(launched) == 1
    assert launched[0] == (5, 2, 1, 99, 11, 12, None, None, None, x.data_ptr(), y.data_ptr(), 9, 48, 64, False)
    assert all(type(a) is int for a in launched[0][9:11])
    assert list(kernel.compiled) == [(0, kernel.arg_class((x.data_ptr(), y.data_ptr()), (7, 32)))]


def test_parameter_layout_is_checked(monkeypatch) -> None:
    with pytest.raises(ValueError, match="constexpr parameters must come last"):
        _direct(monkeypatch, JITFunction(_constexpr_first), (torch.uint8,), {"BLOCK": 64})
    with pytest.raises(ValueError, match="each given or defaulted"):
        _direct(monkeypatch, JITFunction(_toy), (torch.uint8, torch.uint8), {})


def test_interpreter_and_stand_ins_take_the_jit_path() -> None:
    """Under the interpreter (these tests), and for kernels without Triton's parameter list, every call goes through
    ``fn[grid](*typed args, **constexprs, **options)``, with each pointer viewed as its declared dtype."""
    calls = []
    stand_in = type("StandIn", (), {"__getitem__": lambda self, grid: lambda *a, **kw: calls.append((grid, a, kw))})()
    kernel = fastlaunch.Kernel(stand_in, (torch.uint8, torch.int32), {"BLOCK": 64}, {"num_warps": 4})
    assert not kernel.direct
    x, y = torch.zeros(4, dtype=torch.float32), torch.zeros(2, dtype=torch.int32)
    kernel((3,), (x, y), (7, 16))
    kernel((3,), (x, y), (7, 16))
    assert len(calls) == 2 and not kernel.compiled
    grid, args, kwargs = calls[0]
    assert grid == (3,) and args[0].dtype == torch.uint8 and args[0].shape == (16,) and args[1].dtype == torch.int32
    assert [a.data_ptr() for a in args[:2]] == [x.data_ptr(), y.data_ptr()]
    assert args[2:] == (7, 16) and kwargs == {"BLOCK": 64, "num_warps": 4}
    assert not fastlaunch.Kernel(triton.jit(_toy), (torch.uint8,) * 2, {"BLOCK": 64}, {}).direct  # (interpreter)


def test_kernels_are_shared() -> None:
    fn = JITFunction(_toy)
    a = fastlaunch.kernel(fn, (torch.uint8, torch.int32), {"BLOCK": 64}, {"num_warps": 4})
    assert fastlaunch.kernel(fn, (torch.uint8, torch.int32), {"BLOCK": 64}, {"num_warps": 4}) is a
    assert fastlaunch.kernel(fn, (torch.uint8, torch.int32), {"BLOCK": 128}, {"num_warps": 4}) is not a
    fastlaunch.forget()
    assert fastlaunch.kernel(fn, (torch.uint8, torch.int32), {"BLOCK": 64}, {"num_warps": 4}) is not a


def test_unvalidated_triton_versions_launch_through_the_jit(monkeypatch, caplog) -> None:
    """``auto``: direct launches only with the Triton the GPU tests ran them with; others keep the JIT path and say
    so. ``SGLANG_SM120_DSA_TRITON_LAUNCH`` forces either (``direct`` from Triton 3.6 on)."""
    from sglang_sm120_dsa.errors import ImplementationError

    toy = JITFunction(_toy)
    views, constexprs = (torch.uint8, torch.int32), {"BLOCK": 64}
    monkeypatch.setattr(fastlaunch, "triton_version", lambda: (3, 7))
    fastlaunch._note_jit_launches.cache_clear()
    with caplog.at_level("INFO", logger="sglang_sm120_dsa"):
        assert not _direct(monkeypatch, toy, views, constexprs).direct
    assert "triton 3.7: the Triton kernels launch through Triton's JIT" in caplog.text
    assert "the GPU tests ran them with, 3.6, 3.9;" in caplog.text
    monkeypatch.setenv("SGLANG_SM120_DSA_TRITON_LAUNCH", "direct")
    assert _direct(monkeypatch, toy, views, constexprs).direct
    monkeypatch.setattr(fastlaunch, "triton_version", lambda: (3, 5))
    with pytest.raises(ImplementationError, match="SGLANG_SM120_DSA_TRITON_LAUNCH=direct needs Triton >= 3.6"):
        _direct(monkeypatch, toy, views, constexprs)
    monkeypatch.setattr(fastlaunch, "triton_version", lambda: (3, 9))
    monkeypatch.setenv("SGLANG_SM120_DSA_TRITON_LAUNCH", "jit")
    assert not _direct(monkeypatch, toy, views, constexprs).direct
    monkeypatch.setenv("SGLANG_SM120_DSA_TRITON_LAUNCH", "auto")
    assert _direct(monkeypatch, toy, views, constexprs).direct
    monkeypatch.setattr(fastlaunch, "triton_version", lambda: (3, 6))
    assert _direct(monkeypatch, toy, views, constexprs).direct
