"""The tuning tables: every file parses, every entry is a complete and valid launch config, and the loader reads
them through the installed package."""

from __future__ import annotations

import json
import logging
import pathlib

import pytest

from sglang_sm120_dsa.triton import config
from sglang_sm120_dsa.triton.config import SMEM_PER_BLOCK

ROOT = pathlib.Path(__file__).resolve().parents[2] / "configs"
TABLES = sorted(ROOT.glob("*/triton/sm_*.json"))
PAGED_KEYS = {"block_t", "num_warps", "num_stages", "programs_per_sm"}
RAGGED_KEYS = {"block_kv", "chunk", "num_warps", "num_stages"}


def test_every_tuned_arch_has_both_tables() -> None:
    archs = {int(p.stem.removeprefix("sm_")) for p in TABLES}
    assert archs == {80, 86, 89, 90, 100, 120, 121} and archs <= set(SMEM_PER_BLOCK)
    for arch in archs:
        assert (ROOT / "paged_mqa_logits" / "triton" / f"sm_{arch}.json").exists()
        assert (ROOT / "mqa_logits" / "triton" / f"sm_{arch}.json").exists()


@pytest.mark.parametrize("path", TABLES, ids=[f"{p.parent.parent.name}/{p.name}" for p in TABLES])
def test_table_is_valid(path: pathlib.Path) -> None:
    table = json.loads(path.read_text())
    meta = table.pop("_meta")
    assert isinstance(meta.get("tuned"), bool)
    assert meta.get("gpu") if meta["tuned"] else meta.get("note")
    arch = int(path.stem.removeprefix("sm_"))
    paged = path.parent.parent.name == "paged_mqa_logits"
    if paged:
        family = table.pop("family")
        for bound, entry in family.items():
            assert bound == "inf" or int(bound) > 0
            assert set(entry) == {"split_kv"}
            assert entry["split_kv"] % 128 == 0
            assert entry["split_kv"] & (entry["split_kv"] - 1) == 0  # the paged kernel shifts by its log2
    assert set(table) <= {"native", "bytes", "fp4"}
    assert ("native" in table) == (arch >= 89)
    for section in table.values():
        for key, buckets in section.items():
            assert key == "default" or key.startswith("H=")
            for bound, tiles in buckets.items():
                assert bound == "inf" or float(bound) > 0
                assert (PAGED_KEYS if paged else RAGGED_KEYS) <= set(tiles)
                assert tiles["num_warps"] in (4, 8) and tiles["num_stages"] in (1, 2, 3, 4, 5)
                assert tiles.get("maxnreg") in (None, 64, 96, 128, 160, 168, 192, 255)
                if paged:  # whether they fit one SM together: tests/cpu/test_triton_aot.py
                    assert 1 <= tiles["programs_per_sm"] <= 8
                    assert tiles.get("one_page", False) in (False, True)
                    if "programs_per_sm_multi_page" in tiles:  # (only an entry with two variants has two counts)
                        assert tiles.get("one_page") and 1 <= tiles["programs_per_sm_multi_page"] <= 8


def test_loader_reads_the_installed_tables_and_warns_for_untuned_arches(caplog) -> None:
    config.table.cache_clear()
    with caplog.at_level(logging.WARNING, logger="sglang_sm120_dsa"):
        tuned = config.table("paged_mqa_logits", 90)
        copied = config.table("paged_mqa_logits", 120)
        missing = config.table("paged_mqa_logits", 75)
    config.table.cache_clear()
    assert tuned["_meta"]["tuned"] and not copied["_meta"]["tuned"] and missing == {}
    messages = " ".join(r.message for r in caplog.records)
    assert "sm_120.json is not tuned on this arch" in messages and "no Triton tuning table" in messages
    assert "sm_90.json is not tuned" not in messages
    assert config.paged_family(90, 1)["split_kv"] <= config.paged_family(90, 10_000)["split_kv"] * 8


