"""scripts/host_path_cpu.py, the eager paged and ragged calls' Python path with the Triton kernel stubbed: they must
still go through the Triton launcher (not the CPU reference) and return logits of the call's shape, so that its
timings keep meaning what they say."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).parents[2]

_RUN = """
import sys
sys.path.insert(0, sys.argv[1])
import host_path_cpu
from sglang_sm120_dsa.triton import launch
seen = []
real = launch.paged_mqa_logits
launch.paged_mqa_logits = lambda call, out: (seen.append(out.shape), real(call, out))[1]
call = host_path_cpu.stubbed_call()
for _ in range(3):
    out = call()
assert seen == [out.shape] * 3 and tuple(out.shape[:1]) == (64,), (seen, out.shape)
print("ok", tuple(out.shape))
"""


_RUN_RAGGED = """
import sys
sys.path.insert(0, sys.argv[1])
import host_path_cpu
from sglang_sm120_dsa.triton import launch
seen = []
real = launch.mqa_logits
launch.mqa_logits = lambda call, out: (seen.append(out.shape), real(call, out))[1]
call = host_path_cpu.stubbed_ragged_call()
for _ in range(3):
    out = call()
assert seen == [out.shape] * 3 and tuple(out.shape) == (512, 2048), (seen, out.shape)
print("ok", tuple(out.shape))
"""


@pytest.mark.parametrize("run", [_RUN, _RUN_RAGGED], ids=["paged", "ragged"])
def test_stubbed_call_goes_through_the_triton_launcher(run) -> None:
    result = subprocess.run([sys.executable, "-c", run, str(ROOT / "scripts")], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and result.stdout.startswith("ok"), result.stdout + result.stderr


@pytest.mark.parametrize("op", ["paged", "ragged"])
def test_script_prints_a_time(op) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "host_path_cpu.py"), "--op", op, "--reps", "20"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and f"eager {op} call" in result.stdout and " us" in result.stdout, (
        result.stdout + result.stderr)
