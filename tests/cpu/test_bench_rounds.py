"""The benchmark's rounds (testing/bench.py ``interleaved``, scripts/bench_indexer.py's spread and table) with the
GPU timer stubbed: every provider timed once per round, the order reversed every other round, each row's time the
median round's and its speedup range the rounds' extremes."""

from __future__ import annotations

import pathlib
import sys

import pytest
import torch

from sglang_sm120_dsa.testing import bench

sys.path.insert(0, str(pathlib.Path(__file__).parents[2] / "scripts"))
bench_indexer = pytest.importorskip("bench_indexer")


def test_interleaved_alternates_the_order_and_keeps_every_round(monkeypatch):
    order, setups = [], []
    clock = iter(range(1, 100))

    def fake_timed(fn, eager, reps):
        order.append(fn())
        return float(next(clock)), "eager" if eager else "graph"

    monkeypatch.setattr(bench, "timed", fake_timed)
    times, kinds = bench.interleaved({name: (lambda n=name: n) for name in "abc"}, 3, setup=setups.append)
    assert order == setups == list("abccbaabc")
    assert times == {"a": [1.0, 6.0, 7.0], "b": [2.0, 5.0, 8.0], "c": [3.0, 4.0, 9.0]}
    assert kinds == dict.fromkeys("abc", "graph")


def test_rows_take_the_median_round_and_the_range_of_speedups(tmp_path, capsys):
    times = {"deepgemm": [100e-6, 104e-6, 102e-6], "triton": [101e-6, 100e-6, 103e-6]}
    spread = bench_indexer._spread(times, "triton", "deepgemm")
    assert spread["rounds"] == 3
    assert spread["x_lo"] == pytest.approx(100 / 101) and spread["x_hi"] == pytest.approx(104 / 100)
    assert bench_indexer._median(times["triton"]) == 101e-6
    rows = [dict(op="paged", provider=p, batch=256, context=8192, next_n=1, us=bench_indexer._median(t) * 1e6,
                 metadata_us=4.8, gb_s=1.0, pct_copy_bw=1.0, tflops=1.0, timing="graph",
                 **bench_indexer._spread(times, p, "deepgemm"), gpu="GPU") for p, t in times.items()]
    bench_indexer.report(rows, list(times), tmp_path, "GPU", "title")
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("paged  256"))
    assert "102.0" in line and "101.0" in line and "1.01 (0.99-1.04)" in line
    assert (tmp_path / "bench_GPU.csv").read_text().splitlines()[0].split(",")[-4:] == ["rounds", "x_lo", "x_hi", "gpu"]
    other = dict(rows[0], context=4096, us=50.0)
    brief = bench_indexer._brief([other, *rows], "paged", 256, 8192, 1)
    assert brief == "; deepgemm 102.0 us 1.000x (1.000-1.000); triton 101.0 us 1.010x (0.990-1.040)"


def test_case_lists():
    assert bench_indexer._sizes("64x65536,256x8192") == [(64, 65536), (256, 8192)]
    assert bench_indexer._sizes("none") == []


def test_scripts_share_one_paged_case():
    """testing.benchmark_paged_case: the benchmark's shape, seeded by batch + context, so every script that names a
    case times the same inputs."""
    from sglang_sm120_dsa.testing import benchmark_paged_case

    a, b = (benchmark_paged_case(3, 300, 2, device="cpu") for _ in range(2))
    assert a.q.shape == (3, 2, 64, 128) and a.kv_cache.shape[1:] == (64, 1, 132) and a.weights.shape == (6, 64)
    assert torch.equal(a.block_table, b.block_table) and torch.equal(a.kv_cache, b.kv_cache)
    assert torch.equal(a.context_lens, b.context_lens) and a.block_table.min() >= 0  # (not poisoned)
    lens = a.context_lens[:, -1]
    assert lens.min() >= 210 and lens.max() < 390
    other = benchmark_paged_case(3, 400, 2, device="cpu")
    assert not torch.equal(other.context_lens[:, -1], lens)
