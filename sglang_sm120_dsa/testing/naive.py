"""Independent float64 brute force: the oracle the PyTorch reference itself is checked against.

It shares no code with the reference: e4m3, e2m1 and ue8m0 are decoded from their bit definitions, pages are
read byte by byte from the fused cache, the scheduler is a scalar loop over the text of ``deepgemm-indexer.md``
§4.2. Row by row in numpy float64; meant for small shapes (CPU tests, the doctor's self-check).
"""

from __future__ import annotations

import math

import numpy as np
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


_E4M3 = np.array([e4m3_value(b) for b in range(256)])
_E2M1 = np.array([e2m1_value(c) for c in range(16)])


def _bytes(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().contiguous().view(torch.uint8).numpy()


def _fp4_values(packed: np.ndarray, scale_words: np.ndarray) -> np.ndarray:
    """packed uint8 ``[..., D/2]``, int32 ``[...]`` -> float64 ``[..., D]``."""
    values = np.stack((_E2M1[packed & 0xF], _E2M1[packed >> 4]), axis=-1).reshape(*packed.shape[:-1], -1)
    words = scale_words.astype(np.int64) & 0xFFFFFFFF
    blocks = values.shape[-1] // 32
    exps = np.stack([(words >> (8 * k)) & 0xFF for k in range(blocks)], axis=-1).astype(np.float64)
    return values * np.repeat(np.exp2(exps - 127), 32, axis=-1)


def _query(q, q_sf) -> np.ndarray:
    if q_sf is None:
        return _E4M3[_bytes(q)]
    return _fp4_values(_bytes(q), q_sf.detach().cpu().numpy())


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
    w = weights.detach().cpu().double().numpy().reshape(batch, next_n, heads)
    ctx = context_lens.detach().cpu().long().numpy()
    table = block_table.detach().cpu().long().numpy()
    cap = table.shape[1] * block_kv
    out = np.full((batch * next_n, max_context_len), -np.inf)
    for b in range(batch):
        if ctx.ndim == 2:
            lengths = ctx[b]
        else:
            lengths = np.array([ctx[b] - next_n + 1 + j for j in range(next_n)])
        lengths = np.clip(lengths, 0, min(cap, max_context_len))
        need = int(lengths.max(initial=0))
        keys, scales = [], []
        for p in range(-(-need // block_kv)):
            page = kv[min(max(int(table[b, p]), 0), num_blocks - 1)].reshape(-1).numpy()
            raw = page[: block_kv * value_bytes].reshape(block_kv, value_bytes)
            tail = page[block_kv * value_bytes : block_kv * (value_bytes + 4)]
            if fp4:
                keys.append(_fp4_values(raw, tail.view("<i4")))
                scales.append(np.ones(block_kv))
            else:
                keys.append(_E4M3[raw])
                scales.append(tail.view("<f4").astype(np.float64))
        if need == 0:
            continue
        k = np.concatenate(keys)[:need]
        s = np.concatenate(scales)[:need]
        for j in range(next_n):
            n = int(lengths[j])
            dots = qv[b, j] @ k[:n].T  # [H, n]
            out[b * next_n + j, :n] = s[:n] * (w[b, j][:, None] * np.maximum(dots, 0)).sum(axis=0)
    return torch.from_numpy(out)


def naive_ragged_logits(q, kv: tuple[torch.Tensor, torch.Tensor], weights: torch.Tensor, ks: torch.Tensor,
                        ke: torch.Tensor, max_seqlen_k: int = 0, q_sf: torch.Tensor | None = None) -> torch.Tensor:
    """float64 ``[S, SKV or max_seqlen_k]`` on the CPU, ``-inf`` outside ``[ks, ke)``."""
    qv = _query(q, q_sf)  # [S, H, D]
    if q_sf is None:
        keys = _E4M3[_bytes(kv[0])]
        kscale = kv[1].detach().cpu().double().numpy()
    else:
        keys = _fp4_values(_bytes(kv[0]), kv[1].detach().cpu().numpy())
        kscale = np.ones(keys.shape[0])
    seq_len, seq_len_kv = qv.shape[0], keys.shape[0]
    width = max_seqlen_k or seq_len_kv
    w = weights.detach().cpu().double().numpy()
    starts, ends = ks.detach().cpu().long().numpy(), ke.detach().cpu().long().numpy()
    out = np.full((seq_len, width), -np.inf)
    for i in range(seq_len):
        lo, hi = max(int(starts[i]), 0), min(int(ends[i]), seq_len_kv)
        for col in range(width):
            t = int(starts[i]) + col if max_seqlen_k else col
            if lo <= t < hi:
                out[i, col] = kscale[t] * (w[i] * np.maximum(qv[i] @ keys[t], 0)).sum()
    return torch.from_numpy(out)


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
