"""scripts/mma_rate.cu, the microbenchmark behind docs/performance.md's ceiling of SM120 mode on Hopper, builds with
nvcc and times what it says: on sm_90a ptxas emulates FP8 mma.sync (F2FP conversions + HMMA), on sm_120a it is one
QMMA. No GPU needed."""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest

from sglang_sm120_dsa.triton.aot import sass

SOURCE = pathlib.Path(__file__).parents[2] / "scripts" / "mma_rate.cu"


@pytest.fixture(scope="module")
def sass_of(tmp_path_factory):
    if shutil.which("nvcc") is None:
        pytest.skip("needs nvcc")
    out = tmp_path_factory.mktemp("mma_rate")

    def build(arch: str) -> str:
        cubin = out / f"{arch}.cubin"
        subprocess.run(["nvcc", "-O3", f"-arch={arch}", "-cubin", "-o", str(cubin), str(SOURCE)], check=True,
                       capture_output=True, text=True)
        return sass(cubin.read_bytes())

    return build


def _functions(text: str) -> dict[str, str]:
    """SASS per kernel instantiation, keyed by its template argument (0 f16, 1 FP8 B streamed, 2 both)."""
    parts = text.split("Function : ")[1:]
    return {part.split("ILi", 1)[1][0]: part for part in parts}


def test_sm90a_emulates_fp8_mma_with_conversions(sass_of) -> None:
    kernels = _functions(sass_of("sm_90a"))
    assert set(kernels) == {"0", "1", "2"}
    assert "F2FP" not in kernels["0"] and "HMMA.16816.F32" in kernels["0"]
    for mode in ("1", "2"):  # every FP8 MMA becomes two HMMAs fed by per-step conversions (nothing hoisted)
        hmma, f2fp = kernels[mode].count("HMMA.16816.F32"), kernels[mode].count("F2FP.F16.E4M3.UNPACK_B")
        assert "QMMA" not in kernels[mode] and hmma >= 16 and f2fp >= hmma, (mode, hmma, f2fp)


def test_sm120a_runs_fp8_mma_natively(sass_of) -> None:
    kernels = _functions(sass_of("sm_120a"))
    for mode in ("1", "2"):
        assert "QMMA.16832.F32.E4M3.E4M3" in kernels[mode] and "F2FP" not in kernels[mode], mode
