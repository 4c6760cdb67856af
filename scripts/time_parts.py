#!/usr/bin/env python3
"""Where the SM90 Gluon kernel's time goes: time it whole and with parts of its loop cut out, DeepGEMM alongside.

    python scripts/time_parts.py [CASES [PARTS]]
    # CASES: batch x context x next_n, comma-separated (default 256x8192x2,64x65536x2,256x8192x1,64x65536x1)
    # PARTS: comma-separated, from (default all, in this order):
    #   whole   the kernel as it is
    #   writes  no head sums: each tile's logits rows get its key scales (the same stores, the same bytes)
    #   mma     no head sums, no stores: copies, the wgmma and its wait
    #   copies  the copies and the loop's barriers only (no wgmma)

Each cut is a copy of this package in a temporary folder with ``_finish`` (and, for ``copies``, ``_start``'s wgmma)
replaced, timed in a process of its own run from that folder (so the working tree does not shadow it). The cut
builds leave the logits unwritten or wrong: nothing is checked, only timed (``testing.bench.timed``: CUDA-graph
replays after an L2 flush). Native FP8 mode, H=64, D=128, 64-token pages, the tables' entries. The difference
``mma`` -> ``writes`` is the logits' bytes, ``writes`` -> ``whole`` the head sums' cost on top of the memory
traffic. tests/cpu/test_time_parts.py compiles every cut for sm_90 on CPU, so a kernel change that breaks a cut
fails there.
"""

from __future__ import annotations

import functools
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

KERNEL = pathlib.Path("triton") / "kernels" / "paged_sm90.py"
PARTS = ("whole", "writes", "mma", "copies")
CASES = "256x8192x2,64x65536x2,256x8192x1,64x65536x1"
_NEVER = "if t_end < t0:  # never inside the loop: keeps the wgmma's result alive, stores nothing"
_WAIT = """    if BYTES:
        scores, keys = warpgroup_mma_wait(num_outstanding=0, deps=(acc, keys))
    else:
        scores = warpgroup_mma_wait(num_outstanding=0, deps=(acc, ))
"""


def _keep(value: str) -> str:
    """A store of ``value`` (the wgmma's result) that never runs: keeps the wgmma, stores nothing."""
    return f"""    {_NEVER}
        _store(out_ptr, row0_off, t0 + toks, gl.convert_layout(gl.max({value}, axis=1), toks.type.layout), v0, t_end,
               OUT_BF16)
"""


_SCALES = """    _store(out_ptr, row0_off, t0 + toks, ks, v0, t_end, OUT_BF16)
    if R == 2:
        _store(out_ptr, row1_off, t0 + toks, ks, v1, t_end, OUT_BF16)
"""
_BODIES = {"writes": _WAIT + _keep("scores") + _SCALES, "mma": _WAIT + _keep("scores"), "copies": _keep("acc")}
_MMA = "    acc = warpgroup_mma(keys, q_smem.permute((1, 0)), zero, use_acc=False, is_async=True)\n"


def cut(source: str, part: str) -> str:
    """``paged_sm90.py``'s source with ``part`` cut out (``whole``: unchanged). Raises when the kernel no longer has
    the code a cut replaces."""
    if part == "whole":
        return source
    if part not in _BODIES:
        raise ValueError(f"unknown part {part!r}: one of {', '.join(PARTS)}")
    head = re.search(r"\ndef _finish\(.*?\"\"\"\n", source, re.S)  # signature and docstring
    if head is None:
        raise RuntimeError("paged_sm90.py has no _finish to cut")
    end = source.index("\n@gluon.jit", head.end())
    source = source[:head.end()] + _BODIES[part] + "\n" + source[end:]
    if part == "copies":
        if source.count(_MMA) != 1:
            raise RuntimeError("paged_sm90.py's _start no longer issues its wgmma in the line this cut replaces")
        source = source.replace(_MMA, "    acc = zero\n")
    return source


def build(part: str, root: pathlib.Path) -> pathlib.Path:
    """A copy of this package under ``root`` with ``part`` cut out; returns the folder to put on the path."""
    import sglang_sm120_dsa
    from sglang_sm120_dsa import configs

    package = pathlib.Path(sglang_sm120_dsa.__file__).parent
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(package, root / package.name, ignore=skip)
    tables = pathlib.Path(configs.__file__).parent  # (an editable install maps it from the repository's top level)
    if not (root / package.name / "configs").exists():
        shutil.copytree(tables, root / package.name / "configs", ignore=skip)
    kernel = root / package.name / KERNEL
    kernel.write_text(cut(kernel.read_text(), part))
    return root


def _time(part: str, cases: str) -> None:
    """(In the cut's process) one line per case: the kernel's µs and DeepGEMM's on the same inputs."""
    import deep_gemm
    import torch

    import sglang_sm120_dsa as dsa
    from sglang_sm120_dsa.testing import benchmark_paged_case
    from sglang_sm120_dsa.testing.bench import timed
    from sglang_sm120_dsa.testing.families import family_env

    os.environ.update(family_env("triton", "native"))
    for spec in cases.split(","):
        batch, ctx, next_n = map(int, spec.split("x"))
        case = benchmark_paged_case(batch, ctx, next_n)
        args = (case.q, case.kv_cache, case.weights, case.context_lens, case.block_table)
        meta = dsa.get_paged_mqa_logits_metadata(case.context_lens, 64, dsa.get_num_sms())
        dmeta = deep_gemm.get_paged_mqa_logits_metadata(case.context_lens, 64, deep_gemm.get_num_sms())
        ours = timed(functools.partial(dsa.fp8_paged_mqa_logits, *args, meta, case.max_context_len, False))[0]
        theirs = timed(functools.partial(deep_gemm.fp8_paged_mqa_logits, *args, dmeta, case.max_context_len, False))[0]
        print(f"{part:7s} {spec:13s} {ours * 1e6:8.1f} us | DeepGEMM {theirs * 1e6:8.1f} us  x{theirs / ours:.3f}",
              flush=True)
        torch.cuda.empty_cache()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _time(sys.argv[2], sys.argv[3])
        return
    cases = sys.argv[1] if len(sys.argv) > 1 else CASES
    parts = sys.argv[2].split(",") if len(sys.argv) > 2 else list(PARTS)
    for part in parts:
        with tempfile.TemporaryDirectory() as tmp:
            root = build(part, pathlib.Path(tmp))
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
            subprocess.run([sys.executable, os.path.abspath(__file__), "--child", part, cases], cwd=root, env=env,
                           check=True)


if __name__ == "__main__":
    main()