def test_triton_split_must_be_a_power_of_two() -> None:
    """The paged kernels count splits by shifting by log2(split_kv): any other split is refused, never rounded."""
    from sglang_sm120_dsa.errors import ImplementationError

    assert [config.log2_split({"split_kv": s}) for s in (128, 256, 1024)] == [7, 8, 10]
    for bad in (64, 192, 384, 1000):
        with pytest.raises(ImplementationError, match="power of two >= 128"):
            config.log2_split({"split_kv": bad})


def test_tilelang_tables_are_valid() -> None:
    """The TileLang tables only set launch sizes the family knows; a split is a whole number of tiles."""
    from sglang_sm120_dsa.tilelang import config as tilelang_config

    paths = sorted(ROOT.glob("*/tilelang/sm_*.json"))
    assert paths, "no TileLang table"
    for path in paths:
        data = json.loads(path.read_text())
        assert data["_meta"]["tuned"] is True and data["_meta"]["generated_by"] == "scripts/tune_tilelang.py"
        assert path.parent.parent.name == "paged_mqa_logits" and set(data) == {"_meta", "batch"}
        for bucket, entry in data["batch"].items():
            assert float(bucket) > 0 and set(entry) <= set(tilelang_config.PAGED_DEFAULT), (path, bucket)
            sizes = {**tilelang_config.PAGED_DEFAULT, **entry}
            assert sizes["split_kv"] % sizes["block_t"] == 0, (path, bucket)


def test_save_writes_what_the_loader_ships(tmp_path) -> None:
    """The tuning scripts' writer: a flat name (GPU machines return no nested folders) and the table as JSON."""
    from sglang_sm120_dsa import configs as tables

    table = {"_meta": {"tuned": True}, "batch": {"8": {"split_kv": 1024}}}
    path = tables.save(tmp_path / "out", "paged_mqa_logits", "tilelang", 90, table)
    assert path == tmp_path / "out" / "paged_mqa_logits__tilelang__sm_90.json"
    assert json.loads(path.read_text()) == table


@pytest.mark.parametrize("arch", [80, 86, 89, 90, 100, 120, 121])
def test_every_size_launches_a_warmed_up_variant(arch) -> None:
    """Whatever the batch size (paged) or token count (ragged), the tiles the launcher picks are among the variants
    that warmup() compiles (for the page size it is given) and the AOT tests check: a missing one would compile on
    first use, possibly during CUDA-graph capture; likewise the SM90 Gluon kernel's variants (both logits dtypes)
    where a tile entry enables it. Sizes: 1 to 1024, every bucket bound of the tables +- 1, and powers of two up
    to 2^40."""
    from sglang_sm120_dsa._checks import FP4_HEAD_DIMS
    from sglang_sm120_dsa._checks import MAX_NEXT_N
    from sglang_sm120_dsa._checks import RAGGED_FP8_HEAD_DIMS
    from sglang_sm120_dsa._checks import SUPPORTED_BLOCK_KV
    from sglang_sm120_dsa._checks import SUPPORTED_HEADS
    from sglang_sm120_dsa.triton.kernels.decode import MODE_BYTES
    from sglang_sm120_dsa.triton.kernels.decode import MODE_FP4
    from sglang_sm120_dsa.triton.variants import modes_for
    from sglang_sm120_dsa.triton.variants import paged_tiles_and_variants
    from sglang_sm120_dsa.triton.variants import ragged_variants
    from sglang_sm120_dsa.triton.variants import sm90_entries_and_variants

    bounds = {int(b) for p in TABLES if p.stem == f"sm_{arch}" for s in json.loads(p.read_text()).values()
              for buckets in s.values() if isinstance(buckets, dict) for b in buckets if b.isdigit()}
    sizes = sorted(set(range(1, 1025)) | {b + d for b in bounds for d in (-1, 0, 1)} | {2**k for k in range(41)})
    for block_kv in SUPPORTED_BLOCK_KV:  # warmup(block_kv=...) compiles the variants of one page size
        warmed = {(v.get("MODE"), v.get("H"), v.get("ROWS"), v.get("ONE_PAGE"), tuple(sorted(t.items())))
                  for t, v in paged_tiles_and_variants(arch, (block_kv,))}
        warmed_sm90 = {(v.get("BYTES"), v.get("H"), v.get("R"), v.get("AHEAD"), v.maxnreg, v.get("TF32"),
                        v.get("OUT_BF16")) for _, v in sm90_entries_and_variants(arch, (block_kv,))}
        for mode in modes_for(arch):
            for heads in SUPPORTED_HEADS:
                for next_n in range(1, MAX_NEXT_N + 1):
                    rows = config.rows_per_group(heads, next_n)
                    for batch in sizes:
                        tile = config.paged_tiles(arch, mode, heads, next_n, batch)
                        sm90 = tile.pop("sm90", None)
                        one = config.one_page(block_kv, tile)
                        key = (mode, heads, rows, one, tuple(sorted(tile.items())))
                        assert key in warmed, (arch, block_kv, mode, heads, next_n, batch, tile)
                        if sm90 and arch == 90 and mode != MODE_FP4.value and next_n <= 2 and block_kv >= 64:
                            for bf16 in (False, True):
                                key = (mode == MODE_BYTES.value, heads, next_n, sm90["ahead"],
                                       sm90.get("maxnreg"), config.sm90_tf32(sm90), bf16)
                                assert key in warmed_sm90, (arch, block_kv, mode, heads, next_n, batch, sm90)
    warmed = {(v.get("MODE"), v.get("H"), v.get("D"), v.get("BLOCK_KV"), v.get("CHUNK"), v.get("NUM_STAGES"),
               v.num_warps, v.maxnreg) for v in ragged_variants(arch)}
    for mode in modes_for(arch):
        for heads in SUPPORTED_HEADS:
            for head_dim in FP4_HEAD_DIMS if mode == MODE_FP4.value else RAGGED_FP8_HEAD_DIMS:
                for tokens in sizes:
                    t = config.ragged_tiles(arch, mode, heads, head_dim, tokens)
                    key = (mode, heads, head_dim, t["block_kv"], t["chunk"], t["num_stages"], t["num_warps"],
                           t.get("maxnreg"))
                    assert key in warmed, (arch, mode, heads, head_dim, tokens, t)


