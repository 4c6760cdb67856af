"""Launch configurations of the Triton kernels and the per-arch facts they depend on.

Tuning tables are JSON files shipped in the package, ``configs/<op>/triton/sm_<arch>.json`` (see configs/README.md).
A paged table has a ``family`` section: by batch size (an upper bound on the metadata's slots) the ``split_kv``
(the metadata encodes the split, and the metadata call sees only the batch size, so nothing else may choose it).
Then per operand mode (``native``, ``bytes``, ``fp4``) and ``H=..,next_n=..`` (paged) or ``H=..,D=..`` (ragged) a
map from a bucket to the tiles: for paged, the batch size again (tiles and split are tuned together), with the
``programs_per_sm`` that the tile's shared memory and registers let share an SM; for ragged, a size bucket (an upper
bound on ``seq_len * width``). Without a table for the arch, the defaults below apply and a warning says so once.
"""

from __future__ import annotations

import functools
import logging

import torch

from .. import configs as tables
from .. import envs
from .._checks import MAX_NEXT_N
from ..errors import ImplementationError
from .kernels.decode import MODE_BYTES
from .kernels.decode import MODE_FP4
from .kernels.decode import MODE_NATIVE
from .kernels.paged import dot_columns

logger = logging.getLogger("sglang_sm120_dsa")

ATOM = 8  # rows per paged task: every next_n (<= 8) row of a request, or up to 8 varlen tokens of one request
MODE_NAMES = {MODE_NATIVE.value: "native", MODE_BYTES.value: "bytes", MODE_FP4.value: "fp4"}
# The metadata kernel reads B_CHUNK slots per pass: one pass is fastest, but a wider chunk costs more when the batch
# is small (H200, graph replays: B <= 128 takes 5.1-5.3 us with 128-slot chunks, 5.7-6.0 with 256, 6.9-7.1 with 512;
# B=256 7.9 / 5.8 / 6.9 us; B=512 13.1 / 9.4 / 7.2 us), so the batch (a shape) picks the narrowest chunk that holds
# it. SM_TILE schedule entries per program (4 against 16: B=256 5.3-5.4 against 5.8-5.9 us). NEXT_N_P2 lengths are
# read per row (the row's largest counts): 2 when the call has at most 2 per row (1-D lengths, next_n <= 2), with 4
# warps, else MAX_NEXT_N with 8. H200, graph replays, against 8 lengths per row with 8 warps for every call:
# B <= 128 4.5-4.8 us (was 4.4-4.8), B=192-256 4.5-4.8 (5.2-5.5), B=512 5.1-5.2 (6.1); DeepGEMM 4.4-7.9 us.
METADATA_CONSTEXPRS = {"ATOM": ATOM, "SM_TILE": 4}
METADATA_B_CHUNKS = (128, 256, 512)
METADATA_ROW_CLASSES = ((2, 4), (MAX_NEXT_N, 8))  # (NEXT_N_P2, num_warps), by lengths per row
CLEAN_BLOCK = 1024


def metadata_launch(num_slots: int, row_lens: int) -> tuple[dict, int]:
    """(constexprs, num_warps) of the metadata kernel for ``num_slots`` slots with ``row_lens`` lengths per row:
    the narrowest chunk that holds the batch, and the smallest row class that holds the row."""
    chunk = next((c for c in METADATA_B_CHUNKS if num_slots <= c), METADATA_B_CHUNKS[-1])
    next_n_p2, num_warps = next(c for c in METADATA_ROW_CLASSES if row_lens <= c[0])
    return {**METADATA_CONSTEXPRS, "B_CHUNK": chunk, "NEXT_N_P2": next_n_p2}, num_warps

# Largest dynamic shared memory per block (cudaDevAttrMaxSharedMemoryPerBlockOptin) and shared memory per SM
# (cudaDevAttrMaxSharedMemoryPerMultiprocessor; each resident block also takes SMEM_RESERVED_PER_BLOCK), by arch.
SMEM_PER_BLOCK = {80: 166912, 86: 101376, 87: 166912, 89: 101376, 90: 232448, 100: 232448, 103: 232448,
                  120: 101376, 121: 101376}
SMEM_PER_SM = {80: 167936, 86: 102400, 87: 167936, 89: 102400, 90: 233472, 100: 233472, 103: 233472,
               120: 102400, 121: 102400}
SMEM_RESERVED_PER_BLOCK = 1024
REGISTERS_PER_SM = 65536

