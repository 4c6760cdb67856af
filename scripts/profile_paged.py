#!/usr/bin/env python3
"""One launch of each provider's paged kernel at B=64 x 64K (H=64, D=128), for ``ncu``:

    ncu --target-processes all -k regex:'paged_mqa' --section SpeedOfLight --section Occupancy \\
        --section WarpStateStats --section LaunchStats python3 scripts/profile_paged.py [native|bytes] [next_n]
"""

from __future__ import annotations

import os
import sys

import torch

import sglang_sm120_dsa as dsa
from sglang_sm120_dsa.testing import make_paged_case

mode = sys.argv[1] if len(sys.argv) > 1 else "native"
next_n = int(sys.argv[2]) if len(sys.argv) > 2 else 1
os.environ["SGLANG_SM120_DSA_IMPL"] = "triton"
os.environ["SGLANG_SM120_DSA_TRITON_FP8"] = mode
case = make_paged_case(64, next_n, 64, 128, 64, avg_context=65536, seed=1, poison=False, device="cuda")
meta = dsa.get_paged_mqa_logits_metadata(case.context_lens, 64, dsa.get_num_sms())
run = lambda: dsa.fp8_paged_mqa_logits(case.q, case.kv_cache, case.weights, case.context_lens,  # noqa: E731
                                       case.block_table, meta, case.max_context_len)
run()
torch.cuda.synchronize()
run()
torch.cuda.synchronize()