def test_sm90_kernel_selection(monkeypatch) -> None:
    """The SM90 Gluon kernel runs only where the tile entry enables it, on sm_90, FP8 (native or bytes, not MXFP4),
    and for calls it serves (next_n <= 2 without varlen indices, head_dim 128, pages of >= 64 tokens); the env var
    turns it off."""
    from sglang_sm120_dsa.triton import launch
    from sglang_sm120_dsa.triton.kernels.decode import MODE_BYTES
    from sglang_sm120_dsa.triton.kernels.decode import MODE_FP4
    from sglang_sm120_dsa.triton.kernels.decode import MODE_NATIVE

    entry = {"ahead": 2, "maxnreg": 128, "programs_per_sm": 4}
    tiles = {"block_t": 64, "sm90": entry}
    call = {"varlen": False, "next_n": 2, "head_dim": 128, "block_kv": 64}
    monkeypatch.setenv("SGLANG_SM120_DSA_TRITON_SM90", "auto")
    for mode in (MODE_NATIVE.value, MODE_BYTES.value):
        assert launch.sm90_applies(90, mode, tiles, **call) == entry
        assert launch.sm90_applies(90, mode, tiles, **{**call, "block_kv": 128})
    for arch, mode, t in ((89, MODE_NATIVE.value, tiles), (100, MODE_NATIVE.value, tiles),
                          (80, MODE_BYTES.value, tiles), (90, MODE_FP4.value, tiles),
                          (90, MODE_NATIVE.value, {"block_t": 64})):
        assert launch.sm90_applies(arch, mode, t, **call) is None, (arch, mode, t)
    for change in ({"varlen": True}, {"next_n": 3}, {"head_dim": 64}, {"block_kv": 32}):
        assert launch.sm90_applies(90, MODE_NATIVE.value, tiles, **{**call, **change}) is None, change
    monkeypatch.setenv("SGLANG_SM120_DSA_TRITON_SM90", "off")
    assert launch.sm90_applies(90, MODE_NATIVE.value, tiles, **call) is None
    assert launch.sm90_applies(90, MODE_BYTES.value, tiles, **call) is None


