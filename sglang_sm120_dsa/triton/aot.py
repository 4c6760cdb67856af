"""Ahead-of-time compilation of the Triton variants for any target arch, without a GPU (tests, review).

``compile_variant(variant, arch)`` builds the same specialization the runtime launch produces (runtime integers
unspecialized; 16-byte alignment for the pointers and strides the kernels leave specialized, which valid inputs
always satisfy) and returns Triton's compiled kernel, whose
``asm`` holds the PTX and cubin; :func:`sass` disassembles a cubin with the ``cuobjdump`` that ships with Triton.
Must not run under ``TRITON_INTERPRET=1`` (the kernels would be interpreter objects).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import subprocess
import tempfile

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from .config import REGISTERS_PER_SM
from .config import SMEM_PER_BLOCK
from .config import SMEM_PER_SM
from .config import SMEM_RESERVED_PER_BLOCK
from .config import programs_per_sm
from .kernels.decode import MODE_BYTES
from .kernels.decode import MODE_FP4
from .kernels.decode import MODE_NATIVE
from .kernels.metadata import _dsa_paged_mqa_metadata_kernel
from .kernels.paged import _dsa_paged_clean_logits_kernel
from .kernels.paged import _dsa_paged_mqa_logits_kernel
from .kernels.paged_sm90 import _dsa_paged_sm90_kernel
from .kernels.ragged import _dsa_mqa_logits_kernel
from .variants import Variant
from .variants import kernel_variants
from .variants import operand_mode
from .variants import paged_tiles_and_variants
from .variants import sm90_entries_and_variants

_ALIGNED = [["tt.divisibility", 16]]


def _signature(variant: Variant) -> tuple[object, dict, dict]:
    """(kernel, signature, attrs) of a variant; constexprs get "constexpr"."""
    out = "*u8"  # logits are passed as bytes (the dtype is a runtime flag)
    operand = "*fp8e4nv" if variant.get("MODE") == MODE_NATIVE.value else "*u8"  # as launch._operand passes them
    if variant.kernel == "paged":
        fn = _dsa_paged_mqa_logits_kernel
        sf = "*i32" if variant.get("MODE") == MODE_FP4.value else "*u8"
        ptrs = {"q_ptr": operand, "q_sf_ptr": sf, "kv_ptr": operand, "w_ptr": "*fp32", "lens_ptr": "*i32",
                "table_ptr": "*i32", "meta_ptr": "*i32", "idx_ptr": "*i32", "out_ptr": out}
        aligned = ("q_ptr", "kv_ptr", "out_ptr", "stride_page", "stride_out")
    elif variant.kernel == "paged_sm90":
        fn = _dsa_paged_sm90_kernel
        operand = "*u8" if variant.get("BYTES") else "*fp8e4nv"
        ptrs = {"q_ptr": operand, "kv_ptr": operand, "w_ptr": "*fp32", "lens_ptr": "*i32", "table_ptr": "*i32",
                "meta_ptr": "*i32", "out_ptr": out}
        aligned = ("q_ptr", "kv_ptr", "out_ptr", "stride_page", "stride_out")
    elif variant.kernel == "ragged":
        fn = _dsa_mqa_logits_kernel
        fp4 = variant.get("MODE") == MODE_FP4.value
        ptrs = {"q_ptr": operand, "q_sf_ptr": "*i32" if fp4 else "*u8", "kv_ptr": operand,
                "kv_sf_ptr": "*i32" if fp4 else "*fp32", "w_ptr": "*fp32", "ks_ptr": "*i32", "ke_ptr": "*i32",
                "out_ptr": out}
        aligned = ("q_ptr", "kv_ptr", "kv_sf_ptr", "out_ptr", "stride_out")
    elif variant.kernel == "metadata":
        fn = _dsa_paged_mqa_metadata_kernel
        ptrs = {"lens_ptr": "*i32", "idx_ptr": "*i32", "meta_ptr": "*i32"}
        aligned = ()
    else:
        fn = _dsa_paged_clean_logits_kernel
        ptrs = {"lens_ptr": "*i32", "out_ptr": out}
        aligned = ("out_ptr", "stride_out")
    constexprs = dict(variant.constexprs)
    signature = {name: ptrs.get(name, "constexpr" if name in constexprs else "i32") for name in fn.arg_names}
    attrs = {(fn.arg_names.index(name),): _ALIGNED for name in aligned}
    return fn, signature, attrs


def _options(variant: Variant) -> dict:
    return {"num_warps": variant.num_warps, **({"maxnreg": variant.maxnreg} if variant.maxnreg else {})}


def compile_variant(variant: Variant, arch: int, lowered_for: str | None = None):
    """``variant`` compiled for ``arch``; ``lowered_for`` (``"sm89"``): Triton's ``arch`` option, which lowers it
    for that arch down to LLVM IR, as ``SGLANG_SM120_DSA_TRITON_ARCH`` launches do (config.lowering)."""
    if os.environ.get("TRITON_INTERPRET") == "1":
        raise RuntimeError("ahead-of-time compilation needs TRITON_INTERPRET unset")
    fn, signature, attrs = _signature(variant)
    if variant.kernel == "paged_sm90":  # (Gluon: its own AST source; imported here, the module needs triton >= 3.5)
        from triton.experimental.gluon._runtime import GluonASTSource as ASTSourceOf
    else:
        ASTSourceOf = ASTSource
    source = ASTSourceOf(fn, signature, constexprs=dict(variant.constexprs), attrs=attrs)
    options = {**_options(variant), **({"arch": lowered_for} if lowered_for else {})}
    return triton.compile(source, target=GPUTarget("cuda", arch, 32), options=options)


# Triton lowers sm_121 (DGX Spark) exactly as sm_120 down to the PTX, whose target line alone differs: check_arch
# assembles sm_121's variants from sm_120's PTX with ptxas for sm_121 (a tenth of a full compile: CI compiles every
# variant for 7 archs), after checking that a full sm_121 compile gives that PTX code for one variant per (kernel,
# operand mode), in the first share. (Triton 3.6 lowered them differently: it had no FP8 MMA for sm_121.)
SAME_LOWERING = {121: 120}
_TARGET = re.compile(r"^\.target sm_\d+a?$", re.MULTILINE)


def _retargeted_ptx(ptx: str, arch: int) -> str:
    return _TARGET.sub(f".target sm_{arch}a", ptx, count=1)


# Line info names each source file by absolute path (in .file and in the DWARF sections), and Triton's cache key
# omits the path: a cache hit can carry another checkout's paths (CI's warm cache), so the lowering check compares
# the code alone.
_FILE = re.compile(r"^\s*\.file\s.*$", re.MULTILINE)
_DEBUG_SECTIONS = re.compile(r"^\s*\.section\s+\.debug", re.MULTILINE)


def same_lowering(ptx: str, other: str) -> bool:
    def code(text: str) -> str:
        return _FILE.sub("", _DEBUG_SECTIONS.split(text, maxsplit=1)[0])

    return code(ptx) == code(other)


@dataclasses.dataclass
class Assembled:
    """A variant assembled for ``arch`` from another arch's PTX: what check_arch reads of a compiled kernel."""

    asm: dict
    metadata: object  # the source compile's (shared memory: a property of the PTX)


