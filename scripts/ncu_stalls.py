"""Where a kernel's warps wait, from ncu's warp-state samples per SASS instruction: for each kernel in the CSV of
``ncu --import REPORT --page source --csv --print-source sass``, the share of each stall reason in all samples and
the instructions with the most samples (with their top reasons). Runs anywhere (no GPU, no ncu).

    ncu --profile-from-start off --clock-control none --set full -o prof \\
        python3 scripts/profile_paged.py 256x8192x2 deepgemm native
    ncu --import prof.ncu-rep --page source --csv --print-source sass > src.csv
    python3 scripts/ncu_stalls.py src.csv [TOP]

(``--kernel-name regex:...`` on the import picks kernels; without it every kernel of the report is listed.)
"""

from __future__ import annotations

import collections
import csv
import sys

SAMPLES = "Warp Stall Sampling (All Samples)"


def kernels(lines) -> list[tuple[str, list[dict[str, str]]]]:
    """(kernel name, one dict per SASS line) for each ``"Kernel Name"`` block of the CSV."""
    blocks: list[tuple[str, list[dict[str, str]]]] = []
    header: list[str] = []
    for row in csv.reader(lines):
        if not row:
            continue
        if row[0] == "Kernel Name":
            blocks.append((row[1], []))
        elif row[0] == "Address":
            header = row
        elif blocks and header:
            blocks[-1][1].append(dict(zip(header, row, strict=False)))
    return blocks


def _count(value: str | None) -> int:
    return int(value) if value and value.strip().isdigit() else 0


def reasons(line: dict[str, str]) -> collections.Counter:
    """Samples per stall reason of one SASS line (all samples, issued or not)."""
    return collections.Counter({k[len("stall_"):]: _count(v) for k, v in line.items()
                                if k.startswith("stall_") and "Not Issued" not in k})


def summary(name: str, lines: list[dict[str, str]], top: int = 12) -> str:
    total = sum(_count(line.get(SAMPLES)) for line in lines) or 1
    by_reason = sum((reasons(line) for line in lines), collections.Counter())
    out = [f"{name[:100]}: {total} samples, {sum(_count(x.get('Instructions Executed')) for x in lines)} warp "
           f"instructions, {len(lines)} SASS lines",
           "  " + ", ".join(f"{r} {100 * n / total:.1f}%" for r, n in by_reason.most_common(8) if n)]
    for line in sorted(lines, key=lambda x: -_count(x.get(SAMPLES)))[:top]:
        share = 100 * _count(line.get(SAMPLES)) / total
        why = ", ".join(f"{r} {n}" for r, n in reasons(line).most_common(2) if n)
        out.append(f"  {share:5.1f}%  {line.get('Source', '').strip()[:64]:64s}  {why}")
    return "\n".join(out)


def main() -> None:
    path = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    with open(path, newline="") as f:
        for name, lines in kernels(f):
            print(summary(name, lines, top))


if __name__ == "__main__":
    main()
