"""The environment reads (sglang_sm120_dsa.envs)."""

from __future__ import annotations

import os

import pytest

from sglang_sm120_dsa import envs


@pytest.mark.parametrize("var", envs.ENV_VARS, ids=lambda v: v.name)
def test_env_reads_follow_os_environ(monkeypatch, var) -> None:
    """``EnvVar.raw`` reads os.environ's backing dict (the launchers read their settings on every call): it must see
    every way of changing the environment that ``os.environ.get`` sees."""
    assert envs._FAST, "CPython's os.environ: the fast read is the one under test"
    monkeypatch.delenv(var.name, raising=False)
    assert var.raw() is None and var.get() == var.default
    monkeypatch.setenv(var.name, " Sm80 ")
    assert var.raw() == " Sm80 " and var.get() == "sm80"
    os.environ[var.name] = "x\u00e9"  # (monkeypatch restores it)
    assert var.raw() == "x\u00e9" == os.environ.get(var.name)
    os.environ.update({var.name: ""})
    assert var.raw() == "" and var.get() == var.default
    os.environ.pop(var.name)
    assert var.raw() is None
    os.environ.setdefault(var.name, "off")
    assert var.raw() == "off"
    monkeypatch.delenv(var.name)
    assert var.raw() is None
