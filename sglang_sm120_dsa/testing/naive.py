"""Independent float64 brute force: the oracle the PyTorch reference itself is checked against.

It shares no code with the reference: e4m3, e2m1 and ue8m0 are decoded from their bit definitions, pages are
read byte by byte from the fused cache, the scheduler is a scalar loop over the text of ``deepgemm-indexer.md``
§4.2. Row by row in float64 on the CPU; meant for small shapes (CPU tests, the doctor's self-check).
"""

from __future__ import annotations

import math

import torch

__all__ = ["e4m3_value", "e2m1_value", "naive_paged_logits", "naive_ragged_logits", "naive_metadata"]


def e4m3_value(byte: int) -> float:
    """float8_e4m3fn: 1 sign, 4 exponent (bias 7), 3 mantissa bits; no infinities; S.1111.111 is NaN."""
    sign = -1.0 if byte & 0x80 else 1.0
    exponent, mantissa = (byte >> 3) & 0xF, byte & 0x7
    if exponent == 0xF and mantissa == 0x7:
        return math.nan
    if exponent == 0:
        return sign * mantissa / 8 * 2.0**-6
    return sign * (1 + mantissa / 8) * 2.0 ** (exponent - 7)


def e2m1_value(code: int) -> float:
    """fp4 e2m1: 1 sign, 2 exponent (bias 1), 1 mantissa bit; no NaN or infinity."""
    sign = -1.0 if code & 0x8 else 1.0
    exponent, mantissa = (code >> 1) & 0x3, code & 0x1
    if exponent == 0:
        return sign * mantissa * 0.5
    return sign * (1 + mantissa / 2) * 2.0 ** (exponent - 1)


_E4M3 = torch.tensor([e4m3_value(b) for b in range(256)], dtype=torch.float64)
_E2M1 = torch.tensor([e2m1_value(c) for c in range(16)], dtype=torch.float64)


def _bytes(x: torch.Tensor) -> torch.Tensor:
    """The raw bytes of ``x`` as int64 (for table lookups), on the CPU."""
    return x.detach().cpu().contiguous().view(torch.uint8).to(torch.int64)


def _fp4_values(packed: torch.Tensor, scale_words: torch.Tensor) -> torch.Tensor:
    """packed bytes (int64) ``[..., D/2]``, int32 words ``[...]`` -> float64 ``[..., D]``."""
    values = torch.stack((_E2M1[packed & 0xF], _E2M1[packed >> 4]), dim=-1).flatten(-2)
    words = scale_words.detach().cpu().to(torch.int64) & 0xFFFFFFFF
    blocks = values.shape[-1] // 32
    exps = torch.stack([(words >> (8 * k)) & 0xFF for k in range(blocks)], dim=-1).to(torch.float64)
    return values * torch.exp2(exps - 127).repeat_interleave(32, dim=-1)


def _query(q, q_sf) -> torch.Tensor:
    if q_sf is None:
        return _E4M3[_bytes(q)]
    return _fp4_values(_bytes(q), q_sf)


