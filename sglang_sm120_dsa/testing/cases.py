"""Test and benchmark inputs, generated the way DeepGEMM's tests generate them (``deepgemm-indexer.md`` §6.2).

bf16 ``randn`` q and keys, fp32 ``randn`` weights; FP8 q is a plain cast, FP8 keys get a per-token scale;
MXFP4 uses :mod:`.quant`. Context lengths ``U[0.7 avg, 1.3 avg)``; 2-D lengths ``((L + 1) * U(0, 1)).int()`` per
MTP column with the last column forced to ``L``; block tables map each request to a random permutation of the
pages; the entries past a request's pages are poisoned (random values, negative and out of range included), so an
implementation that reads them is caught. Lengths, tables and indices come from a seeded CPU generator; q, keys
and weights from a seeded generator on the target device, so large cases are built where they are used (a case is
reproducible per device type; ``case.to(device)`` moves one). Each case also keeps its unquantized inputs and
computes the "bf16-input" reference.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from ..layout import ceil_div
from .quant import cast_to_fp4
from .quant import cast_to_fp8_per_token
from .quant import kv_cache_cast_to_fp4
from .quant import kv_cache_cast_to_fp8

__all__ = [
    "PagedCase",
    "RaggedCase",
    "make_paged_case",
    "benchmark_paged_case",
    "make_ragged_case",
    "random_context_lens",
    "context_lens_2d_from",
    "random_block_table",
    "cp_ks_ke",
    "prefill_ks_ke",
]


def random_context_lens(batch: int, avg: int, gen: torch.Generator) -> torch.Tensor:
    """int32 ``[batch]`` in ``[0.7 avg, 1.3 avg)`` (at least 1 wide)."""
    lo = int(0.7 * avg)
    hi = max(int(1.3 * avg), lo + 1)
    return torch.randint(lo, hi, (batch,), generator=gen, dtype=torch.int32)


def context_lens_2d_from(lens: torch.Tensor, next_n: int, gen: torch.Generator) -> torch.Tensor:
    """int32 ``[B, next_n]``: random prefixes of each length, the last column the length itself."""
    out = ((lens[:, None].to(torch.float32) + 1) * torch.rand(lens.shape[0], next_n, generator=gen)).to(torch.int32)
    out[:, -1] = lens
    return out


def random_block_table(lens: torch.Tensor, block_kv: int, gen: torch.Generator, extra_pages: int = 3,
                       num_blocks: int | None = None, width_blocks: int | None = None, poison: bool = True):
    """(int32 ``[B, width_blocks]`` block table, num_blocks). Pages are a random permutation; unused entries are
    poisoned (or 0 with ``poison=False``, for implementations that may read them). ``lens`` is int32 ``[B]``."""
    pages = [ceil_div(int(n), block_kv) for n in lens.tolist()]
    used = sum(pages)
    num_blocks = max(num_blocks or 0, used + extra_pages, 1)
    width_blocks = max(width_blocks or 0, max(pages, default=0))
    table = torch.randint(-(2**31), 2**31 - 1, (len(pages), width_blocks), generator=gen, dtype=torch.int32)
    if not poison:
        table.zero_()
    perm = torch.randperm(num_blocks, generator=gen).to(torch.int32)
    start = 0
    for b, n in enumerate(pages):
        table[b, :n] = perm[start : start + n]
        start += n
    return table, num_blocks


def prefill_ks_ke(seq_len: int, seq_len_kv: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Prefill without context parallelism, as DeepGEMM's tests: ``ks = 0``, ``ke[i] = i + SKV - S``."""
    ks = torch.zeros(seq_len, dtype=torch.int32)
    ke = torch.arange(seq_len, dtype=torch.int32) + (seq_len_kv - seq_len)
    return ks, ke


def cp_ks_ke(seq_len: int, seq_len_kv: int) -> tuple[torch.Tensor, torch.Tensor]:
    """DeepGEMM's context-parallel pattern: two halves of the queries at two different KV offsets."""
    assert seq_len % 2 == 0 and seq_len_kv % seq_len == 0, (seq_len, seq_len_kv)
    half, cp = seq_len // 2, seq_len_kv // seq_len
    cp_id = cp // 3
    i = torch.arange(half, dtype=torch.int32)
    ks = torch.zeros(seq_len, dtype=torch.int32)
    ke = torch.cat((cp_id * half + i, (2 * cp - 1 - cp_id) * half + i))
    return ks, ke


def _to(x, device):
    if isinstance(x, tuple):
        return tuple(_to(e, device) for e in x)
    return x.to(device) if isinstance(x, torch.Tensor) else x


class _Movable:
    def to(self, device):
        """The same case on another device."""
        return dataclasses.replace(self, **{f.name: _to(getattr(self, f.name), device)
                                            for f in dataclasses.fields(self)})