def test_sm90_sums_key() -> None:
    """An ``sm90`` section's ``sums``: FFMA chains unless it says tf32; anything else is a table error, not a silent
    default."""
    assert config.sm90_tf32({"ahead": 2}) is False
    assert config.sm90_tf32({"ahead": 2, "sums": "ffma"}) is False
    assert config.sm90_tf32({"ahead": 2, "sums": "tf32"}) is True
    with pytest.raises(ValueError, match="sums must be 'ffma' or 'tf32', not 'bf16'"):
        config.sm90_tf32({"sums": "bf16"})


def test_sm90_sass_check_catches_serialized_wgmma_and_spills() -> None:
    """aot.sm90_sass_problems, on SASS shaped like ptxas' output: async wgmma passes; a wait after every QGMMA (ptxas
    serializing them) or a local-memory spill in the token loop (the innermost loop holding a wgmma) fails; a spill
    outside it (reloaded once per run of tiles) passes."""
    from sglang_sm120_dsa.triton.aot import sm90_sass_problems

    def sass(*body: str) -> str:  # numbered like cuobjdump; "BACK" branches to the instruction after its "LOOP"
        lines, starts = [], []
        for text in body:
            if text == "LOOP":
                starts.append(len(lines))
                continue
            text = f"@P0 BRA 0x{starts.pop() * 16:x}" if text == "BACK" else text
            lines.append(f"        /*{len(lines) * 16:04x}*/                   {text} ;\n")
        return "".join(lines)

    mma, wait = "QGMMA.64x128x32.F32.E4M3.E4M3 R24, gdesc[UR8], R24", "WARPGROUP.DEPBAR.LE gsb0, 0x0"
    spill = "STL [R1], R5"
    assert sm90_sass_problems(sass("LOOP", *[mma] * 4, wait, "BACK")) == []
    assert sm90_sass_problems(sass("LOOP", *[mma, wait] * 4, "BACK")) == [
        "wgmma serialized (a WARPGROUP.DEPBAR after every QGMMA)"]
    assert sm90_sass_problems(sass("LOOP", *[mma] * 4, wait, spill, "BACK")) == [
        "register spills (LDL/STL) in the token loop"]
    assert sm90_sass_problems(sass("LOOP", spill, "LOOP", *[mma] * 4, wait, "BACK", "IADD3 R1, R1, 1", "BACK")) == []
    assert sm90_sass_problems(sass(spill, "LOOP", *["HGMMA.64x128x16.F32 R24, R88, gdesc[UR24], R24"] * 8, wait,
                                   "BACK", "LDL R8, [R1]")) == []