# Conservative defaults: fit 99 KB of shared memory (SM86/89/120), good enough anywhere.
PAGED_FAMILY_DEFAULT = {"split_kv": 512}
PAGED_TILE_DEFAULT = {"block_t": 64, "num_warps": 4, "num_stages": 3, "programs_per_sm": 2}
RAGGED_TILE_DEFAULT = {"block_kv": 64, "chunk": 2048, "num_warps": 4, "num_stages": 3}


def device_arch(device: torch.device) -> int | None:
    """``major * 10 + minor`` of a CUDA device; None for CPU tensors (the Triton interpreter)."""
    if device.type != "cuda":
        return None
    return _capability(torch.cuda.current_device() if device.index is None else device.index)


@functools.cache
def _capability(index: int) -> int:  # (every launch asks: a lookup, not a driver query)
    major, minor = torch.cuda.get_device_capability(index)
    return major * 10 + minor


def arch_of(device: torch.device) -> int | None:
    """The arch whose Triton program runs on ``device``: its own, or the one ``SGLANG_SM120_DSA_TRITON_ARCH``
    emulates (:func:`emulated_arch`). Tables, operand modes, variants and code choices all key on this."""
    return emulated_arch(device) or device_arch(device)


def emulated_arch(device: torch.device) -> int | None:
    """The arch ``SGLANG_SM120_DSA_TRITON_ARCH`` asks for on a CUDA ``device`` (None: the device's own). Its
    program must fit the device: that arch's tiles need its shared memory, and its FP8 operands FP8 MMA."""
    forced = envs.TRITON_ARCH.choice()
    own = None if forced == "auto" else device_arch(device)
    if own is None:
        return None
    arch = int(forced[2:])
    if SMEM_PER_BLOCK.get(own, 0) < SMEM_PER_BLOCK[arch] or (native_fp8(arch) and not native_fp8(own)):
        raise ImplementationError(
            f"{envs.TRITON_ARCH.name}={forced}: sm_{arch}'s Triton program does not fit this sm_{own} GPU (it needs "
            f"{SMEM_PER_BLOCK[arch] // 1024} KB of shared memory per block{' and FP8 MMA' if native_fp8(arch) else ''}"
            f"); use auto or an arch with less")
    return arch


def lowering(arch: int | None, device: torch.device) -> dict:
    """Launch options that make Triton lower a kernel for ``arch`` (:func:`arch_of`) where that is not the device's
    own: Triton's ``arch`` option sets the lowering down to LLVM IR, the PTX and cubin stay the device's."""
    return {"arch": f"sm{arch}"} if arch is not None and arch != device_arch(device) else {}


def native_fp8(arch: int | None) -> bool:
    """Whether ``arch`` has e4m3 tensor-core operands (SM89 and newer; None is the interpreter, which has all)."""
    return arch is None or arch >= 89


def wgmma(arch: int | None) -> bool:
    """Whether Triton lowers ``tl.dot`` to Hopper's wgmma on ``arch`` (sm_90 only), whose key operand comes from
    registers: the byte path then orders head_dim for its fragment (``kernels.decode._bytes_operand``; the paged
    kernel: :func:`fragment_order`, the ragged one: :func:`ragged_fragment`). Either order gives the same logits;
    the wrong one costs a shared-memory round trip of each tile."""
    return arch == 90


def fp8_mode(device: torch.device) -> int:
    """The FP8 operand mode for ``device``, honouring ``SGLANG_SM120_DSA_TRITON_FP8``."""
    arch = arch_of(device)
    native_ok = native_fp8(arch)
    forced = envs.TRITON_FP8.choice()
    if forced == "bytes" or (forced == "auto" and not native_ok):
        return MODE_BYTES.value
    if not native_ok:
        raise ImplementationError(f"{envs.TRITON_FP8.name}=native: FP8 tensor-core operands need SM89 or newer, "
                                  f"this is sm_{arch}; use bytes or auto")
    if arch == 121:
        _warn_old_triton_sm121()
    return MODE_NATIVE.value


@functools.cache
def _warn_old_triton_sm121() -> None:
    if triton_version() < (3, 9):  # seen with 3.6: correct results, but no e4m3 MMA on sm_121
        logger.warning("triton %s does not lower FP8 dots to FP8 tensor-core instructions on sm_121 (3.9 does); "
                       "results are correct but slower: upgrade triton", ".".join(map(str, triton_version())))