@dataclass
class PagedCase(_Movable):
    q_bf16: torch.Tensor  # [B, next_n, H, D]
    kv_bf16: torch.Tensor  # [num_blocks, block_kv, D], the unquantized pages
    q: object  # FP8 tensor or the FP4 (q, q_sf) pair
    kv_cache: torch.Tensor
    weights: torch.Tensor
    context_lens: torch.Tensor  # 1-D or 2-D, as requested
    block_table: torch.Tensor
    max_context_len: int
    indices: torch.Tensor | None
    is_fp4: bool

    @property
    def next_n(self) -> int:
        return self.q_bf16.shape[1]

    def row_lengths(self) -> torch.Tensor:
        """int64 ``[B * next_n]`` valid columns per row, capped at the block table's capacity."""
        lens = self.context_lens.to(torch.int64)
        if lens.dim() == 1:
            n = self.next_n
            lens = lens[:, None] - n + 1 + torch.arange(n, device=lens.device)
        cap = self.block_table.shape[1] * self.kv_bf16.shape[1]
        return lens.clamp(0, cap).flatten()

    def invalid_mask(self) -> torch.Tensor:
        """bool ``[B * next_n, max_context_len]``: True outside each row's valid set."""
        cols = torch.arange(self.max_context_len, device=self.context_lens.device)
        return cols[None, :] >= self.row_lengths()[:, None]

    def bf16_reference(self) -> torch.Tensor:
        """float32 logits from the unquantized inputs, ``-inf`` outside the valid sets."""
        b, n, h, d = self.q_bf16.shape
        block_kv = self.kv_bf16.shape[1]
        width = self.max_context_len
        pages = self.block_table[:, : ceil_div(width, block_kv)].to(torch.int64)
        pages = pages.clamp(0, self.kv_bf16.shape[0] - 1)
        k = self.kv_bf16[pages].reshape(b, -1, d)[:, :width].float()  # [B, T, D]
        scores = torch.einsum("bnhd,btd->bnht", self.q_bf16.float(), k).relu()
        logits = (scores * self.weights.view(b, n, h, 1)).sum(dim=2).reshape(b * n, -1)
        full = torch.full((b * n, width), float("-inf"), device=logits.device)
        full[:, : logits.shape[1]] = logits
        return full.masked_fill(self.invalid_mask(), float("-inf"))


def make_paged_case(batch: int, next_n: int, heads: int, head_dim: int, block_kv: int, *, avg_context: int = 0,
                    context_lens: torch.Tensor | list[int] | None = None, lens_2d: bool = True, fp4: bool = False,
                    varlen: bool = False, max_context_len: int | None = None, seed: int = 0, poison: bool = True,
                    device: str | torch.device = "cpu") -> PagedCase:
    """A paged case; give ``avg_context`` (random lengths) or explicit per-request ``context_lens``.

    ``varlen``: next_n must be 1; consecutive rows are grouped into requests of 1-3 tokens where token ``j`` of a
    request has context ``L + j`` and shares the request's pages (DeepGEMM's varlen tests).
    """
    gen = torch.Generator().manual_seed(seed)
    if context_lens is None:
        lens = random_context_lens(batch, avg_context, gen)
    else:
        lens = torch.as_tensor(context_lens, dtype=torch.int32)
        assert lens.shape == (batch,)
    indices = None
    if varlen:
        assert next_n == 1
        group = torch.randint(1, 4, (batch,), generator=gen).tolist()
        ids, step = [], []
        while len(ids) < batch:
            g = group[len(ids)]
            ids += [len(step)] * g
            step += list(range(g))
        indices = torch.tensor(ids[:batch], dtype=torch.int32)
        # token j of a request sees j more keys than the first; pages are shared, so give each token the
        # request's longest context when building the table, then repeat the request's row.
        lens = lens[indices] + torch.tensor(step[:batch], dtype=torch.int32)
    table, num_blocks = random_block_table(lens if not varlen else _group_max(lens, indices), block_kv, gen,
                                           poison=poison)
    if varlen:
        table = table[indices]

    dev = torch.device(device)
    dgen = torch.Generator(dev).manual_seed(seed)
    q_bf16 = torch.randn(batch, next_n, heads, head_dim, generator=dgen, device=dev).to(torch.bfloat16)
    kv_bf16 = torch.randn(num_blocks, block_kv, head_dim, generator=dgen, device=dev).to(torch.bfloat16)
    weights = torch.randn(batch * next_n, heads, generator=dgen, device=dev)
    if fp4:
        q = cast_to_fp4(q_bf16)
        kv_cache = kv_cache_cast_to_fp4(kv_bf16.unsqueeze(2))
    else:
        q = q_bf16.to(torch.float8_e4m3fn)
        kv_cache = kv_cache_cast_to_fp8(kv_bf16.unsqueeze(2))
    ctx = context_lens_2d_from(lens, next_n, gen) if lens_2d else lens
    width = int(lens.max()) if max_context_len is None and batch else (max_context_len or 0)
    return PagedCase(q_bf16, kv_bf16, q, kv_cache, weights, ctx.to(dev), table.to(dev), width, _to(indices, dev), fp4)


