"""get_paged_mqa_logits_metadata: the vectorized scheduler against the scalar one, and the schedule's invariants."""

from __future__ import annotations

import itertools
import json
import pathlib

import pytest
import torch

import sglang_sm120_dsa as dsa
from sglang_sm120_dsa import _checks
from sglang_sm120_dsa.reference.metadata import schedule_paged_tasks
from sglang_sm120_dsa.testing import naive_metadata

GOLDEN = pathlib.Path(__file__).parent / "data" / "deepgemm_sm90_metadata.json"


def random_lens(batch: int, next_n: int, two_d: bool, seed: int, zero_fraction: float = 0.2) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    lens = torch.randint(-3, 2000, (batch,), generator=gen, dtype=torch.int32)
    lens[torch.rand(batch, generator=gen) < zero_fraction] = 0
    if not two_d:
        return lens
    cols = (lens[:, None].clamp_min(0) * torch.rand(batch, next_n, generator=gen)).to(torch.int32)
    cols[:, -1] = lens
    if batch:  # one row whose earlier MTP token has the longest context
        cols[0, 0] = cols[0, -1] + 300
    return cols


def walk(meta: torch.Tensor, tasks: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Split the ordered task list at the metadata's start points: the tasks each SM runs."""
    position = {t: i for i, t in enumerate(tasks)}
    position[tuple(meta[-1].tolist())] = len(tasks)
    starts = [position[tuple(row)] for row in meta.tolist()]
    assert starts == sorted(starts) and starts[-1] == len(tasks)
    return [tasks[a:b] for a, b in zip(starts, starts[1:], strict=False)]


def task_list(lens: torch.Tensor, split_kv: int, atom: int) -> list[tuple[int, int]]:
    """All (atom index, split) tasks in request-major, atom, split order (non-varlen)."""
    two_d = lens.dim() == 2
    per_req = lens.clamp_min(0).amax(dim=1) if two_d else lens.clamp_min(0)
    next_n = lens.shape[1] if two_d else 1
    atoms = -(-next_n // atom) if two_d and next_n >= 2 else 1
    tasks = []
    for b, n in enumerate(per_req.tolist()):
        for a in range(atoms):
            tasks += [(b * atoms + a, s) for s in range(-(-n // split_kv))]
    return tasks


# 1-D context_lens carry no next_n, so they only pair with next_n = 1.
CASES = [(b, n, two_d, sms) for b, n, two_d, sms in
         itertools.product([0, 1, 3, 31, 32, 64, 200], [1, 2, 3, 6, 8], [True, False], [1, 7, 132, 188])
         if two_d or n == 1]


@pytest.mark.parametrize("batch,next_n,two_d,num_sms", CASES)
def test_metadata_matches_scalar_scheduler(batch, next_n, two_d, num_sms) -> None:
    lens = random_lens(batch, next_n, two_d, seed=batch * 1000 + next_n * 10 + num_sms)
    meta = dsa.get_paged_mqa_logits_metadata(lens, 64, num_sms)
    assert meta.dtype == torch.int32 and meta.shape == (num_sms + 1, 2) and meta.is_contiguous()
    assert torch.equal(meta, naive_metadata(lens, num_sms))
    # every task exactly once, SMs balanced to within one task
    tasks = task_list(lens, 256, 2)
    per_sm = walk(meta, tasks)
    assert sum(per_sm, []) == tasks
    sizes = [len(p) for p in per_sm]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("split_kv,atom", [(128, 2), (256, 1), (512, 4)])
def test_metadata_other_family_parameters(split_kv: int, atom: int) -> None:
    for seed in range(5):
        lens = random_lens(37, 5, True, seed)
        call = _checks.check_metadata(lens, 64, 20, None)
        meta = schedule_paged_tasks(call, split_kv=split_kv, atom=atom)
        assert torch.equal(meta, naive_metadata(lens, 20, split_kv=split_kv, atom=atom))
        assert sum(walk(meta, task_list(lens, split_kv, atom)), []) == task_list(lens, split_kv, atom)


def test_metadata_split_must_cover_whole_pages() -> None:
    call = _checks.check_metadata(torch.ones(2, dtype=torch.int32), 128, 4, None)
    with pytest.raises(ValueError, match="multiple of block_kv"):
        schedule_paged_tasks(call, split_kv=192, atom=1)


@pytest.mark.parametrize("batch", [31, 32, 64, 1])
def test_metadata_all_zero_lengths(batch: int) -> None:
    """DeepGEMM SM90 reads out of bounds here when batch % 32 == 0; every SM must get the empty sentinel."""
    for lens in (torch.zeros(batch, 2, dtype=torch.int32), torch.zeros(batch, dtype=torch.int32)):
        meta = dsa.get_paged_mqa_logits_metadata(lens, 64, 132)  # next_n 2 is one atom of two tokens
        assert (meta == torch.tensor([batch, 0], dtype=torch.int32)).all()


def test_metadata_shape_is_independent_of_batch() -> None:
    metas = [dsa.get_paged_mqa_logits_metadata(random_lens(b, 1, True, b), 32, 96) for b in range(0, 70, 7)]
    shapes = {tuple(m.shape) for m in metas}
    assert shapes == {(97, 2)}


def test_metadata_one_d_lens_mean_one_atom_per_request() -> None:
    lens = torch.tensor([300, 0, 600], dtype=torch.int32)
    meta = dsa.get_paged_mqa_logits_metadata(lens, 64, 4)
    assert meta.tolist() == [[0, 0], [0, 1], [2, 0], [2, 1], [3, 0]]


def test_metadata_block_kv_does_not_change_the_schedule() -> None:
    lens = random_lens(10, 2, True, 3)
    metas = [dsa.get_paged_mqa_logits_metadata(lens, bkv, 16) for bkv in (32, 64, 128)]
    assert all(torch.equal(metas[0], m) for m in metas)


def varlen_indices(batch: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    sizes = torch.randint(1, 5, (batch,), generator=gen).tolist()
    ids: list[int] = []
    while len(ids) < batch:
        ids += [len(set(ids))] * sizes[len(ids)]
    return torch.tensor(ids[:batch], dtype=torch.int32)


@pytest.mark.parametrize("seed", range(6))
def test_metadata_varlen(seed: int) -> None:
    batch = 5 + 7 * seed
    indices = varlen_indices(batch, seed)
    lens = random_lens(batch, 1, seed % 2 == 0, seed, zero_fraction=0.1)
    meta = dsa.get_paged_mqa_logits_metadata(lens, 64, 9, indices)
    assert torch.equal(meta, naive_metadata(lens, 9, indices=indices))
    assert meta[-1].tolist() == [batch, 0]
    # tasks sit at atom-start tokens only: the first token of a request or the one two after an atom start
    idx = indices.tolist()
    for token, _ in meta[:-1].tolist():
        if token < batch:
            run_start = min(i for i in range(token + 1) if idx[i] == idx[token])
            assert (token - run_start) % 2 == 0


def test_metadata_varlen_pairs_share_the_longer_context() -> None:
    indices = torch.tensor([0, 0, 0, 1], dtype=torch.int32)
    lens = torch.tensor([256, 600, 10, 1], dtype=torch.int32)
    meta = dsa.get_paged_mqa_logits_metadata(lens, 64, 5, indices)
    # atoms: tokens {0, 1} (600 -> 3 splits), {2} (1 split), {3} (1 split): 5 tasks over 5 SMs
    assert meta.tolist() == [[0, 0], [0, 1], [0, 2], [2, 0], [3, 0], [4, 0]]


def test_metadata_deterministic() -> None:
    lens = random_lens(50, 2, True, 11)
    first = dsa.get_paged_mqa_logits_metadata(lens, 64, 132)
    assert all(torch.equal(first, dsa.get_paged_mqa_logits_metadata(lens, 64, 132)) for _ in range(5))


def test_metadata_matches_deepgemm_sm90_golden_vectors() -> None:
    """Outputs of DeepGEMM's SM90 scheduler recorded on an H100/H200 by scripts/capture_deepgemm_golden.py."""
    records = json.loads(GOLDEN.read_text())["cases"]
    assert len(records) >= 20
    for rec in records:
        lens = torch.tensor(rec["context_lens"], dtype=torch.int32).reshape(rec["shape"])
        meta = dsa.get_paged_mqa_logits_metadata(lens, rec["block_kv"], rec["num_sms"])
        assert meta.tolist() == rec["metadata"], rec["name"]
