"""The ``triton`` implementation family: Triton kernels for every op, on any CUDA GPU from SM80 on.

FP8 operands go to the tensor cores natively on SM89+ and as bytes decoded in registers on SM80/86
(``SGLANG_SM120_DSA_TRITON_FP8`` forces either); MXFP4 is decoded to bf16. On CPU tensors the kernels run under
``TRITON_INTERPRET=1`` only (tests). The paged metadata is the foundation's scheduler with this family's split
size (``configs/paged_mqa_logits/triton/sm_<arch>.json``), computed on the GPU by one small kernel.
"""

from __future__ import annotations

import os

if os.environ.get("TRITON_INTERPRET") == "1":
    from .interpreter import patch_bf16_dot

    patch_bf16_dot()

from ..dispatch import family_ops  # noqa: E402
from .launch import get_paged_mqa_logits_metadata  # noqa: E402
from .launch import mqa_logits  # noqa: E402
from .launch import paged_mqa_logits  # noqa: E402
from .warmup import warmup  # noqa: E402

__all__ = ["OPS", "warmup"]

OPS = family_ops(get_paged_mqa_logits_metadata, paged_mqa_logits, mqa_logits)
