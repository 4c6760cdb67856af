"""Paged-logits schedule metadata: DeepGEMM SM90's scheduler (``deepgemm-indexer.md`` §4.2) in PyTorch.

The work of request ``b`` is ``ceil(L_b / split_kv)`` KV splits for each of its ``A`` query atoms (groups of
``atom`` consecutive MTP tokens). Tasks are ordered request-major, then atom, then split, and cut into
``num_sms`` contiguous ranges, the last ``total % num_sms`` ranges one task longer ("reversed" allocation).
Row ``s`` of the int32 ``[num_sms + 1, 2]`` result is SM ``s``'s first task ``(b * A + atom, split)``; row
``num_sms`` is the sentinel ``(B * A, 0)``. SM ``s`` runs ``[meta[s], meta[s + 1])``.

``split_kv`` and ``atom`` belong to the kernel family that consumes the metadata; with ``split_kv=256, atom=2``
the result is bit-identical to DeepGEMM SM90's for every input it accepts. Deliberate differences:

* ``L_b`` is the **largest** context length of the request's row, not the last column, so a row whose earlier
  MTP token had the longer context is still covered (equal for DeepGEMM's own inputs, whose last column is
  the largest). Negative lengths count as 0. 1-D ``context_lens`` means one atom per request (``A = 1``).
* An SM with no task (only when every length is 0) gets the sentinel; DeepGEMM reads shared memory out of
  bounds there.
* Varlen (``indices``, next_n == 1): the slots are the query tokens; up to ``atom`` consecutive tokens with the
  same index form one atom, whose length is the largest of theirs; an atom's tasks sit at its first token,
  other tokens have none. ``meta[s] = (first token of the atom, split)``, sentinel ``(B, 0)``.

Pure tensor ops, no host synchronization: capturable in a CUDA graph, and the shape depends on ``num_sms`` only.
"""

from __future__ import annotations

import torch

from .._checks import MetadataCall

__all__ = ["schedule_paged_tasks"]


def _slot_lengths(call: MetadataCall, atom: int) -> tuple[torch.Tensor, int]:
    """Per-slot context length (int64 [B]) and the number of atoms per slot ``A``."""
    lens = call.context_lens.to(torch.int64).clamp_min(0)
    if call.lens_2d:
        lens = lens.amax(dim=1)
    if call.indices is None:
        atoms_per_slot = -(-call.next_n // atom) if call.lens_2d and call.next_n >= 2 else 1
        return lens, atoms_per_slot
    idx = call.indices
    pos = torch.arange(call.batch, device=lens.device)
    new_run = torch.ones(call.batch, dtype=torch.bool, device=lens.device)
    new_run[1:] = idx[1:] != idx[:-1]
    run_start = torch.cummax(torch.where(new_run, pos, 0), dim=0).values
    starts_atom = (pos - run_start) % atom == 0
    atom_len = lens.clone()
    for k in range(1, atom):  # fold in the partners of each atom's first token
        partner = torch.zeros_like(new_run)
        partner[:-k] = run_start[k:] == run_start[:-k]
        atom_len[:-k] = torch.where(partner[:-k], torch.maximum(atom_len[:-k], lens[k:]), atom_len[:-k])
    return torch.where(starts_atom, atom_len, 0), 1


def schedule_paged_tasks(call: MetadataCall, split_kv: int, atom: int) -> torch.Tensor:
    """int32 ``[num_sms + 1, 2]`` schedule for a kernel family with the given split size and atom size."""
    if split_kv % call.block_kv:
        raise ValueError(f"split_kv {split_kv} is not a multiple of block_kv {call.block_kv}")
    device, num_sms, batch = call.context_lens.device, call.num_sms, call.batch
    lens, atoms_per_slot = _slot_lengths(call, atom)
    sentinel = (batch * atoms_per_slot, 0)
    if batch == 0:
        meta = torch.zeros(num_sms + 1, 2, dtype=torch.int32, device=device)
        meta[:, 0] = sentinel[0]
        return meta

    segs = (lens + split_kv - 1) // split_kv
    tasks = segs * atoms_per_slot
    cum = torch.cumsum(tasks, dim=0)
    total = cum[-1]
    sm = torch.arange(num_sms + 1, dtype=torch.int64, device=device)
    per_sm, extra = total // num_sms, total % num_sms
    start = sm * per_sm + (sm - (num_sms - extra)).clamp_min(0)
    slot = torch.searchsorted(cum, start, right=True)  # first slot whose tasks end after `start`
    has_task = slot < batch
    slot = slot.clamp_max(batch - 1)
    offset = start - (cum[slot] - tasks[slot])
    seg = segs[slot].clamp_min(1)
    first = torch.where(has_task, slot * atoms_per_slot + offset // seg, sentinel[0])
    second = torch.where(has_task, offset % seg, sentinel[1])
    return torch.stack((first, second), dim=1).to(torch.int32)
