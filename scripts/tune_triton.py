#!/usr/bin/env python3
"""Tune the Triton family on this GPU and write its tables (configs/<op>/triton/sm_<arch>.json) under --out.

Paged logits, per batch-size bucket (the key of both the split and the tiles): every split size with every tile
config (block_t, num_warps, num_stages, maxnreg, programs_per_sm) of the native FP8 path (or bytes, where native is
unavailable), on the bucket's cases of each rows class (next_n 1, next_n >= 2); the split whose best tiles give the
lowest geometric mean wins, with those tiles. The other operand modes get one tile config per rows class, tuned on
the B <= 128 bucket's first case of that class at its split (one entry keeps their compiled variants few). Ragged
logits: tiles per mode on S=4096 x SKV=32768. H=64, D=128 (the DeepSeek-V3.2 indexer); other head counts use the table's
default. Times are medians of CUDA-graph replays with a cold L2 (eager calls would time the host launch of the
small cases). Prints every measurement. Needs a CUDA GPU.

``--modes bytes`` (any subset of native, bytes, fp4) retunes only those modes and keeps the rest of this arch's shipped
tables: paged tiles per batch bucket on that bucket's cases at the split the launcher uses for them (the split
belongs to the metadata, which does not know the mode), ragged tiles as above.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import importlib.metadata
import itertools
import math
import os
import pathlib
import sys

import torch

from sglang_sm120_dsa import _checks
from sglang_sm120_dsa import configs as tables
from sglang_sm120_dsa.layout import new_logits
from sglang_sm120_dsa.layout import paged_logits_row_stride
from sglang_sm120_dsa.layout import ragged_logits_row_stride
from sglang_sm120_dsa.testing import benchmark_paged_case
from sglang_sm120_dsa.testing import make_ragged_case
from sglang_sm120_dsa.testing.bench import bench
from sglang_sm120_dsa.testing.bench import timed
from sglang_sm120_dsa.triton import aot
from sglang_sm120_dsa.triton import launch
from sglang_sm120_dsa.triton.config import MODE_NAMES
from sglang_sm120_dsa.triton.config import arch_of
from sglang_sm120_dsa.triton.config import paged_family
from sglang_sm120_dsa.triton.config import rows_per_group
from sglang_sm120_dsa.triton.config import table as shipped_table
from sglang_sm120_dsa.triton.kernels.decode import MODE_FP4
from sglang_sm120_dsa.triton.variants import modes_for
from sglang_sm120_dsa.triton.variants import paged_variant


def _tile(block_t, num_warps, num_stages, maxnreg, programs_per_sm):
    return dict(block_t=block_t, num_warps=num_warps, num_stages=num_stages, maxnreg=maxnreg,
                programs_per_sm=programs_per_sm)


# Candidates per rows class that fit an H100/H200 SM (228 KB shared memory, 64K registers) at their
# programs_per_sm: shared memory grows with block_t x (num_stages - 1), and maxnreg x threads x programs <= 64K.
# (Smaller SMs take each with fewer programs, see fitted; the 2-stage 64-token tiles are for them.)
TILES = {1: [_tile(128, 4, 2, 128, 4), _tile(128, 4, 3, 168, 3), _tile(64, 4, 3, 128, 4), _tile(64, 4, 4, 128, 4),
             _tile(64, 4, 3, 168, 3), _tile(64, 4, 4, 168, 3), _tile(64, 4, 5, 128, 4), _tile(64, 4, 2, 168, 3)],
         2: [_tile(128, 4, 2, 128, 4), _tile(64, 4, 3, 168, 3), _tile(64, 4, 4, 168, 3), _tile(64, 4, 3, 128, 4),
             _tile(64, 8, 3, 128, 2), _tile(64, 4, 2, 168, 3)]}
# Each 64-token candidate also as a one-page entry (a second variant, used where a 64-token page holds the tile)
TILES = {rows: tiles + [{**t, "one_page": True} for t in tiles if t["block_t"] == 64] for rows, tiles in TILES.items()}
SPLITS = (128, 256, 512, 1024)
OTHER_MODES_BUCKET = 128
# batch-size bucket (upper bound) -> (batch, context, next_n) cases it is tuned on
BUCKETS = {8: [(1, 8192, 1), (1, 65536, 1), (8, 32768, 1), (1, 65536, 2), (8, 32768, 2)],
           32: [(32, 8192, 1), (32, 32768, 1), (32, 8192, 2), (32, 32768, 2)],
           128: [(64, 65536, 1), (64, 65536, 2), (128, 16384, 1), (128, 16384, 2)],
           "inf": [(256, 8192, 1), (256, 8192, 2), (512, 4096, 1)]}
RAGGED_TILES = [dict(block_kv=b, num_warps=w, num_stages=s, chunk=4096, maxnreg=r)
                for b, w, s, r in itertools.product((64, 128), (4, 8), (2, 3), (None, 128))]


# The tables' two rows classes: next_n 1 (H=64's own key), and next_n >= 2 (the ``default`` entries, and H=64
# next_n 2's own key). ``one_page`` only in H=64's keys: on the defaults it would add a variant for every head count.
ROWS_KEYS = (("default", 2), ("H=64,next_n=2", 2), ("H=64,next_n=1", 1))


def _entry(key: str, tiles: dict) -> dict:
    return tiles if key.startswith("H=64,") else {k: v for k, v in tiles.items() if k != "one_page"}


def rows_class(next_n: int) -> int:
    return 1 if next_n == 1 else 2


class Paged:
    """A paged case prepared once; times any (split, tiles, mode)."""

    def __init__(self, batch, context, next_n, fp4=False):
        self.case = benchmark_paged_case(batch, context, next_n, fp4=fp4)
        self.rows = rows_class(next_n)
        self.label = f"B={batch} ctx={context} next_n={next_n}{' fp4' if fp4 else ''}"

    def time(self, split: int, tiles: dict, mode: int) -> float:
        launch.paged_family = lambda arch, batch: {"split_kv": split}  # what the launcher and the metadata read
        c = self.case
        meta = launch.get_paged_mqa_logits_metadata(_checks.check_metadata(c.context_lens, 64, 132, None))
        call = _checks.check_paged("tune", c.q, c.kv_cache, c.weights, c.context_lens, c.block_table, meta,
                                   c.max_context_len, False, torch.float32, None, True)
        out = new_logits(call.rows, call.width, paged_logits_row_stride(call.width, torch.float32), torch.float32,
                         c.q_bf16.device)
        return timed(lambda: launch.paged_mqa_logits(call, out, tiles, mode), reps=20)[0]


@functools.cache
def _compiled(variant, arch: int):
    return aot.compile_variant(variant, arch)


def fitted(arch: int, tiles: dict, mode: int, rows: int) -> dict | None:
    """``tiles`` with ``programs_per_sm`` lowered to what fits one SM of ``arch`` (compiled for ``arch``: its shared
    memory and registers), or None: the candidates are sized for Hopper's SM, and a table must not ask for more
    programs than an SM holds (aot.occupancy_problems). A one-page entry's other variant (smaller pages) gets its own
    count where fewer of it fit (``programs_per_sm_multi_page``, config.programs_per_sm)."""
    group = rows_per_group(64, 1 if rows == 1 else 2)
    counts = {}
    for one in {False, bool(tiles.get("one_page"))}:
        variant = paged_variant(arch, mode, 64, 128, group, tiles, one)
        counts[one] = min(tiles["programs_per_sm"], aot.max_programs(arch, _compiled(variant, arch), variant))
    if not all(counts.values()):
        return None
    out = {**tiles, "programs_per_sm": counts[bool(tiles.get("one_page"))]}
    if counts[False] < out["programs_per_sm"]:
        out["programs_per_sm_multi_page"] = counts[False]
    return out


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


def _best_tiles(arch, cases, split, candidates, mode, name):
    """(geomean, tiles) of the candidate fastest on ``cases`` at ``split``; failures (e.g. shared memory) skipped."""
    scored, seen = [], []
    for candidate in candidates:
        try:
            tiles = fitted(arch, candidate, mode, cases[0].rows)
            if tiles is None or tiles in seen:  # (lowered onto another candidate)
                print(f"  paged {name} split={split} {candidate}: " + (f"no program fits one sm_{arch} SM"
                                                                       if tiles is None else f"as {tiles}"))
                continue
            seen.append(tiles)
            times = [case.time(split, tiles, mode) for case in cases]
        except Exception as e:
            print(f"  paged {name} split={split} {candidate}: {type(e).__name__}: {str(e)[:100]}")
            continue
        scored.append((geomean(times), tiles))
        cells = " ".join(f"{t * 1e6:7.1f}" for t in times)
        print(f"  paged {name:6s} split={split:4d} {tiles} {cells}  geomean {scored[-1][0] * 1e6:.1f}", flush=True)
    best = min(r[0] for r in scored)
    # within 1% is noise (graph replays on an H200 repeat to about 0.5%): the earlier candidate wins, so a rerun
    # does not flip entries (and compiled variants) on ties
    return next(r for r in scored if r[0] <= best * 1.01)


def tune_paged(arch: int) -> dict:
    modes = modes_for(arch)
    mode0, name0 = modes[0], MODE_NAMES[modes[0]]  # the FP8 mode auto picks on this arch
    family, best = {}, {}
    for bound, specs in BUCKETS.items():
        prepared = [Paged(*c) for c in specs]
        cases = {rows: [case for case in prepared if case.rows == rows] for rows in (1, 2)}
        by_split = []
        for split in SPLITS:
            picks = {rows: _best_tiles(arch, cases[rows], split, TILES[rows], mode0, name0) for rows in (1, 2)}
            n = {rows: len(cases[rows]) for rows in (1, 2)}
            score = math.exp(sum(math.log(picks[r][0]) * n[r] for r in (1, 2)) / sum(n.values()))
            by_split.append((score, split, picks))
            print(f"  B<={bound} split={split}: geomean {score * 1e6:.1f} us", flush=True)
        _, split, picks = min(by_split, key=lambda r: r[0])
        family[str(bound)] = {"split_kv": split}
        for rows in (1, 2):
            best[(name0, rows, str(bound))] = picks[rows][1]
        for mode in modes[1:] if bound == OTHER_MODES_BUCKET else ():
            name = MODE_NAMES[mode]
            for rows in (1, 2):
                spec = next(c for c in specs if rows_class(c[2]) == rows)
                case = Paged(*spec, fp4=mode == MODE_FP4.value)
                best[(name, rows, "inf")] = _best_tiles(arch, [case], split, TILES[rows], mode, name)[1]
        print(f"best B<={bound}: split {split}; " + "; ".join(f"{k[0]} rows {k[1]}: {v}" for k, v in best.items()
                                                            if k[2] == str(bound)), flush=True)
        del cases, prepared
    table = {"family": family}
    for mode in modes:
        name = MODE_NAMES[mode]
        table[name] = {key: {bound: _entry(key, best[(name, rows, bound)])
                             for bound in (family if mode == mode0 else ["inf"])} for key, rows in ROWS_KEYS}
    return table


def retune_paged_modes(arch: int, modes: list[int]) -> dict:
    """The shipped paged table with ``modes`` retuned: tiles per batch bucket and rows class at the shipped split."""
    table = {k: v for k, v in shipped_table("paged_mqa_logits", arch).items() if k != "_meta"}
    for mode in modes:
        name = MODE_NAMES[mode]
        section = {key: {} for key, _ in ROWS_KEYS}
        for bound, specs in BUCKETS.items():
            split = paged_family(arch, specs[0][0])["split_kv"]  # what the launcher uses for the bucket's batches
            for rows in (1, 2):
                cases = [Paged(*c, fp4=mode == MODE_FP4.value) for c in specs if rows_class(c[2]) == rows]
                tiles = _best_tiles(arch, cases, split, TILES[rows], mode, name)[1]
                for key in (key for key, r in ROWS_KEYS if r == rows):
                    section[key][str(bound)] = _entry(key, tiles)
                print(f"best {name} B<={bound} rows {rows}: {tiles}", flush=True)
        table[name] = section
    return table


def tune_ragged(arch: int, modes: list[int]) -> dict:
    table = {k: v for k, v in shipped_table("mqa_logits", arch).items() if k != "_meta"}
    for mode in modes:
        name = MODE_NAMES[mode]
        case = make_ragged_case(4096, 32768, 64, 128, fp4=mode == MODE_FP4.value, seed=1, device="cuda")
        call = _checks.check_ragged("tune", case.q, case.kv, case.weights, case.ks, case.ke, False, 0, torch.float32,
                                    None, True)
        out = new_logits(call.seq_len, call.width, ragged_logits_row_stride(call.seq_len_kv, 0, torch.float32),
                         torch.float32, case.q_bf16.device)
        results = []
        candidates = list(RAGGED_TILES)
        for stage in (1, 2):
            for tiles in candidates:
                try:
                    run = lambda c=call, o=out, t=tiles, m=mode: launch.mqa_logits(c, o, t, m)  # noqa: E731
                    t = bench(run, reps=10, max_seconds=1.0)
                except Exception as e:
                    print(f"  ragged {name} {tiles}: {type(e).__name__}: {str(e)[:100]}")
                    continue
                results.append((t, tiles))
                print(f"  ragged {name:6s} {tiles} {t * 1e6:9.1f} us", flush=True)
            best = min(results, key=lambda r: r[0])[1]
            candidates = [{**best, "chunk": c} for c in (2048, 8192, 16384)] if stage == 1 else []
        print(f"best ragged {name}: {best}")
        table[name] = {"default": {"inf": best}}
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path(os.environ.get("OUT", "out")))
    parser.add_argument("--ops", default="paged,ragged")
    parser.add_argument("--modes", default=None, help="retune only these operand modes (e.g. bytes); default: all")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("tune_triton: needs a CUDA GPU", file=sys.stderr)
        return 2
    arch = arch_of(torch.device("cuda", torch.cuda.current_device()))  # SGLANG_SM120_DSA_TRITON_ARCH's, if set
    major, minor = torch.cuda.get_device_capability()
    emulated = arch != major * 10 + minor
    meta = {"generated_by": "scripts/tune_triton.py", "gpu": torch.cuda.get_device_name(), "tuned": not emulated,
            "triton": importlib.metadata.version("triton"), "torch": torch.__version__,
            "date": datetime.date.today().isoformat(), "cases": "H=64, D=128, block_kv=64"}
    if emulated:  # another arch's program on this GPU: its MMA and tables, this GPU's memory system and SMs
        meta["program_of"] = f"sm_{arch}, run on sm_{major}{minor} (SGLANG_SM120_DSA_TRITON_ARCH)"
    names = {MODE_NAMES[m]: m for m in modes_for(arch)}
    modes = list(names.values())
    if args.modes:
        if not set(args.modes.split(",")) <= set(names):
            parser.error(f"--modes {args.modes}: choose from {', '.join(names)} (the modes sm_{arch} runs)")
        modes = [names[m] for m in args.modes.split(",")]
        meta["note"] = f"--modes {args.modes}: those modes retuned on this date, the rest as shipped before"
    paged = (lambda a: retune_paged_modes(a, modes)) if args.modes else tune_paged
    for op, fn, key in (("paged", paged, "paged_mqa_logits"), ("ragged", lambda a: tune_ragged(a, modes),
                                                                 "mqa_logits")):
        if op not in args.ops.split(","):
            continue
        print(f"wrote {tables.save(args.out, key, 'triton', arch, {'_meta': meta, **fn(arch)})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