def benchmark_paged_case(batch: int, context: int, next_n: int, *, fp4: bool = False,
                         device: str | torch.device = "cuda") -> PagedCase:
    """The scripts' paged inputs (benchmark, tuning, A/Bs, diagnostics): the DeepSeek-V3.2 indexer's shape (H=64,
    D=128, 64-token pages), lengths around ``context``, seeded by ``batch + context`` so that every script times
    the same inputs for a case, unpoisoned tables."""
    return make_paged_case(batch, next_n, 64, 128, 64, avg_context=context, fp4=fp4, seed=batch + context,
                           poison=False, device=device)


def _group_max(lens: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Per request (index value) the longest token context, as int32 ``[num_requests]``."""
    n = int(indices.max()) + 1
    return torch.zeros(n, dtype=torch.int32).scatter_reduce(0, indices.long(), lens, reduce="amax")


@dataclass
class RaggedCase(_Movable):
    q_bf16: torch.Tensor  # [S, H, D]
    kv_bf16: torch.Tensor  # [SKV, D]
    q: object  # FP8 tensor or the FP4 (q, q_sf) pair
    kv: tuple[torch.Tensor, torch.Tensor]
    weights: torch.Tensor
    ks: torch.Tensor
    ke: torch.Tensor
    max_seqlen_k: int
    is_fp4: bool

    def key_index(self) -> torch.Tensor:
        """int64 ``[S, width]``: the key each output column holds."""
        seq_len_kv = self.kv_bf16.shape[0]
        width = self.max_seqlen_k or seq_len_kv
        cols = torch.arange(width, device=self.ks.device)[None, :]
        return self.ks.to(torch.int64)[:, None] + cols if self.max_seqlen_k else cols.expand(self.ks.shape[0], -1)

    def invalid_mask(self) -> torch.Tensor:
        key = self.key_index()
        lo = self.ks.to(torch.int64).clamp_min(0)[:, None]
        hi = self.ke.to(torch.int64).clamp_max(self.kv_bf16.shape[0])[:, None]
        return (key < lo) | (key >= hi)

    def bf16_reference(self) -> torch.Tensor:
        key = self.key_index().clamp(0, max(self.kv_bf16.shape[0] - 1, 0))
        k = self.kv_bf16.float()[key]  # [S, W, D]
        scores = torch.einsum("shd,swd->shw", self.q_bf16.float(), k).relu()
        logits = (scores * self.weights[:, :, None]).sum(dim=1)
        return logits.masked_fill(self.invalid_mask(), float("-inf"))


def make_ragged_case(seq_len: int, seq_len_kv: int, heads: int, head_dim: int, *, cp: bool = False,
                     compressed: bool = False, fp4: bool = False, ks: torch.Tensor | None = None,
                     ke: torch.Tensor | None = None, seed: int = 0, device: str | torch.device = "cpu") -> RaggedCase:
    """A ragged case with DeepGEMM's ks/ke patterns (``cp``) or explicit ``ks``/``ke``; ``compressed`` sets
    ``max_seqlen_k = max(ke - ks)``."""
    if ks is None:
        ks, ke = cp_ks_ke(seq_len, seq_len_kv) if cp else prefill_ks_ke(seq_len, seq_len_kv)
    dev = torch.device(device)
    dgen = torch.Generator(dev).manual_seed(seed)
    q_bf16 = torch.randn(seq_len, heads, head_dim, generator=dgen, device=dev).to(torch.bfloat16)
    kv_bf16 = torch.randn(seq_len_kv, head_dim, generator=dgen, device=dev).to(torch.bfloat16)
    weights = torch.randn(seq_len, heads, generator=dgen, device=dev)
    if fp4:
        q, kv = cast_to_fp4(q_bf16), cast_to_fp4(kv_bf16)
    else:
        q, kv = q_bf16.to(torch.float8_e4m3fn), cast_to_fp8_per_token(kv_bf16)
    max_seqlen_k = int((ke.long() - ks.long()).max().clamp_min(1)) if compressed and seq_len else 0
    return RaggedCase(q_bf16, kv_bf16, q, kv, weights, ks.to(dev), ke.to(dev), max_seqlen_k, fp4)