def test_emulated_arch_selection(monkeypatch) -> None:
    """SGLANG_SM120_DSA_TRITON_ARCH: the Triton program of the arch asked for (tables, operand mode, Triton's
    lowering option) where the GPU can hold it; a clear error where it cannot; nothing on CPU tensors."""
    import torch

    from sglang_sm120_dsa.errors import ImplementationError
    from sglang_sm120_dsa.triton import config
    from sglang_sm120_dsa.triton.kernels.decode import MODE_BYTES
    from sglang_sm120_dsa.triton.kernels.decode import MODE_NATIVE

    cuda, own = torch.device("cuda", 0), {"arch": 90}
    monkeypatch.setattr(config, "device_arch", lambda device: own["arch"] if device.type == "cuda" else None)
    monkeypatch.setenv("SGLANG_SM120_DSA_TRITON_FP8", "auto")
    monkeypatch.setenv("SGLANG_SM120_DSA_TRITON_ARCH", "auto")
    assert config.arch_of(cuda) == 90 and config.lowering(90, cuda) == {}
    for value, arch, mode in (("sm80", 80, MODE_BYTES), ("sm86", 86, MODE_BYTES), ("sm89", 89, MODE_NATIVE),
                              ("sm120", 120, MODE_NATIVE), ("SM121", 121, MODE_NATIVE)):
        monkeypatch.setenv("SGLANG_SM120_DSA_TRITON_ARCH", value)
        assert config.arch_of(cuda) == arch and config.fp8_mode(cuda) == mode.value
        assert config.lowering(arch, cuda) == {"arch": f"sm{arch}"}
        assert config.arch_of(torch.device("cpu")) is None  # the interpreter
    own["arch"] = 120  # SM120's own program: no lowering option
    monkeypatch.setenv("SGLANG_SM120_DSA_TRITON_ARCH", "sm120")
    assert config.arch_of(cuda) == 120 and config.lowering(120, cuda) == {}
    monkeypatch.setenv("SGLANG_SM120_DSA_TRITON_ARCH", "sm80")  # 163 KB tiles on a 99 KB GPU
    with pytest.raises(ImplementationError, match="sm_80's Triton program does not fit this sm_120 GPU"):
        config.arch_of(cuda)
    own["arch"] = 86
    monkeypatch.setenv("SGLANG_SM120_DSA_TRITON_ARCH", "sm89")
    with pytest.raises(ImplementationError, match="and FP8 MMA"):
        config.arch_of(cuda)
    monkeypatch.setenv("SGLANG_SM120_DSA_TRITON_ARCH", "sm90")
    with pytest.raises(ImplementationError, match="SGLANG_SM120_DSA_TRITON_ARCH='sm90' is not valid"):
        config.arch_of(cuda)


def test_launches_pass_the_pointer_types_the_aot_checks_compile(monkeypatch) -> None:
    """Every launch is a listed variant (constexprs in the order variants.py lists them) and passes each pointer with
    the element type aot._signature compiles (Triton specializes on it):
    an FP8 tensor where the AOT signature has bytes would compile another program at run time, which on SM80/86
    Triton refuses outright (e4m3 pointers need SM89, even unused; the query-scale placeholder once was one)."""
    import torch

    from sglang_sm120_dsa import _checks
    from sglang_sm120_dsa.testing import make_paged_case
    from sglang_sm120_dsa.testing import make_ragged_case
    from sglang_sm120_dsa.triton import aot
    from sglang_sm120_dsa.triton import launch
    from sglang_sm120_dsa.triton.kernels.decode import MODE_BYTES
    from sglang_sm120_dsa.triton.kernels.decode import MODE_NATIVE
    from sglang_sm120_dsa.triton.variants import Variant
    from sglang_sm120_dsa.triton.variants import kernel_variants

    types = {torch.uint8: "*u8", torch.float8_e4m3fn: "*fp8e4nv", torch.int32: "*i32", torch.float32: "*fp32"}
    names = {"_dsa_paged_mqa_logits_kernel": "paged", "_dsa_mqa_logits_kernel": "ragged",
             "_dsa_paged_clean_logits_kernel": "clean", "_dsa_paged_mqa_metadata_kernel": "metadata"}
    launched = []

    class Recorder:
        def __init__(self, kernel, fn):
            self.kernel, self.fn = kernel, fn

        def __getitem__(self, grid):
            return lambda *args, **kwargs: launched.append((self, args, kwargs))

    for name, kernel in names.items():
        monkeypatch.setattr(launch, name, Recorder(kernel, getattr(launch, name)))
    for fp4, next_n in ((False, 1), (False, 2), (True, 1), (True, 2)):
        case = make_paged_case(2, next_n, 64, 128, 64, context_lens=[70, 9], fp4=fp4, device="cpu")
        launch.get_paged_mqa_logits_metadata(_checks.check_metadata(case.context_lens, 64, 4, None))  # (recorded)
        meta = torch.zeros(5, 2, dtype=torch.int32)
        call = _checks.check_paged("t", case.q, case.kv_cache, case.weights, case.context_lens, case.block_table,
                                   meta, 80, True, torch.float32, None, True)
        out = torch.empty(2 * next_n, 80)
        rcase = make_ragged_case(4, 32, 64, 128, fp4=fp4, device="cpu")
        rcall = _checks.check_ragged("t", rcase.q, rcase.kv, rcase.weights, rcase.ks, rcase.ke, False, 0,
                                     torch.float32, None, True)
        for mode in (None,) if fp4 else (MODE_NATIVE.value, MODE_BYTES.value):
            launch.paged_mqa_logits(call, out, None, mode)
            launch.mqa_logits(rcall, torch.empty(4, 32), None, mode)
    assert {r.kernel for r, _, _ in launched} == set(names.values())
    assert {kw.get("MODE") for r, _, kw in launched if r.kernel == "paged"} == {0, 1, 2}
    assert {kw.get("SPLIT") for r, _, kw in launched if r.kernel == "paged"} == {False, True}
    listed = {(v.kernel, v.constexprs) for v in kernel_variants(None)}  # what warmup() and the AOT checks compile
    for recorder, args, kwargs in launched:
        constexprs = tuple((k, v) for k, v in kwargs.items() if k in recorder.fn.arg_names)
        compiled = tuple((k, True if k == "ASM" else v) for k, v in constexprs)  # (False only in the interpreter)
        assert (recorder.kernel, compiled) in listed, (recorder.kernel, constexprs)
        _, signature, _ = aot._signature(Variant(recorder.kernel, constexprs, 4))
        for name, arg in zip(recorder.fn.arg_names, args, strict=False):
            if isinstance(arg, torch.Tensor):
                assert types[arg.dtype] == signature[name], (recorder.kernel, kwargs.get("MODE"), name)


