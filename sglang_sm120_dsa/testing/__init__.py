"""Test inputs, metrics and an independent float64 oracle, shared by the tests, benchmarks and users."""

from __future__ import annotations

from .cases import PagedCase
from .cases import RaggedCase
from .cases import context_lens_2d_from
from .cases import cp_ks_ke
from .cases import make_paged_case
from .cases import make_ragged_case
from .cases import prefill_ks_ke
from .cases import random_block_table
from .cases import random_context_lens
from .naive import naive_metadata
from .naive import naive_paged_logits
from .naive import naive_ragged_logits
from .numeric import assert_bitwise_equal
from .numeric import assert_close_to_exact
from .numeric import assert_logits_match
from .numeric import calc_diff
from .numeric import count_bytes
from .numeric import zero_masked
from .quant import cast_to_fp4
from .quant import cast_to_fp8_per_token
from .quant import kv_cache_cast_to_fp4
from .quant import kv_cache_cast_to_fp8

__all__ = [
    "PagedCase",
    "RaggedCase",
    "make_paged_case",
    "make_ragged_case",
    "random_context_lens",
    "context_lens_2d_from",
    "random_block_table",
    "prefill_ks_ke",
    "cp_ks_ke",
    "naive_paged_logits",
    "naive_ragged_logits",
    "naive_metadata",
    "calc_diff",
    "count_bytes",
    "assert_bitwise_equal",
    "assert_close_to_exact",
    "assert_logits_match",
    "zero_masked",
    "cast_to_fp8_per_token",
    "kv_cache_cast_to_fp8",
    "cast_to_fp4",
    "kv_cache_cast_to_fp4",
]
