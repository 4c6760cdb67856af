"""Time a candidate ``sm90`` section (the SM90 Gluon kernel) against the table's paged entry, on the same inputs as
scripts/ab_kernels.py, DeepGEMM alongside. One run per process: run it once without and once with the section.

    python scripts/ab_sm90_entry.py MODES CASES [AHEAD,MAXNREG,PROGRAMS[,SUMS] [NEXT_N]]
    # e.g. native,bytes 1x8192x1,8x32768x1 2,128,4 1
    python scripts/ab_sm90_entry.py MODES CASES sums=tf32 [NEXT_N]   # the table's own sections, with keys changed

With a section, every table entry for calls with ``NEXT_N`` rows per request (default 1) gets it, whatever its
bucket, so pick CASES inside the buckets you mean to change. With ``KEY=VALUE`` items instead, each entry that has
an ``sm90`` section keeps it with those keys set (integers where they parse as such).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import ab_kernels  # noqa: E402

from sglang_sm120_dsa.triton import launch  # noqa: E402

_TABLE = launch.paged_tiles


def use_section(section: str, rows: int | None = None) -> None:
    """Give the paged table's entries for calls with ``rows`` rows per request (None: every entry) the ``sm90``
    section ``AHEAD,MAXNREG,PROGRAMS[,SUMS]``, or set ``KEY=VALUE,...`` in the sections they have; an empty
    ``section`` restores the table."""
    if not section:
        launch.paged_tiles = _TABLE
        return
    if "=" in section:
        keys = {k: int(v) if v.isdigit() else v for k, v in (item.split("=") for item in section.split(","))}

        def tiles(arch, mode, heads, next_n, batch):
            entry = _TABLE(arch, mode, heads, next_n, batch)
            if rows in (None, next_n) and "sm90" in entry:
                entry = {**entry, "sm90": {**entry["sm90"], **keys}}
            return entry

        launch.paged_tiles = tiles
        return
    ahead, maxnreg, programs, *sums = section.split(",")
    entry = dict(ahead=int(ahead), maxnreg=int(maxnreg), programs_per_sm=int(programs),
                 **({"sums": sums[0]} if sums else {}))
    launch.paged_tiles = lambda arch, mode, heads, next_n, batch: (
        {**_TABLE(arch, mode, heads, next_n, batch), **({"sm90": entry} if rows in (None, next_n) else {})})


def main() -> None:
    modes, cases = sys.argv[1:3]
    section = sys.argv[3] if len(sys.argv) > 3 else ""
    use_section(section, int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    import deep_gemm

    for mode in modes.split(","):
        ab_kernels.use(mode)
        for case in cases.split(","):
            ab_kernels.paged_case(f"[{section or 'table'}]", mode, *map(int, case.split("x")), deep_gemm)


if __name__ == "__main__":
    main()
