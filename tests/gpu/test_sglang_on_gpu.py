"""The SGLang plugin on a real GPU with the real SGLang 0.5.23: after ``--attention-backend dsa_fallback`` is
resolved (which activates the routing in the process), SGLang's own indexer entry points return what DeepGEMM's
original kernels return on the same inputs, eagerly and replayed from a CUDA graph. Runs in its own process
(tests/plugin/scenario.py with ``"gpu": true``), once with ``auto`` (DeepGEMM behind the entry points: bitwise)
and once with the Triton family forced (what SM80/89 serve: calc_diff < 5e-6).

SGLang is not on the GPU machines: carry it (``bash scripts/make_sglang_bundle.sh``, then
``.devcarry/sglang_site.tar.xz``, which ``scripts/gpu_env.sh`` unpacks and names in
``SGLANG_SM120_DSA_TEST_SGLANG_SITE``; only the SGLang process gets it on its path). Its CUDA kernel package
sglang-kernel 0.4.10 is built for torch 2.14.1 and cannot load with the machines' torch 2.11, so ``sgl_kernel`` is
an import-only stub here (tests/plugin/stubs_gpu: every call raises); nothing on the checked paths calls it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import pytest

PLUGIN_TESTS = pathlib.Path(__file__).parents[1] / "plugin"
SUPPORTED = "0.5.23"
EXACT = 5e-6


def _sglang(site: str | None) -> tuple[list[str], str | None]:
    """(path entries that give ``import sglang``, its version)."""
    paths = [site] if site else []
    found = [d.version for d in importlib.metadata.distributions(name="sglang", path=paths + sys.path)]
    return paths, (found[0] if found else None)


@pytest.fixture(scope="module")
def run_scenario(deep_gemm):
    paths, version = _sglang(os.environ.get("SGLANG_SM120_DSA_TEST_SGLANG_SITE"))
    if version != SUPPORTED:
        pytest.skip(f"SGLang {SUPPORTED} is not importable here (found {version}); on a GPU machine carry "
                    f".devcarry/sglang_site.tar.xz from scripts/make_sglang_bundle.sh")
    paths += [str(PLUGIN_TESTS / d) for d, module in (("stubs", "torchvision"), ("stubs_gpu", "sgl_kernel"))
              if importlib.util.find_spec(module) is None]

    def run(impl: str) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SGLANG_")}
        env["SGLANG_SM120_DSA_IMPL"] = impl
        env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        spec = {"gpu": True, "models": ["v32"], "checks": ["gpu_entry_points", "gpu_act_quant"]}
        result = subprocess.run([sys.executable, str(PLUGIN_TESTS / "scenario.py"), json.dumps(spec)], env=env,
                                text=True, capture_output=True, timeout=1200)
        assert result.returncode == 0, result.stderr[-4000:]
        report = json.loads(result.stdout.strip().splitlines()[-1])
        print(json.dumps(report, indent=1))  # the numbers, in pytest's captured output (-rA shows them)
        assert not report["errors"], report["errors"]
        assert report["routing_active"] and report["resolved"]["v32"]["attention_backend"] == "dsa"
        return report

    return run


def _paged_and_ragged(report: dict) -> tuple[dict, dict]:
    paged = {k: v for k, v in report.items() if k.startswith("paged ")}
    ragged = {k: v for k, v in report.items() if k.startswith("ragged ")}
    assert len(paged) == 3 and len(ragged) == 1
    return paged, ragged


def test_auto_entry_points_equal_deepgemm_bitwise(run_scenario) -> None:
    report = run_scenario("auto")
    gpu = report["gpu_entry_points"]
    assert gpu["families"] == ["deepgemm"] and not gpu["deep_gemm_stand_in"], gpu["decision"]
    paged, ragged = _paged_and_ragged(gpu)
    for name, r in paged.items():
        assert r["metadata equal DeepGEMM's"] and r["dsv4 planner equal routed metadata"], name
        assert r["clean: -inf exactly outside"], name
        for how in ("eager", "deep_gemm attribute", "graph replay, fresh inputs"):
            assert r[how]["bitwise"], (name, how, r[how])
    for name, r in ragged.items():
        assert r["clean: -inf exactly outside"], name
        for how in ("eager", "deep_gemm attribute, clean", "graph replay, fresh inputs"):
            assert r[how]["bitwise"], (name, how, r[how])
    # SGLang enables its FP4 indexer on SM100/SM120 only; DeepGEMM has no SM90 FP4 kernels: a clear refusal
    for what in ("fp4 paged (V4.1 wrapper) error", "fp4 ragged (V4.1 flat tiles) error"):
        assert "MXFP4 operands" in gpu[what] and "SGLANG_SM120_DSA_IMPL=triton" in gpu[what], gpu[what]
    quant = report["gpu_act_quant"]
    assert all(q["scales equal"] and q["ours not nearest"] == 0 for q in quant.values()), quant
    # Power-of-two scales divide exactly, so SGLang's kernel agrees bit for bit. With amax / 448 scales its Triton
    # division (div.full.f32, not IEEE) can, rarely, round to the other neighbour of the exact quotient.
    assert quant["ue8m0"]["values differing"] == 0, quant
    assert quant["None"]["values differing"] <= quant["None"]["values"] // 10000, quant


def test_triton_forced_entry_points_match_deepgemm(run_scenario) -> None:
    gpu = run_scenario("triton")["gpu_entry_points"]
    assert gpu["families"] == ["triton"], gpu["decision"]
    paged, ragged = _paged_and_ragged(gpu)
    for name, r in paged.items():  # the Triton family's schedule has its own split sizes: not DeepGEMM's metadata
        assert r["dsv4 planner equal routed metadata"] and r["clean: -inf exactly outside"], name
        for how in ("eager", "deep_gemm attribute", "graph replay, fresh inputs"):
            assert r[how]["calc_diff"] < EXACT, (name, how, r[how])
    for name, r in ragged.items():
        assert r["clean: -inf exactly outside"], name
        for how in ("eager", "deep_gemm attribute, clean", "graph replay, fresh inputs"):
            assert r[how]["calc_diff"] < EXACT, (name, how, r[how])
    assert gpu["fp4 paged (V4.1 wrapper) calc_diff vs reference"] < EXACT
    tiles = gpu["fp4 ragged (V4.1 flat tiles)"]
    assert tiles["tiles"] > 2 and tiles["max calc_diff vs reference"] < EXACT, tiles
