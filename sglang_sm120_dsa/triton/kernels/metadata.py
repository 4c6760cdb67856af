"""Paged schedule metadata on the GPU: ``_dsa_paged_mqa_metadata_kernel``.

The foundation's algorithm (``reference/metadata.py``) for a family whose atoms hold every row of a request
(``ATOM >= next_n``, so one atom per slot): ``segs = ceil(L / split_kv)`` per slot (a power of two, passed as
``log2_split``: a shift, not a division), ``total`` tasks cut into
``num_sms`` ranges, the last ``total % num_sms`` one task longer; row ``s`` is the ``(slot, split)`` where range
``s`` starts, row ``num_sms`` the sentinel ``(num_slots, 0)``. Each program computes ``SM_TILE`` rows: it sums the
tasks, then finds each start's slot by counting the slots that end at or before it, ``B_CHUNK`` slots at a time.
Varlen: slots are tokens; up to ``ATOM`` consecutive tokens with the same index form an atom at its first token.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _max_combine(a, b):
    return tl.maximum(a, b)


@triton.jit
def splits(length, log2_split):
    """``ceil(length / split_kv)`` for ``length >= 0``: a slot's tasks (``split_kv`` a power of two, passed as its
    log2: a shift, not a division). The paged kernel counts its tasks with this too."""
    return (length + (1 << log2_split) - 1) >> log2_split


@triton.jit
def _slot_segs(lens_ptr, idx_ptr, c, run_carry, num_slots, next_n, lens_2d, varlen, log2_split,
               ATOM: tl.constexpr, B_CHUNK: tl.constexpr, NEXT_N_P2: tl.constexpr):
    """Tasks of slots ``[c, c + B_CHUNK)`` and the run start of the chunk's last slot (varlen carry)."""
    i = c + tl.arange(0, B_CHUNK)
    ok = i < num_slots
    if varlen != 0:
        ids = tl.load(idx_ptr + i, mask=ok, other=-1)
        prev = tl.load(idx_ptr + i - 1, mask=ok & (i > 0), other=-2)
        run_start = tl.associative_scan(tl.where(ids != prev, i, -1), 0, _max_combine)
        run_start = tl.maximum(run_start, run_carry)
        length = tl.load(lens_ptr + i, mask=ok, other=0)
        partner = ok
        for k in tl.static_range(1, ATOM):  # fold in the following tokens of the same run: the atom's others
            nxt = i + k
            partner = partner & (nxt < num_slots) & (tl.load(idx_ptr + nxt, mask=nxt < num_slots, other=-1) == ids)
            length = tl.maximum(length, tl.load(lens_ptr + nxt, mask=partner, other=0))
        length = tl.where((i - run_start) % ATOM == 0, length, 0)
        carry = tl.max(tl.where(ok, run_start, -1), axis=0)
    else:
        j = tl.arange(0, NEXT_N_P2)
        cols = tl.where(lens_2d != 0, next_n, 1)
        m = ok[:, None] & (j < cols)[None, :]
        length = tl.max(tl.load(lens_ptr + i[:, None] * cols + j[None, :], mask=m, other=0), axis=1)
        carry = run_carry
    segs = tl.where(ok, splits(tl.maximum(length, 0), log2_split), 0)
    return segs, carry


@triton.jit(do_not_specialize=["num_slots", "next_n", "lens_2d", "varlen", "num_sms", "log2_split"],
            do_not_specialize_on_alignment=["lens_ptr", "idx_ptr", "meta_ptr"])
def _dsa_paged_mqa_metadata_kernel(lens_ptr, idx_ptr, meta_ptr, num_slots, next_n, lens_2d, varlen, num_sms, log2_split,
                                   ATOM: tl.constexpr, SM_TILE: tl.constexpr, B_CHUNK: tl.constexpr,
                                   NEXT_N_P2: tl.constexpr):
    # pass 1: the total; the first chunk stays in registers for pass 2 (one chunk covers most decode batches)
    segs0, carry0 = _slot_segs(lens_ptr, idx_ptr, 0, -1, num_slots, next_n, lens_2d, varlen, log2_split, ATOM,
                               B_CHUNK, NEXT_N_P2)
    total = tl.sum(segs0, axis=0)
    carry = carry0
    for c in range(B_CHUNK, num_slots, B_CHUNK):
        segs, carry = _slot_segs(lens_ptr, idx_ptr, c, carry, num_slots, next_n, lens_2d, varlen, log2_split, ATOM,
                                 B_CHUNK, NEXT_N_P2)
        total += tl.sum(segs, axis=0)
    per_sm = total // num_sms
    pivot = num_sms - total % num_sms
    s = tl.program_id(0) * SM_TILE + tl.arange(0, SM_TILE)
    start = s * per_sm + tl.maximum(s - pivot, 0)

    before = tl.zeros([SM_TILE], dtype=tl.int32)  # slots whose tasks all come before `start`
    done = tl.zeros([SM_TILE], dtype=tl.int32)  # their tasks
    cum = tl.cumsum(segs0, axis=0)
    ended = cum[None, :] <= start[:, None]
    before += tl.sum(ended.to(tl.int32), axis=1)
    done += tl.sum(tl.where(ended, segs0[None, :], 0), axis=1)
    running = tl.sum(segs0, axis=0)
    carry = carry0
    for c in range(B_CHUNK, num_slots, B_CHUNK):
        segs, carry = _slot_segs(lens_ptr, idx_ptr, c, carry, num_slots, next_n, lens_2d, varlen, log2_split, ATOM,
                                 B_CHUNK, NEXT_N_P2)
        cum = running + tl.cumsum(segs, axis=0)
        ended = cum[None, :] <= start[:, None]
        before += tl.sum(ended.to(tl.int32), axis=1)
        done += tl.sum(tl.where(ended, segs[None, :], 0), axis=1)
        running += tl.sum(segs, axis=0)
    has_task = before < num_slots
    first = tl.where(has_task, before, num_slots)
    second = tl.where(has_task, start - done, 0)  # one atom per slot: the split index
    ok = s <= num_sms
    tl.store(meta_ptr + 2 * s, first, mask=ok)
    tl.store(meta_ptr + 2 * s + 1, second, mask=ok)
