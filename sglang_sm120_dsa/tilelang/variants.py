"""Every compiled variant of the TileLang family, and the two ways to build one.

A variant is a kernel and its compile-time parameters; batch, lengths, strides and page sizes are runtime values,
so one variant serves every call of its class. :func:`jit` compiles a variant for the current GPU (TileLang
caches the binary on disk, ``TILELANG_CACHE_DIR``); :func:`cubin` lowers and compiles one for any target with no
GPU (the CPU tests' SASS checks), cached under ``~/.cache/sglang-sm120-dsa/tilelang``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import hashlib
import importlib.metadata
import logging
import multiprocessing
import os
import pathlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from .._checks import FP4_HEAD_DIMS
from .._checks import MAX_NEXT_N
from .._checks import PAGED_HEAD_DIMS
from .._checks import RAGGED_FP8_HEAD_DIMS
from .._checks import SUPPORTED_HEADS
from . import config

OUT_DTYPES = ("float32", "bfloat16")


@dataclass(frozen=True)
class Variant:
    kernel: str  # "paged", "ragged" or "metadata"
    params: tuple[tuple[str, object], ...]

    def get(self, name: str):
        return dict(self.params).get(name)

    def describe(self) -> str:
        return f"{self.kernel}[{', '.join(f'{k}={v}' for k, v in self.params)}]"

    def build(self):
        """The variant's ``T.prim_func``."""
        if self.kernel == "paged":
            from .kernels.paged import paged_kernel as builder
        elif self.kernel == "ragged":
            from .kernels.ragged import ragged_kernel as builder
        else:
            from .kernels.metadata import metadata_kernel as builder
        return builder(**dict(self.params))


def paged_variant(heads: int, head_dim: int, rows: int, fp4: bool, out: str, sizes: dict) -> Variant:
    return Variant("paged", (("H", heads), ("D", head_dim), ("ROWS", rows), ("BLOCK_T", sizes["block_t"]),
                             ("THREADS", sizes["threads"]), ("STAGES", sizes["stages"]), ("FP4", fp4),
                             ("OUT", out)))


def ragged_variant(heads: int, head_dim: int, fp4: bool, out: str, sizes: dict) -> Variant:
    return Variant("ragged", (("H", heads), ("D", head_dim), ("BLOCK_Q", config.ragged_block_q(heads)),
                              ("BLOCK_KV", sizes["block_kv"]), ("CHUNK", sizes["chunk"]), ("THREADS", sizes["threads"]),
                              ("STAGES", sizes["stages"]), ("FP4", fp4), ("OUT", out)))


METADATA = Variant("metadata", (("THREADS", config.METADATA_THREADS),))


def _unique(items):
    return list(dict.fromkeys(items))


def kernel_variants(arch: int, heads: tuple[int, ...] = SUPPORTED_HEADS) -> list[Variant]:
    """Every variant a process on ``arch`` can launch: each launch-size entry of the arch's tables, for every
    head count, head dim, row class, FP8/MXFP4 and logits dtype."""
    paged_sizes = _unique(tuple(sorted(config.paged_sizes(arch, b).items())) for b in _buckets("paged_mqa_logits",
                                                                                                 arch, "batch"))
    ragged_sizes = _unique(tuple(sorted(config.ragged_sizes(arch, t).items())) for t in _buckets("mqa_logits", arch,
                                                                                                   "tokens"))
    out = [METADATA]
    for h, fp4, dtype in ((h, f, o) for h in heads for f in (False, True) for o in OUT_DTYPES):
        for d in (FP4_HEAD_DIMS if fp4 else PAGED_HEAD_DIMS):
            for rows in _unique(config.rows_per_block(h, n) for n in range(1, MAX_NEXT_N + 1)):
                out += [paged_variant(h, d, rows, fp4, dtype, dict(s)) for s in paged_sizes]
        for d in (FP4_HEAD_DIMS if fp4 else RAGGED_FP8_HEAD_DIMS):
            out += [ragged_variant(h, d, fp4, dtype, dict(s)) for s in ragged_sizes]
    return _unique(out)


def _buckets(op: str, arch: int, key: str) -> list[float]:
    section = config.table(op, arch).get(key, {})
    return [float(b) for b in section] or [1.0]


