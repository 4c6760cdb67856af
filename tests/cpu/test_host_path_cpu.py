"""scripts/host_path_cpu.py, the eager paged and ragged calls' Python path with the Triton kernel stubbed: they must
still go through the Triton launcher (not the CPU reference) and return logits of the call's shape, so that its
timings keep meaning what they say."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).parents[2]

# (in a process of its own: the stubbed calls patch it) the stubbed call three times, through the launcher's op
_RUN = """
import sys
sys.path.insert(0, sys.argv[1])
import host_path_cpu
from sglang_sm120_dsa.triton import launch
op, stub, rows = sys.argv[2], sys.argv[3], int(sys.argv[4])
seen = []
real = getattr(launch, op)
setattr(launch, op, lambda call, out: (seen.append(out.shape), real(call, out))[1])
call = getattr(host_path_cpu, stub)()
for _ in range(3):
    out = call()
assert seen == [out.shape] * 3 and out.shape[0] == rows, (seen, out.shape)
print("ok", tuple(out.shape))
"""


@pytest.mark.parametrize("op, stub, rows", [("paged_mqa_logits", "stubbed_call", 64),
                                            ("mqa_logits", "stubbed_ragged_call", 512)], ids=["paged", "ragged"])
def test_stubbed_call_goes_through_the_triton_launcher(op, stub, rows) -> None:
    result = subprocess.run([sys.executable, "-c", _RUN, str(ROOT / "scripts"), op, stub, str(rows)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.startswith("ok"), result.stdout + result.stderr


@pytest.mark.parametrize("op", ["paged", "ragged"])
def test_script_prints_a_time(op) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "host_path_cpu.py"), "--op", op, "--reps", "20"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and f"eager {op} call" in result.stdout and " us" in result.stdout, (
        result.stdout + result.stderr)
