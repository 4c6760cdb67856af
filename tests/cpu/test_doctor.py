"""`python -m sglang_sm120_dsa` on a CPU-only machine, and its exit code when a check fails."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import torch

from sglang_sm120_dsa import __main__ as doctor
from sglang_sm120_dsa import dispatch
from sglang_sm120_dsa import reference


def test_doctor_runs_and_reports_the_reference_healthy() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}  # as a user runs it, not this tier's setting
    proc = subprocess.run([sys.executable, "-m", "sglang_sm120_dsa"], capture_output=True, text=True, timeout=300,
                          env=env)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert f"torch {torch.__version__}" in out
    if not torch.cuda.is_available():
        assert "device: no CUDA device (CPU only)" in out
    for op in dispatch.OPS:
        assert f"  {op}" in out
    assert out.count(" PASS ") >= 7 and " FAIL " not in out
    assert "start-up compile" in out
    assert "benchmark on" in out and " us " in out
    assert out.rstrip().splitlines()[-1].startswith("OK: sglang-sm120-dsa")


def test_doctor_fails_on_a_wrong_implementation(monkeypatch, capsys) -> None:
    real = reference.OPS["fp8_fp4_mqa_logits"]

    def off_by_a_bit(call, out):
        real(call, out)
        out.mul_(1.001)

    monkeypatch.setitem(reference.OPS, "fp8_fp4_mqa_logits", off_by_a_bit)
    dispatch._decide.cache_clear()
    try:
        assert doctor.main(["--no-bench", "--device", "cpu"]) == 1
    finally:
        dispatch._decide.cache_clear()
    out = capsys.readouterr().out
    assert " FAIL " in out and "FAILED: sglang-sm120-dsa" in out


def test_doctor_times_the_startup_compile_and_reports_its_failure(monkeypatch, capsys) -> None:
    """On a GPU the doctor runs the chosen family's warmup for 64 heads and SGLang's 64-token pages and prints its
    time (or the failure)."""
    monkeypatch.setattr(doctor.dispatch, "resolve", lambda op, device: SimpleNamespace(impl="tilelang"))
    seen = []

    def warmup(device, num_heads, progress, block_kv):
        seen.append((num_heads, block_kv))
        progress("compiled 1/27: paged[...] (1 s)")
        return 27

    monkeypatch.setattr(doctor.ops, "warmup", warmup)
    assert doctor.compile_time(torch.device("cuda", 0))
    out = capsys.readouterr().out
    assert seen == [(64, 64)] and "start-up compile (tilelang, H=64)" in out and "compiled 1/27" in out
    assert "27 variants ready in" in out

    def broken(device, num_heads, progress, block_kv):
        raise RuntimeError("nvcc not found")

    monkeypatch.setattr(doctor.ops, "warmup", lambda device, num_heads, progress, block_kv: 0)
    assert doctor.compile_time(torch.device("cuda", 0))
    assert "tilelang has no warmup step" in capsys.readouterr().out

    monkeypatch.setattr(doctor.ops, "warmup", broken)
    assert not doctor.compile_time(torch.device("cuda", 0))
    assert "FAIL  RuntimeError: nvcc not found" in capsys.readouterr().out
