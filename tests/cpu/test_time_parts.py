"""scripts/time_parts.py's cuts of the SM90 Gluon kernel: each applies to today's kernel and compiles for sm_90 on
CPU with what it says it keeps (the wgmma, the logits stores, the head sums' FFMAs), so a kernel change that
breaks a cut fails here rather than on a GPU machine."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from sglang_sm120_dsa._versions import installed_version

sys.path.insert(0, str(pathlib.Path(__file__).parents[2] / "scripts"))
time_parts = pytest.importorskip("time_parts")

pytestmark = pytest.mark.skipif(installed_version("triton") < (3, 9), reason="Gluon's sm_90 compile is CI's (3.9)")

# In the cut's own process (its package copy first on the path): SASS counts of the native next_n 2 variant.
_COUNT = """
import sglang_sm120_dsa, sys
from sglang_sm120_dsa.triton import aot, variants
assert sglang_sm120_dsa.__file__.startswith(sys.argv[1]), sglang_sm120_dsa.__file__
for entry, v in variants.sm90_entries_and_variants(90):
    c = dict(v.constexprs)
    if c["R"] == 2 and not c["BYTES"] and not c["OUT_BF16"]:
        s = aot.sass(aot.compile_variant(v, 90).asm["cubin"])
        print(s.count("QGMMA"), s.count("FFMA"), s.count("STG"), s.count("LDGSTS"))
        break
"""


def _counts(part: str, tmp_path: pathlib.Path) -> tuple[int, ...]:
    root = time_parts.build(part, tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    env.pop("TRITON_INTERPRET", None)
    out = subprocess.run([sys.executable, "-c", _COUNT, str(root)], cwd=root, env=env, check=True,
                         capture_output=True, text=True).stdout
    return tuple(map(int, out.split()))


def test_cuts_keep_what_they_say(tmp_path) -> None:
    gmma, ffma, stg, copies = _counts("whole", tmp_path / "whole")
    assert gmma and ffma and stg and copies
    cut = {part: _counts(part, tmp_path / part) for part in ("writes", "mma", "copies")}
    assert cut["writes"] == (gmma, 0, cut["writes"][2], copies) and cut["writes"][2] > cut["mma"][2]
    assert cut["mma"][:2] == (gmma, 0) and cut["mma"][3] == copies
    assert cut["copies"][:2] == (0, 0) and cut["copies"][3] == copies


def test_cut_refuses_a_kernel_without_its_code() -> None:
    with pytest.raises(RuntimeError, match="no _finish"):
        time_parts.cut("def other():\n    pass\n", "mma")
    with pytest.raises(ValueError, match="unknown part"):
        time_parts.cut("", "epilogue")
    assert time_parts.cut("anything", "whole") == "anything"
