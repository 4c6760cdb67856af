"""DeepSeek Sparse Attention lightning indexer for GPUs DeepGEMM leaves out (SM80/86/89, SM120/121).

A DeepGEMM-compatible API (:mod:`.ops`), an exact PyTorch reference, and kernel families chosen per device by
:mod:`.dispatch`. Importing this package initializes no GPU and compiles nothing.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .dispatch import decide
from .ops import fp8_fp4_mqa_logits
from .ops import fp8_fp4_paged_mqa_logits
from .ops import fp8_mqa_logits
from .ops import fp8_paged_mqa_logits
from .ops import get_num_sms
from .ops import get_paged_mqa_logits_metadata
from .ops import set_num_sms
from .ops import warmup

__all__ = [
    "__version__",
    "get_num_sms",
    "set_num_sms",
    "get_paged_mqa_logits_metadata",
    "fp8_paged_mqa_logits",
    "fp8_fp4_paged_mqa_logits",
    "fp8_mqa_logits",
    "fp8_fp4_mqa_logits",
    "warmup",
    "decide",
]