@functools.cache
def jit(variant: Variant, arch: int, sm120_mode: bool):
    """The variant compiled for the current GPU (``arch``), loaded and callable with torch tensors."""
    import tilelang
    from tvm.target import Target

    target = Target(config.target(arch))
    with target, _quiet_tilelang():
        return tilelang.compile(variant.build(), target=target, execution_backend="tvm_ffi",
                                pass_configs=config.pass_configs(arch, sm120_mode))


@contextlib.contextmanager
def _quiet_tilelang():
    """TileLang logs two INFO lines per kernel it compiles, which would bury warmup's progress lines; its default
    INFO level is raised to WARNING meanwhile (a level the user chose is kept)."""
    logger = logging.getLogger("tilelang")
    level = logger.level
    if level == logging.INFO:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _cache_dir() -> pathlib.Path:
    root = os.environ.get("SGLANG_SM120_DSA_TEST_CACHE") or pathlib.Path.home() / ".cache" / "sglang-sm120-dsa"
    return pathlib.Path(root) / "tilelang"


def _sources_hash() -> str:
    """Hash of what decides a variant's code: the kernel sources, the compiler settings, TileLang's version."""
    here = pathlib.Path(__file__).parent
    digest = hashlib.sha256(importlib.metadata.version("tilelang").encode())
    for path in sorted([*here.joinpath("kernels").glob("*.py"), here / "config.py"]):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _cached(name: str, make) -> bytes:
    """``make()``'s bytes, stored under the cache directory as ``name`` (written atomically: parallel compilers)."""
    path = _cache_dir() / name
    if path.exists():
        return path.read_bytes()
    data = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return data


def _key(variant: Variant, arch: int, sm120_mode: bool) -> str:
    return hashlib.sha256(f"{_sources_hash()} {variant} {arch} {sm120_mode}".encode()).hexdigest()[:32]


def lower(variant: Variant, arch: int, sm120_mode: bool) -> str:
    """CUDA source of the variant for ``arch`` (no GPU needed), cached like the cubins."""

    def make() -> bytes:
        import tilelang
        import tvm
        from tvm.target import Target

        target = Target(config.target(arch))
        with tvm.transform.PassContext(config=config.pass_configs(arch, sm120_mode)), target:
            return tilelang.lower(variant.build(), target=target).kernel_source.encode()

    return _cached(f"{_key(variant, arch, sm120_mode)}.cu", make).decode()


def cubin(variant: Variant, arch: int, sm120_mode: bool) -> bytes:
    """The variant's cubin for ``arch``, compiled by nvcc with TileLang's options (no GPU needed), cached by the
    variant, the target and the hash of the kernel sources. sm_121a compiles the sm_120a source: TileLang lowers
    both targets to the same CUDA (asserted by the AOT tests), and lowering is the slow step."""
    from tilelang.contrib import nvcc

    def make() -> bytes:
        source = lower(variant, 120 if arch == 121 else arch, sm120_mode)
        return bytes(nvcc.compile_cuda(source, target_format="cubin", arch=config.target(arch)["arch"],
                                       options=nvcc.default_compile_options()))

    return _cached(f"{_key(variant, arch, sm120_mode)}.cubin", make)


def _cubins_of(variant: Variant, targets: tuple[tuple[int, bool], ...]) -> None:
    for arch, sm120_mode in targets:
        cubin(variant, arch, sm120_mode)


def in_processes(build: Callable[..., None], chosen: list[Variant], *args, workers: int | None = None,
                 progress: Callable[[str], None] | None = None) -> None:
    """``build(variant, *args)`` for every variant in ``workers`` spawned processes (default one per core):
    lowering is single-threaded Python, so processes are what makes compiling many variants parallel. Each
    finished variant is reported to ``progress`` with the elapsed time."""
    start = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers or os.cpu_count() or 1, mp_context=context) as pool:
        jobs = {pool.submit(build, v, *args): v for v in chosen}
        for i, job in enumerate(concurrent.futures.as_completed(jobs), 1):
            job.result()
            if progress:
                progress(f"compiled {i}/{len(chosen)}: {jobs[job].describe()} ({time.perf_counter() - start:.0f} s)")


def compile_cubins(chosen: list[Variant], targets: tuple[tuple[int, bool], ...], workers: int | None = None,
                   progress: Callable[[str], None] | None = None) -> None:
    """:func:`cubin` of every variant for every ``(arch, sm120_mode)`` target, in parallel processes."""
    in_processes(_cubins_of, chosen, targets, workers=workers, progress=progress)