def test_split_heads_rule() -> None:
    """Two half-head dots per row only for next_n 1 rows of >= 32 heads, on mma.sync archs (and the interpreter),
    in the decoded modes (bytes, MXFP4): where they were measured faster."""
    from sglang_sm120_dsa.triton.config import split_heads
    from sglang_sm120_dsa.triton.kernels.decode import MODE_BYTES
    from sglang_sm120_dsa.triton.kernels.decode import MODE_FP4
    from sglang_sm120_dsa.triton.kernels.decode import MODE_NATIVE

    for arch in (None, 80, 86, 89, 120, 121):
        assert split_heads(arch, MODE_BYTES.value, 64, 1) and split_heads(arch, MODE_FP4.value, 32, 1), arch
        assert not split_heads(arch, MODE_NATIVE.value, 64, 1), arch
        assert not split_heads(arch, MODE_BYTES.value, 16, 1) and not split_heads(arch, MODE_BYTES.value, 64, 2)
    for arch in (90, 100, 103):
        assert not split_heads(arch, MODE_BYTES.value, 64, 1) and not split_heads(arch, MODE_FP4.value, 64, 1)


def test_fragment_order_rule(monkeypatch) -> None:
    """The paged kernel's decoders write the MMA fragment's K order on sm_90 (every mode: its constexpr is unused in
    the native mode), and on mma.sync archs only in the decoded modes (bytes, MXFP4), where each dot has at most 64
    query columns, with Triton >= 3.9 (3.6-3.8 build a 4-wide fragment, measured slower); memory order elsewhere."""
    from sglang_sm120_dsa.triton.config import fragment_order
    from sglang_sm120_dsa.triton.kernels.decode import MODE_BYTES
    from sglang_sm120_dsa.triton.kernels.decode import MODE_FP4
    from sglang_sm120_dsa.triton.kernels.decode import MODE_NATIVE

    bytes_ = MODE_BYTES.value
    monkeypatch.setattr(config, "triton_version", lambda: (3, 9))
    for arch in (None, 80, 86, 89, 120, 121):
        # (heads, rows): split heads (next_n 1), a dot per row of two, a small single dot; then 128 columns
        assert all(fragment_order(arch, bytes_, h, r) for h, r in ((64, 1), (128, 1), (32, 1), (64, 2), (8, 2)))
        assert not fragment_order(arch, bytes_, 32, 4) and not fragment_order(arch, bytes_, 16, 8), arch
        assert not fragment_order(arch, MODE_NATIVE.value, 64, 1) and fragment_order(arch, MODE_FP4.value, 64, 1)
        assert not fragment_order(arch, MODE_FP4.value, 32, 4)
    assert all(fragment_order(90, mode, 64, 1) for mode in (bytes_, MODE_NATIVE.value, MODE_FP4.value))
    assert not fragment_order(100, bytes_, 64, 1)
    monkeypatch.setattr(config, "triton_version", lambda: (3, 8))
    assert not fragment_order(80, bytes_, 64, 1) and fragment_order(90, bytes_, 64, 1)


