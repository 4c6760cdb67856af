"""Every kernel variant the Triton launchers can produce on an arch, in one list.

The ahead-of-time tests compile each one for each target arch (no GPU needed) and :func:`warmup` runs each one
on a device, so that nothing compiles during CUDA-graph capture. A variant is what Triton specializes on: the
kernel, its constexprs (the operand mode among them, and for the paged kernel whether a key tile lies in one page,
which depends on the page size) and ``num_warps``; the logits dtype is a runtime value.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from .._checks import FP4_HEAD_DIMS
from .._checks import MAX_NEXT_N
from .._checks import PAGED_HEAD_DIMS
from .._checks import RAGGED_FP8_HEAD_DIMS
from .._checks import SUPPORTED_BLOCK_KV
from .._checks import SUPPORTED_HEADS
from .config import CLEAN_BLOCK
from .config import METADATA_B_CHUNKS
from .config import METADATA_ROW_CLASSES
from .config import MODE_NAMES
from .config import metadata_launch
from .config import native_fp8
from .config import one_page
from .config import paged_constexprs
from .config import paged_tiles
from .config import ragged_constexprs
from .config import ragged_tiles
from .config import rows_per_group
from .config import sm90_tf32
from .config import table
from .kernels.decode import MODE_BYTES
from .kernels.decode import MODE_FP4
from .kernels.decode import MODE_NATIVE
from .kernels.paged_sm90 import BLOCK_T as SM90_BLOCK_T

__all__ = ["Variant", "kernel_variants", "modes_for", "operand_mode", "paged_tiles_and_variants", "paged_variant",
           "sm90_entries_and_variants"]


def _probes(op: str, arch: int | None) -> list[float]:
    """Keys (batch sizes or token counts) that reach every bucket of ``op``'s table on ``arch``: each bucket's own
    bound (buckets are upper bounds, config._pick), and 1 for an arch without a table (the defaults). (Fixed probes
    once skipped the B <= 32 and B <= 128 paged buckets: their tiles were never warmed up.)"""
    sections = [table(op, arch).get(name, {}) for name in MODE_NAMES.values()]
    return sorted({1.0} | {float(bound) for section in sections for buckets in section.values() for bound in buckets})


@dataclass(frozen=True)
class Variant:
    kernel: str  # "paged", "paged_sm90", "ragged", "metadata", "clean"
    constexprs: tuple[tuple[str, object], ...]
    num_warps: int
    maxnreg: int | None = None  # register cap (a launch option, so part of the compiled variant)

    def get(self, name: str):
        return dict(self.constexprs).get(name)

    def describe(self) -> str:
        args = ",".join(f"{k}={v}" for k, v in self.constexprs)
        cap = f" maxnreg={self.maxnreg}" if self.maxnreg else ""
        return f"{self.kernel}[{args}] warps={self.num_warps}{cap}"


def modes_for(arch: int | None) -> tuple[int, ...]:
    """Operand modes the launchers use on ``arch``: native FP8 needs SM89+, bytes is forcible everywhere."""
    native = (MODE_NATIVE.value,) if native_fp8(arch) else ()
    return (*native, MODE_BYTES.value, MODE_FP4.value)


def _unique(variants: list[Variant]) -> list[Variant]:
    return list(dict.fromkeys(variants))


def paged_tiles_and_variants(arch: int | None, block_kvs: tuple[int, ...] = SUPPORTED_BLOCK_KV
                             ) -> list[tuple[dict, Variant]]:
    """Every paged tile entry the launcher can pick on ``arch`` for pages of ``block_kvs`` tokens, with the variant
    it compiles to (occupancy checks need the entry: its ``programs_per_sm`` is a launch value, not part of the
    variant). An entry with ``one_page`` gives two variants where some pages hold a whole tile and others do not."""
    out = []
    probes = _probes("paged_mqa_logits", arch)
    for mode in modes_for(arch):
        for heads in SUPPORTED_HEADS:
            for next_n in range(1, MAX_NEXT_N + 1):  # varlen atoms (up to ATOM rows) fall in the next_n >= 2 class
                rows = rows_per_group(heads, next_n)
                tiles = {tuple(sorted((k, v) for k, v in paged_tiles(arch, mode, heads, next_n, t).items()
                                      if k != "sm90")) for t in probes}  # (the tl kernel's tiles)
                for tile, head_dim in itertools.product(map(dict, tiles), PAGED_HEAD_DIMS):
                    out += [(tile, paged_variant(arch, mode, heads, head_dim, rows, tile, one))
                            for one in sorted({one_page(block_kv, tile) for block_kv in block_kvs})]
    return list({(tuple(sorted(t.items())), v): (t, v) for t, v in out}.values())


def paged_variant(arch: int | None, mode: int, heads: int, head_dim: int, rows: int, tile: dict, one: bool
                  ) -> Variant:
    """The tl paged kernel's variant for a tile entry (``rows``: :func:`config.rows_per_group`; ``one``: ONE_PAGE),
    as the launcher specializes it."""
    const = tuple(paged_constexprs(arch, mode, heads, head_dim, rows, tile, one, True).items())
    return Variant("paged", const, tile["num_warps"], tile.get("maxnreg"))


def sm90_entries_and_variants(arch: int | None, block_kvs: tuple[int, ...] = SUPPORTED_BLOCK_KV
                              ) -> list[tuple[dict, Variant]]:
    """The SM90 Gluon kernel's entries (a tile entry's ``sm90`` section, FP8 native or bytes, next_n <= 2) on
    ``arch`` with their variants, one per logits dtype (a constexpr there: a runtime branch per store cost it ~10
    instructions per tile); none unless some page size holds whole 64-token tiles (launch.sm90_applies)."""
    if arch != 90 or max(block_kvs) < SM90_BLOCK_T.value:
        return []
    out = []
    probes = _probes("paged_mqa_logits", arch)
    for mode, heads, next_n in itertools.product((MODE_NATIVE.value, MODE_BYTES.value), SUPPORTED_HEADS, (1, 2)):
        for entry in {tuple(sorted(e.items())) for t in probes
                      if (e := paged_tiles(arch, mode, heads, next_n, t).get("sm90"))}:
            entry = dict(entry)
            for bf16 in (False, True):
                const = (("H", heads), ("D", 128), ("R", next_n), ("AHEAD", entry["ahead"]),
                         ("OUT_BF16", bf16), ("BYTES", mode == MODE_BYTES.value), ("TF32", sm90_tf32(entry)))
                out.append((entry, Variant("paged_sm90", const, 4, entry.get("maxnreg"))))
    return out


def operand_mode(variant: Variant) -> int | None:
    """The operand mode ``variant`` runs (None: any): its ``MODE``, or the SM90 Gluon kernel's ``BYTES``."""
    if variant.kernel == "paged_sm90":
        return MODE_BYTES.value if variant.get("BYTES") else MODE_NATIVE.value
    return variant.get("MODE")