@functools.cache
def table(op: str, arch: int | None) -> dict:
    """The tuning table of ``op`` for ``arch`` ({} when there is none; logged once)."""
    if arch is None:
        return {}
    return tables.load(op, "triton", arch, "no Triton tuning table {path}; using untuned defaults")


def _buckets(section: dict, key: str) -> dict | None:
    """``section``'s buckets for ``key``, else its ``default`` ones."""
    return section.get(key) or section.get("default")


def _pick(section: dict, key: str, tokens: int, default: dict) -> dict:
    """The entry of ``section[key]`` whose bucket is the smallest one >= ``tokens`` (else the largest)."""
    return tables.pick(_buckets(section, key), tokens, default)


def paged_family(arch: int | None, batch: int) -> dict:
    """``split_kv`` for a batch of ``batch`` slots (requests, or tokens for varlen)."""
    return _pick(table("paged_mqa_logits", arch), "family", batch, PAGED_FAMILY_DEFAULT)


def log2_split(family: dict) -> int:
    """log2 of the family's ``split_kv``: the kernels count splits by shifts, so it must be a power of two (>= 128,
    a multiple of every page size and tile)."""
    split = family["split_kv"]
    if split < 128 or split & (split - 1):
        raise ImplementationError(f"Triton paged split_kv must be a power of two >= 128, the table gives {split}")
    return split.bit_length() - 1


def paged_tiles(arch: int | None, mode: int, heads: int, next_n: int, batch: int) -> dict:
    """Tiles and ``programs_per_sm`` for a batch of ``batch`` slots, the key :func:`paged_family` uses."""
    section = table("paged_mqa_logits", arch).get(MODE_NAMES[mode], {})
    return _pick(section, f"H={heads},next_n={next_n}", batch, PAGED_TILE_DEFAULT)


def one_page(block_kv: int, tiles: dict) -> bool:
    """Whether the paged kernel addresses each key tile by one scalar page id (its ``ONE_PAGE`` constexpr): where the
    tile entry asks for it (``"one_page": true``) and every tile lies in one page (tiles start at multiples of
    ``block_t``; both are powers of two). Entries without it compile one variant that serves every page size; with
    it a second one, so the tables set it only where it was measured to pay (each variant is compiled for 7 archs
    in CI)."""
    return bool(tiles.get("one_page")) and block_kv >= tiles["block_t"]


def programs_per_sm(tiles: dict, one: bool) -> int:
    """Programs per SM of a paged tile entry for its variant with ``ONE_PAGE`` = ``one``: ``programs_per_sm``, and
    for a ``one_page`` entry's other variant (pages smaller than a tile) ``programs_per_sm_multi_page`` where set.
    With Triton 3.9 that variant takes 8-16 KB more shared memory (its decoded key tile gets a buffer of its own), so
    on 99 KB SMs one count for both left SGLang's 64-token pages at half the programs that fit them."""
    return tiles.get("programs_per_sm_multi_page", tiles["programs_per_sm"]) if not one else tiles["programs_per_sm"]


def ragged_tiles(arch: int | None, mode: int, heads: int, head_dim: int, tokens: int) -> dict:
    section = table("mqa_logits", arch).get(MODE_NAMES[mode], {})
    return _pick(section, f"H={heads},D={head_dim}", tokens, RAGGED_TILE_DEFAULT)


def ragged_buckets(arch: int | None, mode: int, heads: int, head_dim: int) -> tuple[float, ...]:
    """The bucket bounds :func:`ragged_tiles` chooses among for these heads, ascending (none: the defaults)."""
    section = table("mqa_logits", arch).get(MODE_NAMES[mode], {})
    return tables.bucket_bounds(_buckets(section, f"H={heads},D={head_dim}"))