def assemble_variant(variant: Variant, arch: int, source) -> Assembled:
    """``source`` (a kernel compiled for ``SAME_LOWERING[arch]``) assembled for ``arch`` by Triton's own ptxas step."""
    from triton.backends.nvidia.compiler import CUDABackend

    backend = CUDABackend(GPUTarget("cuda", arch, 32))
    ptx = _retargeted_ptx(source.asm["ptx"], arch)
    cubin = backend.make_cubin(ptx, {}, backend.parse_options(_options(variant)), arch)
    return Assembled({**source.asm, "ptx": ptx, "cubin": cubin}, source.metadata)


def cuobjdump() -> pathlib.Path:
    return pathlib.Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"


def _cuobjdump(cubin: bytes, flag: str) -> str:
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin)
        f.flush()
        return subprocess.run([str(cuobjdump()), flag, f.name], check=True, capture_output=True, text=True).stdout


def sass(cubin: bytes) -> str:
    return _cuobjdump(cubin, "-sass")


def registers(cubin: bytes) -> int:
    """Registers per thread of a cubin's kernel (``cuobjdump --dump-resource-usage``)."""
    return int(re.search(r"REG:(\d+)", _cuobjdump(cubin, "--dump-resource-usage")).group(1))


def sm_footprint(kernel, variant: Variant, programs: int, per_thread: int | None = None) -> tuple[int, int]:
    """(shared memory bytes, registers) that ``programs`` resident programs of a compiled variant take on one SM."""
    per_thread = registers(kernel.asm["cubin"]) if per_thread is None else per_thread
    return (programs * (kernel.metadata.shared + SMEM_RESERVED_PER_BLOCK),
            programs * 32 * variant.num_warps * per_thread)