def paged_variants(arch: int | None, block_kvs: tuple[int, ...] = SUPPORTED_BLOCK_KV) -> list[Variant]:
    return _unique([variant for _, variant in paged_tiles_and_variants(arch, block_kvs)]
                   + [variant for _, variant in sm90_entries_and_variants(arch, block_kvs)])


def ragged_variants(arch: int | None) -> list[Variant]:
    out = []
    probes = _probes("mqa_logits", arch)
    for mode in modes_for(arch):
        dims = FP4_HEAD_DIMS if mode == MODE_FP4.value else RAGGED_FP8_HEAD_DIMS
        for heads in SUPPORTED_HEADS:
            for head_dim in dims:
                tiles = {tuple(sorted(ragged_tiles(arch, mode, heads, head_dim, t).items())) for t in probes}
                for tile in tiles:
                    tile = dict(tile)
                    const = tuple(ragged_constexprs(arch, mode, heads, head_dim, tile, True).items())
                    out.append(Variant("ragged", const, tile["num_warps"], tile.get("maxnreg")))
    return _unique(out)


def kernel_variants(arch: int | None, block_kvs: tuple[int, ...] = SUPPORTED_BLOCK_KV) -> list[Variant]:
    """Every variant for ``arch``, the paged ones for pages of ``block_kvs`` tokens."""
    meta = [Variant("metadata", tuple(constexprs.items()), num_warps)
            for constexprs, num_warps in (metadata_launch(chunk, row_lens) for chunk in METADATA_B_CHUNKS
                                          for row_lens, _ in METADATA_ROW_CLASSES)]
    return [*paged_variants(arch, block_kvs), *ragged_variants(arch), *meta,
            Variant("clean", (("BLOCK", CLEAN_BLOCK),), 4)]