def ragged_block_q(heads: int) -> int:
    """Query rows per ragged program: as many as fill 128 MMA columns."""
    return max(1, 128 // heads)


def split_heads(arch: int | None, mode: int, heads: int, rows: int) -> bool:
    """Whether the paged kernel computes a row's logits as two dots of half the heads each (its ``SPLIT``
    constexpr), for ``rows`` (:func:`rows_per_group`) == 1. Triton spreads a lone ``mma.sync`` dot [64 tokens, 64
    heads] over 2 x 2 warps, so every token's head sum crosses warps (shared memory and a barrier per tile) and two
    warps load each key fragment; with two dots in the loop it gives each warp whole tokens (warpsPerCTA [4, 1]).
    Where measured: SM80's program on an H200 (SGLANG_SM120_DSA_TRITON_ARCH=sm80), next_n 1 at >= 1M tokens, 6-9%
    faster at H=64, 12-15% at H=32 and 128, 5% with MXFP4 (1 x 8K within noise); SM89/SM120's native FP8 program
    there ran 1-3% slower (its MMA emulated by Hopper), so native FP8 keeps one dot. Not on wgmma (sm_90) or
    tcgen05 (sm_100) archs, which lay dots out otherwise; the interpreter (None) takes it, so CPU tests cover it."""
    return mma_sync(arch) and mode != MODE_NATIVE.value and rows == 1 and heads >= 32


@functools.cache
def triton_version() -> tuple[int, int]:
    """(major, minor) of the Triton that compiles the kernels: the imported module's (a copy on ``PYTHONPATH`` may
    differ from the installed distribution)."""
    import triton

    return tuple(int(p) for p in triton.__version__.split(".")[:2])


def mma_sync(arch: int | None) -> bool:
    """Whether Triton lowers ``tl.dot`` to ``mma.sync`` on ``arch`` (None: the interpreter, which stands in for
    them in the CPU tests)."""
    return arch is None or arch < 90 or arch in (120, 121)


def fragment_order(arch: int | None, mode: int, heads: int, rows: int) -> bool:
    """Whether the paged kernel decodes keys into the MMA fragment's K order (its ``FRAGMENT`` constexpr,
    kernels.decode._bytes_operand, fp4_operand) rather than memory order. On wgmma (sm_90) always. On mma.sync archs in
    the decoded modes (bytes, MXFP4) where every dot has at most 64 query columns (split heads, a dot per row: Triton
    gives each warp whole tokens then, warpsPerCTA [4, 1]) with Triton >= 3.9, which then takes the decoded words into a
    2-wide fragment in registers and loads the query fragments with ``ldmatrix``. sm_80 token loop, instructions per
    64-token tile (H=64, 64-token pages): next_n 1 481 -> 442, next_n 2 781 -> 652 (38 spill loads and stores -> 5), the
    decoded tile's shared-memory round trip gone; on an H100 (SM80's program, Triton 3.9) 1.28-1.85x faster over the
    benchmark grid, 64 x 64K next_n 1 419 -> 270 us, next_n 2 728 -> 425. Wider dots split each token's heads over warps
    (2 x 2 or 1 x 4), which would decode each key two or four times (H=32 next_n 2: 1030 -> 1332). Triton 3.6 and 3.7
    build a 4-wide fragment for an operand made by joins (3.6: 519 -> 776, 30-48% longer on the H100) and 3.8 decodes
    each key twice (457 -> 602), so they keep memory order. MXFP4 (CPU SASS only, Triton 3.9, H=64): sm_80 next_n 1 520
    -> 509, next_n 2 708 -> 687."""
    return _fragment_fits(arch, mode, dot_columns(heads, rows, split_heads(arch, mode, heads, rows)))


def _fragment_fits(arch: int | None, mode: int, columns: int) -> bool:
    """:func:`fragment_order`'s rule for a kernel whose dots have ``columns`` query columns."""
    if wgmma(arch):
        return True
    return mma_sync(arch) and mode != MODE_NATIVE.value and triton_version() >= (3, 9) and columns <= 64


def ragged_row_dots(arch: int | None, heads: int) -> bool:
    """Whether the ragged kernel gives each of its two query rows a dot of its own (its ``ROW_DOTS``; heads = 64,
    two rows per program) instead of one dot over both rows' 128 columns: on mma.sync archs, where Triton spreads
    the one dot over 1 x 4 warps (each warp all tokens: every key decoded four times) and the dot per row gets
    warpsPerCTA [4, 1], which also lets the byte path decode into the fragment's order (:func:`ragged_fragment`).
    With Triton 3.9, sm_80 loop (H=64, bytes) 891 -> 694 instructions, 66 -> 50 KB of shared memory. On an H200
    with Triton 3.9, this and the query's transpose outside the loop together (measured only together): SM80's
    program 1.47-1.49x faster (S x SKV = 2048 x 8192 and 8192 x 65536), its MXFP4 1.77-1.83x; SM89's native FP8
    program unchanged (within 0.2%). Triton 3.6 keeps one dot (a dot per row not measured with it)."""
    return mma_sync(arch) and ragged_block_q(heads) == 2 and triton_version() >= (3, 9)


def ragged_lane_sums(arch: int | None, block_kv: int) -> bool:
    """Whether the ragged kernel's one-dot form (``ROW_DOTS`` off) sums each query row's heads as FFMA chains over
    each lane's own accumulator columns (its ``LANE_SUMS``, ``decode.row_sums``) instead of ``tl.sum``'s tree, which
    leaves half the products as FMULs: where ``tl.dot``'s accumulator has the MMA layout (mma.sync, wgmma), with
    64-key tiles (decode.head_sum's limit: at 128, the MXFP4 tables' size until 2026-12-08, sm_80 H=32 moved the
    regrouped scores through shared memory, 36 -> 64 stores per tile). Token loop, Triton 3.9, H=64 / 32: sm_90
    native 369 -> 334 / 455 -> 420 instructions, bytes 496 -> 463 / 564 -> 535; sm_80 bytes H=32 1164 -> 763. Not
    tcgen05 (sm_100), whose accumulator lays columns out otherwise (its loop grew, 582 -> 636 native H=64)."""
    return (mma_sync(arch) or wgmma(arch)) and block_kv == 64


def paged_lane_sums(arch: int | None, block_t: int) -> bool:
    """Whether the paged kernel's dot over a group of rows (more than two rows, or H < 16) sums each row's heads as
    ``decode.row_sums``' FFMA chains (its ``LANE_SUMS``) instead of ``tl.sum``'s tree: on mma.sync archs with 64-token
    tiles (decode.head_sum's limit). Token loop, Triton 3.9, bytes: sm_80 H=32 next_n 2 (4 rows per dot) 1030 -> 760
    instructions, H=16 (8 rows) 977 -> 818. Not on sm_90, where the gain was 3-5% of the loop and H=16 native spilled
    more (12 -> 49 spill stores), nor tcgen05."""
    return mma_sync(arch) and block_t == 64


def ragged_fragment(arch: int | None, mode: int, heads: int) -> bool:
    """The ragged kernel's ``FRAGMENT`` (:func:`fragment_order`'s rule, for its dots' columns)."""
    columns = heads if ragged_row_dots(arch, heads) else ragged_block_q(heads) * heads
    return _fragment_fits(arch, mode, columns)


def rows_per_group(heads: int, rows: int) -> int:
    """Query rows per MMA: one row for next_n == 1, else as many as fit 128 columns (at most 8), and at least 16
    columns (``tl.dot``). Two classes per head count keep the number of compiled variants small."""
    group = 1 if rows == 1 else max(1, min(8, 128 // heads))
    while group * heads < 16:
        group *= 2
    return group


def paged_constexprs(arch: int | None, mode: int, heads: int, head_dim: int, rows: int, tiles: dict, one: bool,
                     asm: bool) -> dict:
    """The tl paged kernel's constexprs for a tile entry (``rows``: :func:`rows_per_group`; ``one``: ONE_PAGE;
    ``asm``: PTX decoding, off in the interpreter): what the launcher passes and variants.py compiles ahead."""
    return {"H": heads, "D": head_dim, "ROWS": rows, "BLOCK_T": tiles["block_t"], "ATOM": ATOM, "MODE": mode,
            "NUM_STAGES": tiles["num_stages"], "ONE_PAGE": one, "ASM": asm,
            "FRAGMENT": fragment_order(arch, mode, heads, rows), "SPLIT": split_heads(arch, mode, heads, rows),
            "LANE_SUMS": paged_lane_sums(arch, tiles["block_t"])}


def ragged_constexprs(arch: int | None, mode: int, heads: int, head_dim: int, tiles: dict, asm: bool) -> dict:
    """The ragged kernel's constexprs for a tile entry, as :func:`paged_constexprs`."""
    return {"H": heads, "D": head_dim, "BLOCK_Q": ragged_block_q(heads), "BLOCK_KV": tiles["block_kv"],
            "CHUNK": tiles["chunk"], "MODE": mode, "NUM_STAGES": tiles["num_stages"], "ASM": asm,
            "FRAGMENT": ragged_fragment(arch, mode, heads), "ROW_DOTS": ragged_row_dots(arch, heads),
            "LANE_SUMS": ragged_lane_sums(arch, tiles["block_kv"])}


def sm90_tf32(entry: dict) -> bool:
    """Whether an ``sm90`` section sums the heads as a tf32 wgmma (``"sums": "tf32"``) instead of FFMA chains."""
    sums = entry.get("sums", "ffma")
    if sums not in ("ffma", "tf32"):
        raise ValueError(f"sm90 section: sums must be 'ffma' or 'tf32', not {sums!r}")
    return sums == "tf32"