def max_programs(arch: int, kernel, variant: Variant) -> int:
    """How many programs of a compiled variant one SM of ``arch`` holds together (shared memory, registers)."""
    shared, regs = sm_footprint(kernel, variant, 1)
    return min(SMEM_PER_SM[arch] // shared, REGISTERS_PER_SM // regs)


def occupancy_problems(arch: int, compiled: dict) -> list[str]:
    """Paged tile entries whose ``programs_per_sm`` programs do not fit one SM together: an SM that holds fewer
    runs the rest after them, so a table must never ask for more (``compiled``: variant -> compiled kernel)."""
    problems, per_thread = [], {}
    for tile, variant in [*paged_tiles_and_variants(arch), *sm90_entries_and_variants(arch)]:
        kernel = compiled.get(variant)
        if kernel is None:  # another part's, or failed to compile (reported by check_arch)
            continue
        if variant not in per_thread:
            per_thread[variant] = registers(kernel.asm["cubin"])
        programs = programs_per_sm(tile, bool(variant.get("ONE_PAGE")))  # (an sm90 entry has one count)
        shared, regs = sm_footprint(kernel, variant, programs, per_thread[variant])
        if shared > SMEM_PER_SM[arch] or regs > REGISTERS_PER_SM:
            problems.append(f"sm_{arch} {variant.describe()} x {programs} programs per SM: {shared} bytes of shared "
                            f"memory (SM: {SMEM_PER_SM[arch]}), {regs} registers (SM: {REGISTERS_PER_SM})")
    return problems


# Tensor-core instructions each (arch, operand mode) must use: (PTX substring, SASS opcode prefix).
_FP16_MMA = ("mma.sync.aligned.m16n8k16", "HMMA.16816")
_EXPECTED = {
    "native": {89: ("e4m3.e4m3", "QMMA.16832.F32.E4M3.E4M3"), 90: ("wgmma.mma_async", "QGMMA"),
               100: ("tcgen05.mma", "UTCQMMA"), 120: ("e4m3.e4m3", "QMMA.16832.F32.E4M3.E4M3"),
               121: ("e4m3.e4m3", "QMMA.16832.F32.E4M3.E4M3")},
    "decoded": {80: _FP16_MMA, 86: _FP16_MMA, 89: _FP16_MMA, 90: ("wgmma.mma_async", "HGMMA"),
                100: ("tcgen05.mma", "UTCHMMA"), 120: _FP16_MMA, 121: _FP16_MMA},
}
_FP8_PTX_TYPES = ("e4m3", "e5m2")
# On sm_90 (Triton's wgmma), and wherever a variant decodes into the fragment's order (config.fragment_order), the
# byte path's decoded keys must reach the MMA from registers (decode._bytes_operand): not through shared memory
# (wgmma reading operand A there) nor a layout conversion into its fragment. The check names sm_90 itself rather
# than asking config.wgmma, so that a wrong answer there fails it.
_WGMMA_A_FROM_SHARED = re.compile(r"ttng\.warp_group_dot [^\n]*\} : !ttg\.memdesc")
_F16_FRAGMENT_CONVERTED = re.compile(r"(ttg\.local_load|ttg\.convert_layout)[^\n]*-> tensor<[^\n]*xf16, "
                                     r"#ttg\.dot_op<\{opIdx = 0")


_DOT_IR = re.compile(r"\b(ttng\.warp_group_dot|tt\.dot) ")
_DEFINED = re.compile(r"(%[\w.]+)(?::\d+)?(?=(?:, %[\w.]+(?::\d+)?)* = )")
_ALLOC_OF = re.compile(r"ttg\.local_alloc (%[\w.]+) :")


def invariant_copies(ttgir: str) -> list[str]:
    """Shared-memory copies (``local_alloc``) of loop-invariant tensors inside a TTGIR loop that holds a dot: each
    stores the same tensor again every iteration (Triton 3.9 left the ragged kernel's transposed query in its key
    loop until the transpose moved out of it: 16 KB of stores, a fence and a barrier per key tile on sm_90)."""
    lines, found = ttgir.splitlines(), []
    for i, head in enumerate(lines):
        if "scf.for " not in head or not head.rstrip().endswith("{"):
            continue
        indent = len(head) - len(head.lstrip())
        end = next(j for j in range(i + 1, len(lines))
                   if lines[j].strip().startswith("}") and len(lines[j]) - len(lines[j].lstrip()) == indent)
        body = lines[i + 1:end]
        if not any(_DOT_IR.search(line) for line in body):
            continue
        inside = set(_DEFINED.findall(head)) | {v for line in body for v in _DEFINED.findall(line)}
        inside |= {v for line in body for v in re.findall(r"(%[\w.]+): ", line)}  # block arguments
        found += [m.group(1) for line in body if (m := _ALLOC_OF.search(line)) and m.group(1) not in inside]
    return found


_SASS_LINE = re.compile(r"/\*([0-9a-f]{4,})\*/\s+(.*?);")
_BACK_BRANCH = re.compile(r"\bBRA\s+(?:`?\(?\.L_x_\d+\)?|0x([0-9a-f]+))")


def mma_loop_lines(code: str, mma_sync: bool = False) -> list[str]:
    """The SASS instructions of the innermost loops (a backward branch's range) that hold a wgmma (``mma_sync``: an
    ``mma.sync``, HMMA or QMMA)."""
    lines = [(int(m.group(1), 16), m.group(2)) for m in _SASS_LINE.finditer(code)]
    loops = [(int(m.group(1), 16), addr) for addr, text in lines
             if (m := _BACK_BRANCH.search(text)) and m.group(1) and int(m.group(1), 16) < addr]
    pattern = _MMA_SYNC_SASS if mma_sync else _WGMMA_SASS
    mma = [a for a, text in lines if pattern.search(text)]
    loops = [(lo, hi) for lo, hi in loops if any(lo <= a <= hi for a in mma)]
    inner = [(lo, hi) for lo, hi in loops if not any((lo, hi) != o and lo <= o[0] and o[1] <= hi for o in loops)]
    return [text for a, text in lines if any(lo <= a <= hi for lo, hi in inner)]


def sm90_sass_problems(code: str) -> list[str]:
    """What would cost the SM90 Gluon kernel its point: ptxas serializing its wgmma (then a wait follows every
    ``QGMMA``, or ``HGMMA`` in byte mode: C7514, e.g. an accumulator read while in flight), or spills in its token
    loop (a few per program outside it, reloaded once per run of tiles, cost nothing measurable)."""
    problems = []
    if code.count("WARPGROUP.DEPBAR") >= len(_WGMMA_SASS.findall(code)):
        problems.append("wgmma serialized (a WARPGROUP.DEPBAR after every QGMMA)")
    if any(re.search(r"\b(LDL|STL)\b", line) for line in mma_loop_lines(code)):
        problems.append("register spills (LDL/STL) in the token loop")
    return problems


def check_arch(arch: int, part: int = 0, parts: int = 1) -> dict:
    """Compile every variant for ``arch`` (every ``parts``-th one from the ``part``-th, so that processes can share
    an arch) and check it. Returns counts and the list of problems (empty = pass)."""
    problems: list[str] = []
    sass_done: set[tuple] = set()
    sass_unavailable = ""
    max_shared = 0
    variants = kernel_variants(arch)[part::parts]
    compiled = {}
    lowering_checked: set[tuple] = set()
    for variant in variants:
        name = f"sm_{arch} {variant.describe()}"
        key = (variant.kernel, variant.get("MODE"), variant.get("D"))
        try:
            if arch in SAME_LOWERING:
                kernel = assemble_variant(variant, arch, compile_variant(variant, SAME_LOWERING[arch]))
                if part == 0 and key[:2] not in lowering_checked:
                    lowering_checked.add(key[:2])
                    if not same_lowering(compile_variant(variant, arch).asm["ptx"], kernel.asm["ptx"]):
                        problems.append(f"{name}: Triton lowers it differently from sm_{SAME_LOWERING[arch]}: "
                                        "assemble nothing from that arch's PTX (aot.SAME_LOWERING)")
            else:
                kernel = compile_variant(variant, arch)
            compiled[variant] = kernel
        except Exception as e:  # report every failing variant, not just the first
            problems.append(f"{name}: compile failed: {type(e).__name__}: {e}"[:400])
            continue
        shared = kernel.metadata.shared
        max_shared = max(max_shared, shared)
        if shared > SMEM_PER_BLOCK[arch]:
            problems.append(f"{name}: {shared} bytes of shared memory > {SMEM_PER_BLOCK[arch]}")
        if variant.kernel not in ("paged", "paged_sm90", "ragged"):
            continue
        ptx = kernel.asm["ptx"]
        sm90 = variant.kernel == "paged_sm90"
        mode = "native" if operand_mode(variant) == MODE_NATIVE.value else "decoded"
        ptx_op, sass_op = _EXPECTED[mode][arch]
        if ptx_op not in ptx:
            problems.append(f"{name}: no {ptx_op} in the PTX")
        if arch < 89 and any(t in ptx for t in _FP8_PTX_TYPES):
            problems.append(f"{name}: FP8 types in sm_{arch} PTX")
        ttgir = kernel.asm["ttgir"]
        # (the Gluon kernel's byte mode converts its decoded keys with assert_trivial: it compiles only if the
        # conversion moves nothing)
        if (arch == 90 or variant.get("FRAGMENT")) and variant.get("MODE") == MODE_BYTES.value and (
                _WGMMA_A_FROM_SHARED.search(ttgir) or _F16_FRAGMENT_CONVERTED.search(ttgir)):
            problems.append(f"{name}: the decoded key tile goes through shared memory or a conversion to the MMA")
        if copies := invariant_copies(ttgir):
            problems.append(f"{name}: loop-invariant {', '.join(copies)} copied to shared memory in the dot's loop")
        if sm90:  # every one: a few variants
            key = variant
        if key not in sass_done and not sass_unavailable:  # disassembly costs 0.3 s: one per (kernel, mode, D)
            sass_done.add(key)
            try:
                code = sass(kernel.asm["cubin"])
            except subprocess.CalledProcessError as e:  # e.g. triton 3.6's cuobjdump: "Cannot decode 'SM121'"
                sass_unavailable = f"{cuobjdump()} cannot disassemble sm_{arch}: {e.stderr.strip()[-120:]}"
                continue
            if sass_op not in code:
                problems.append(f"{name}: no {sass_op} in the SASS")
            if arch < 89 and "E4M3" in code:
                problems.append(f"{name}: E4M3 in sm_{arch} SASS")
            if sm90:
                problems += [f"{name}: {p}" for p in sm90_sass_problems(code)]
    problems += occupancy_problems(arch, compiled)  # (the tile entries of this part's variants)
    return {"arch": arch, "variants": len(variants), "sass_checked": len(sass_done), "max_shared": max_shared,
            "problems": problems, "sass_unavailable": sass_unavailable}


_WGMMA_SASS = re.compile(r"\b[HQ]GMMA\b")
_MMA_SYNC_SASS = re.compile(r"\b[HQ]MMA\b")
_PATH = re.compile(r'"/[^"]*"')  # source locations: a cache hit may carry another checkout's (see same_lowering)


def emulation_problems(arch: int, device: int = 90, lower: bool = True) -> list[str]:
    """Whether ``SGLANG_SM120_DSA_TRITON_ARCH=sm<arch>`` runs ``arch``'s own program on a ``device`` GPU: for one
    variant per (kernel, operand mode) of ``arch``, the compile for ``device`` lowered for ``arch`` must have that
    arch's TritonGPU and LLVM IR, and SASS with ``mma.sync`` (HMMA), no wgmma. ``lower=False`` drops Triton's
    ``arch`` option (the tests' negative case)."""
    problems, seen = [], set()
    lowered_for = f"sm{arch}" if lower else None
    for variant in kernel_variants(arch):
        key = (variant.kernel, variant.get("MODE"))
        if variant.kernel not in ("paged", "ragged") or key in seen:
            continue
        seen.add(key)
        name = f"sm_{arch} on sm_{device} {variant.describe()}"
        own, emulated = compile_variant(variant, arch), compile_variant(variant, device, lowered_for)
        problems += [f"{name}: {ir} differs from sm_{arch}'s" for ir in ("ttgir", "llir")
                     if _PATH.sub('"-"', own.asm[ir]) != _PATH.sub('"-"', emulated.asm[ir])]
        code = sass(emulated.asm["cubin"])
        if "HMMA" not in code or _WGMMA_SASS.search(code):
            problems.append(f"{name}: not mma.sync (HMMA) in the SASS")
    return problems
