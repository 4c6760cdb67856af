"""The ``torch`` implementation family: exact PyTorch reference of every op, on CPU and GPU.

It defines the semantics the kernel families are tested against and is the last-resort implementation. It
does not read ``schedule_meta``; its metadata is DeepGEMM SM90's (256-token splits, MTP atoms of 2 tokens),
bit for bit, so that it can be checked against DeepGEMM on Hopper.
"""

from __future__ import annotations

import torch

from .._checks import MetadataCall
from ..dispatch import family_ops
from . import metadata
from . import mqa_logits
from . import paged_mqa_logits

__all__ = ["OPS", "SPLIT_KV", "ATOM"]

SPLIT_KV = 256
ATOM = 2


def get_paged_mqa_logits_metadata(call: MetadataCall) -> torch.Tensor:
    return metadata.schedule_paged_tasks(call, split_kv=SPLIT_KV, atom=ATOM)


OPS = family_ops(get_paged_mqa_logits_metadata, paged_mqa_logits.paged_mqa_logits, mqa_logits.mqa_logits)