def naive_paged_logits(q, kv_cache: torch.Tensor, weights: torch.Tensor, context_lens: torch.Tensor,
                       block_table: torch.Tensor, max_context_len: int,
                       q_sf: torch.Tensor | None = None) -> torch.Tensor:
    """float64 ``[B * next_n, max_context_len]`` on the CPU, ``-inf`` outside the valid sets."""
    fp4 = q_sf is not None
    qv = _query(q, q_sf)  # [B, n, H, D]
    batch, next_n, heads, head_dim = qv.shape
    num_blocks, block_kv = kv_cache.shape[0], kv_cache.shape[1]
    kv = kv_cache.detach().cpu()
    value_bytes = head_dim // 2 if fp4 else head_dim
    w = weights.detach().cpu().double().reshape(batch, next_n, heads)
    ctx = context_lens.detach().cpu().to(torch.int64)
    table = block_table.detach().cpu().to(torch.int64)
    cap = table.shape[1] * block_kv
    out = torch.full((batch * next_n, max_context_len), -math.inf, dtype=torch.float64)
    for b in range(batch):
        if ctx.dim() == 2:
            lengths = ctx[b].tolist()
        else:
            lengths = [int(ctx[b]) - next_n + 1 + j for j in range(next_n)]
        lengths = [min(max(n, 0), cap, max_context_len) for n in lengths]
        need = max(lengths, default=0)
        if need == 0:
            continue
        keys, scales = [], []
        for p in range(-(-need // block_kv)):
            page = kv[min(max(int(table[b, p]), 0), num_blocks - 1)].reshape(-1)  # the page's bytes, in order
            raw = page[: block_kv * value_bytes].reshape(block_kv, value_bytes).to(torch.int64)
            tail = page[block_kv * value_bytes : block_kv * (value_bytes + 4)].contiguous()
            if fp4:
                keys.append(_fp4_values(raw, tail.view(torch.int32)))
                scales.append(torch.ones(block_kv, dtype=torch.float64))
            else:
                keys.append(_E4M3[raw])
                scales.append(tail.view(torch.float32).to(torch.float64))
        k = torch.cat(keys)[:need]
        s = torch.cat(scales)[:need]
        for j in range(next_n):
            n = lengths[j]
            dots = qv[b, j] @ k[:n].T  # [H, n]
            out[b * next_n + j, :n] = s[:n] * (w[b, j][:, None] * dots.clamp_min(0)).sum(dim=0)
    return out


def naive_ragged_logits(q, kv: tuple[torch.Tensor, torch.Tensor], weights: torch.Tensor, ks: torch.Tensor,
                        ke: torch.Tensor, max_seqlen_k: int = 0, q_sf: torch.Tensor | None = None) -> torch.Tensor:
    """float64 ``[S, SKV or max_seqlen_k]`` on the CPU, ``-inf`` outside ``[ks, ke)``."""
    qv = _query(q, q_sf)  # [S, H, D]
    if q_sf is None:
        keys = _E4M3[_bytes(kv[0])]
        kscale = kv[1].detach().cpu().double()
    else:
        keys = _fp4_values(_bytes(kv[0]), kv[1])
        kscale = torch.ones(keys.shape[0], dtype=torch.float64)
    seq_len, seq_len_kv = qv.shape[0], keys.shape[0]
    width = max_seqlen_k or seq_len_kv
    w = weights.detach().cpu().double()
    starts, ends = ks.detach().cpu().tolist(), ke.detach().cpu().tolist()
    out = torch.full((seq_len, width), -math.inf, dtype=torch.float64)
    for i in range(seq_len):
        lo, hi = max(starts[i], 0), min(ends[i], seq_len_kv)
        for col in range(width):
            t = starts[i] + col if max_seqlen_k else col
            if lo <= t < hi:
                out[i, col] = kscale[t] * (w[i] * (qv[i] @ keys[t]).clamp_min(0)).sum()
    return out


def naive_metadata(context_lens: torch.Tensor, num_sms: int, split_kv: int = 256, atom: int = 2,
                   indices: torch.Tensor | None = None) -> torch.Tensor:
    """int32 ``[num_sms + 1, 2]``: the scheduler of ``deepgemm-indexer.md`` §4.2, one SM at a time."""
    rows = context_lens.tolist()
    two_d = context_lens.dim() == 2
    lengths = [max(max(r) if two_d else r, 0) for r in rows]
    next_n = len(rows[0]) if two_d and rows else 1
    if indices is None:
        atoms = -(-next_n // atom) if two_d and next_n >= 2 else 1
        slots = lengths
    else:
        atoms, idx, slots = 1, indices.tolist(), [0] * len(lengths)
        i = 0
        while i < len(idx):
            j = i
            while j < len(idx) and idx[j] == idx[i]:
                j += 1
            for a in range(i, j, atom):
                slots[a] = max(lengths[a : min(a + atom, j)])
            i = j
    segs = [-(-n // split_kv) for n in slots]
    total = sum(segs) * atoms
    per_sm, extra = divmod(total, num_sms)
    meta = []
    for s in range(num_sms):
        start = s * per_sm + max(0, s - (num_sms - extra))
        done = 0
        for b, seg in enumerate(segs):
            if done + seg * atoms > start:
                off = start - done
                meta.append((b * atoms + off // seg, off % seg))
                break
            done += seg * atoms
        else:
            meta.append((len(slots) * atoms, 0))
    meta.append((len(slots) * atoms, 0))
    return torch.tensor(meta, dtype=torch.int32)