def test_ragged_row_dots_rule(monkeypatch) -> None:
    """The ragged kernel takes a dot per row where its two rows of 64 heads would otherwise share a 128-column
    dot, on mma.sync archs with Triton >= 3.9; its fragment order then follows the paged kernel's rule for 64
    columns (bytes and MXFP4). Hopper keeps one dot and fragment order in every mode; other head counts keep one dot."""
    from sglang_sm120_dsa.triton.config import ragged_fragment
    from sglang_sm120_dsa.triton.config import ragged_row_dots
    from sglang_sm120_dsa.triton.kernels.decode import MODE_BYTES
    from sglang_sm120_dsa.triton.kernels.decode import MODE_FP4
    from sglang_sm120_dsa.triton.kernels.decode import MODE_NATIVE

    bytes_ = MODE_BYTES.value
    monkeypatch.setattr(config, "triton_version", lambda: (3, 9))
    for arch in (None, 80, 86, 89, 120, 121):
        assert ragged_row_dots(arch, 64) and ragged_fragment(arch, bytes_, 64), arch
        assert not ragged_fragment(arch, MODE_NATIVE.value, 64) and ragged_fragment(arch, MODE_FP4.value, 64)
        for heads in (8, 16, 32, 128):  # 16 rows x 8 heads ... one row x 128: one dot of 128 columns
            assert not ragged_row_dots(arch, heads) and not ragged_fragment(arch, bytes_, heads), (arch, heads)
    for arch in (90, 100):
        assert not ragged_row_dots(arch, 64)
    assert all(ragged_fragment(90, mode, 64) for mode in (bytes_, MODE_NATIVE.value, MODE_FP4.value))
    assert not ragged_fragment(100, bytes_, 64)
    monkeypatch.setattr(config, "triton_version", lambda: (3, 6))
    assert not ragged_row_dots(80, 64) and not ragged_fragment(80, bytes_, 64) and ragged_fragment(90, bytes_, 64)


def test_programs_per_sm_per_page_form() -> None:
    """A one-page entry's count serves its one-page variant; its other variant takes ``programs_per_sm_multi_page``
    where set (fewer fit), else the same count."""
    from sglang_sm120_dsa.triton.config import programs_per_sm

    entry = {"block_t": 64, "programs_per_sm": 2, "one_page": True, "programs_per_sm_multi_page": 1}
    assert programs_per_sm(entry, True) == 2 and programs_per_sm(entry, False) == 1
    plain = {"block_t": 64, "programs_per_sm": 3, "one_page": True}
    assert programs_per_sm(plain, True) == programs_per_sm(plain, False) == 3


def test_bucket_keys_pick_the_entry_of_the_length() -> None:
    """The launchers key their ragged plans by configs.bucket(bounds, tokens): picking with that key gives every
    shipped table's entry for tokens itself, at every bound +- 1 and past the last."""
    from sglang_sm120_dsa import configs as tables

    assert tables.bucket((), 12345) == 0.0
    checked = 0
    for path in TABLES:
        sections = [s for s in json.loads(path.read_text()).values() if isinstance(s, dict)]
        for buckets in sections + [b for s in sections for b in s.values() if isinstance(b, dict)]:
            if not buckets or not all(k == "inf" or k.isdigit() for k in buckets):
                continue
            bounds = tables.bucket_bounds(buckets)
            finite = [b for b in bounds if b != float("inf")]
            for tokens in {0, 1, *(b + d for b in finite for d in (-1, 0, 1)), 2 * max(finite, default=1)}:
                key = tables.bucket(bounds, tokens)
                assert tables.pick(buckets, key, {}) == tables.pick(buckets, tokens, {}), (path, tokens, key)
            checked += 1
    assert checked > 10
