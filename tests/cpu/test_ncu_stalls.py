"""scripts/ncu_stalls.py on a small source-page CSV in ncu's shape: kernels split at their "Kernel Name" rows,
stall shares over all samples, the busiest instructions first."""

from __future__ import annotations

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parents[2] / "scripts"))
ncu_stalls = pytest.importorskip("ncu_stalls")

HEAD = ('"Address","Source","Warp Stall Sampling (All Samples)","Instructions Executed","stall_barrier",'
        '"stall_long_sb","stall_barrier (Not Issued)"')
CSV = f'''"Kernel Name","first_kernel",
{HEAD}
"0x10","      LDG.E R2, desc[UR4][R2.64]","2","100","0","2","0"
"0x20","      BAR.SYNC.DEFER_BLOCKING 0x0","6","100","1","5","9"
"Kernel Name","second_kernel",
{HEAD}
"0x10","      EXIT","4","7","4","0","4"
'''


def test_kernels_split_and_stall_shares():
    blocks = ncu_stalls.kernels(CSV.splitlines())
    assert [name for name, _ in blocks] == ["first_kernel", "second_kernel"]
    first = blocks[0][1]
    assert ncu_stalls.reasons(first[1]) == {"barrier": 1, "long_sb": 5}  # (not-issued columns left out)
    text = ncu_stalls.summary(*blocks[0])
    lines = text.splitlines()
    assert lines[0].startswith("first_kernel: 8 samples, 200 warp instructions, 2 SASS lines")
    assert lines[1].strip() == "long_sb 87.5%, barrier 12.5%"
    assert "75.0%  BAR.SYNC" in lines[2] and "long_sb 5, barrier 1" in lines[2]
    assert "25.0%  LDG.E" in lines[3]
