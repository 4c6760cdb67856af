"""The environment that routes the public API through one implementation family and mode (tests, benchmarks)."""

from __future__ import annotations

from .. import envs


def family_env(name: str, mode: str = "auto") -> dict[str, str]:
    """Settings for family ``name`` (``torch``, ``triton``, ``tilelang``, ``deepgemm``) in ``mode``: for Triton an FP8
    operand path (``native``, ``bytes``), ``portable`` (native FP8 without the SM90 Gluon kernel) or another arch's
    whole program (``sm80``, ``sm86``, ``sm89``, ``sm120``, ``sm121``); for TileLang its instruction set."""
    triton = name == "triton"
    portable = triton and mode == "portable"
    emulated = triton and mode.startswith("sm")
    return {envs.IMPL.name: name,
            envs.TRITON_FP8.name: "native" if portable else mode if triton and not emulated else "auto",
            envs.TRITON_SM90.name: "off" if portable else "auto",
            envs.TRITON_ARCH.name: mode if emulated else "auto",
            envs.TILELANG_MODE.name: mode if name == "tilelang" else "auto"}
