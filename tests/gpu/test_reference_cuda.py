"""The PyTorch reference on a GPU: same results as on the CPU, capturable in CUDA graphs, deterministic, and
memory-bounded at batch 64 x 128K context."""

from __future__ import annotations

import pytest
import torch

import sglang_sm120_dsa as dsa
from sglang_sm120_dsa.testing import assert_bitwise_equal
from sglang_sm120_dsa.testing import calc_diff
from sglang_sm120_dsa.testing import make_paged_case
from sglang_sm120_dsa.testing import make_ragged_case
from sglang_sm120_dsa.testing.bench import capture

NEG_INF = float("-inf")
pytestmark = pytest.mark.usefixtures("reference_family")


def valid_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    mask = b == NEG_INF
    assert torch.equal(a == NEG_INF, mask)
    return calc_diff(a, b, mask)


def paged_call(case, meta, dtype=torch.float32):
    return dsa.fp8_fp4_paged_mqa_logits(case.q, case.kv_cache, case.weights, case.context_lens, case.block_table,
                                        meta, case.max_context_len, True, dtype, case.indices)


@pytest.mark.parametrize("fp4", [False, True])
@pytest.mark.parametrize("lens_2d", [True, False])
def test_paged_cuda_matches_cpu(fp4: bool, lens_2d: bool) -> None:
    cpu = make_paged_case(16, 3, 64, 128, 64, avg_context=900, lens_2d=lens_2d, fp4=fp4, seed=1)
    gpu = cpu.to("cuda")
    meta_cpu = dsa.get_paged_mqa_logits_metadata(cpu.context_lens, 64, 132)
    meta_gpu = dsa.get_paged_mqa_logits_metadata(gpu.context_lens, 64, 132)
    assert_bitwise_equal(meta_gpu.cpu(), meta_cpu, "metadata")
    assert valid_diff(paged_call(gpu, meta_gpu).cpu(), paged_call(cpu, meta_cpu)) < 1e-12


@pytest.mark.parametrize("fp4", [False, True])
@pytest.mark.parametrize("compressed", [False, True])
def test_ragged_cuda_matches_cpu(fp4: bool, compressed: bool) -> None:
    cpu = make_ragged_case(256, 1024, 64, 128, cp=True, compressed=compressed, fp4=fp4, seed=2)
    gpu = cpu.to("cuda")
    run = lambda c: dsa.fp8_fp4_mqa_logits(c.q, c.kv, c.weights, c.ks, c.ke, True, c.max_seqlen_k)  # noqa: E731
    assert valid_diff(run(gpu).cpu(), run(cpu)) < 1e-12


def _copy_case(dst, src) -> None:
    """Copy every tensor of ``src`` into the same-shaped tensors of ``dst`` (graph inputs stay in place)."""
    for name in ("q", "kv_cache", "weights", "context_lens", "block_table", "kv", "ks", "ke"):
        a, b = getattr(dst, name, None), getattr(src, name, None)
        for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,), strict=True):
            if isinstance(x, torch.Tensor):
                x.copy_(y)


@pytest.mark.parametrize("fp4", [False, True])
def test_paged_ops_capture_and_replay(fp4: bool) -> None:
    """Metadata and logits captured in one graph; replaying on new inputs equals eager on those inputs."""
    lens = [700, 1, 0, 300, 1000, 64, 65, 999]
    static = make_paged_case(8, 2, 64, 128, 64, context_lens=lens, fp4=fp4, seed=3, device="cuda")
    fresh = make_paged_case(8, 2, 64, 128, 64, context_lens=lens[::-1], fp4=fp4, seed=4, device="cuda")
    assert static.kv_cache.shape == fresh.kv_cache.shape and static.block_table.shape == fresh.block_table.shape

    def step():
        meta = dsa.get_paged_mqa_logits_metadata(static.context_lens, 64, dsa.get_num_sms())
        return meta, paged_call(static, meta)

    graph, (meta_out, logits_out) = capture(step)
    _copy_case(static, fresh)
    graph.replay()
    torch.cuda.synchronize()
    meta_eager, logits_eager = step()
    assert_bitwise_equal(meta_out, meta_eager, "metadata")
    assert_bitwise_equal(logits_out, logits_eager, "logits")
    assert not torch.equal(logits_out[:, :64], make_paged_case(8, 2, 64, 128, 64, context_lens=lens, fp4=fp4, seed=3,
                                                               device="cuda").weights[:, :64])  # inputs really changed


@pytest.mark.parametrize("compressed", [False, True])
def test_ragged_ops_capture_and_replay(compressed: bool) -> None:
    static = make_ragged_case(128, 2048, 64, 128, cp=True, compressed=compressed, seed=5, device="cuda")
    fresh = make_ragged_case(128, 2048, 64, 128, cp=True, compressed=compressed, seed=6, device="cuda")
    fn = lambda: dsa.fp8_mqa_logits(static.q, static.kv, static.weights, static.ks, static.ke, True,  # noqa: E731
                                    static.max_seqlen_k)
    graph, out = capture(fn)
    before = out.clone()
    _copy_case(static, fresh)
    graph.replay()
    torch.cuda.synchronize()
    assert_bitwise_equal(out, fn(), "logits")
    assert not torch.equal(out, before)


def test_twenty_reruns_bitwise_equal() -> None:
    case = make_paged_case(32, 2, 64, 128, 64, avg_context=3000, seed=7, device="cuda")
    meta = dsa.get_paged_mqa_logits_metadata(case.context_lens, 64, 132)
    first = paged_call(case, meta)
    for _ in range(19):
        assert_bitwise_equal(paged_call(case, meta), first, "paged rerun")
    rc = make_ragged_case(512, 4096, 64, 128, cp=True, seed=8, device="cuda")
    first = dsa.fp8_mqa_logits(rc.q, rc.kv, rc.weights, rc.ks, rc.ke, True)
    for _ in range(19):
        assert_bitwise_equal(dsa.fp8_mqa_logits(rc.q, rc.kv, rc.weights, rc.ks, rc.ke, True), first, "ragged rerun")


@pytest.mark.parametrize("next_n", [1, 2])
def test_paged_memory_bound_batch_64_context_128k(record_property, next_n: int) -> None:
    """Temporaries (peak allocation minus inputs and the returned buffer) stay within 256 MiB."""
    batch, context, heads, head_dim, block_kv = 64, 131072, 64, 128, 64
    pages = batch * context // block_kv
    gen = torch.Generator("cuda").manual_seed(9)
    # Random e4m3 values and positive scales, built on the GPU (the full DeepGEMM builder would need 2 GiB of bf16).
    kv = torch.empty(pages, block_kv * (head_dim + 4), dtype=torch.uint8, device="cuda")
    kv[:, : block_kv * head_dim] = (torch.randn(pages, block_kv * head_dim, device="cuda", generator=gen) * 20).to(
        torch.float8_e4m3fn).view(torch.uint8)
    kv[:, block_kv * head_dim :] = (torch.rand(pages, block_kv, device="cuda", generator=gen) + 0.5).view(torch.uint8)
    kv = kv.view(pages, block_kv, 1, head_dim + 4)
    q = torch.randn(batch, next_n, heads, head_dim, device="cuda", generator=gen).to(torch.float8_e4m3fn)
    weights = torch.randn(batch * next_n, heads, device="cuda", generator=gen)
    lens = torch.full((batch, next_n), context, dtype=torch.int32, device="cuda")
    table = torch.randperm(pages, device="cuda", generator=gen).to(torch.int32).view(batch, -1)
    meta = dsa.get_paged_mqa_logits_metadata(lens, block_kv, 132)
    dsa.fp8_paged_mqa_logits(q[:1], kv, weights[:next_n], lens[:1], table[:1], meta, 1024)  # warm-up (cuBLAS handles)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    out = dsa.fp8_paged_mqa_logits(q, kv, weights, lens, table, meta, context)
    torch.cuda.synchronize()
    out_bytes = out.shape[0] * out.stride(0) * out.element_size()
    temporaries = torch.cuda.max_memory_allocated() - base - out_bytes
    record_property("temporaries_mib", round(temporaries / 2**20, 1))
    record_property("output_mib", round(out_bytes / 2**20, 1))
    assert temporaries <= 256 * 2**20
    # spot-check a few rows against the bf16-free dequantized math on one request
    row = 5 * next_n
    k_pages = kv.view(pages, -1)[table[5].long()]
    k = k_pages[:, : block_kv * head_dim].view(torch.float8_e4m3fn).float().view(-1, head_dim)
    s = k_pages[:, block_kv * head_dim :].contiguous().view(torch.float32).reshape(-1)
    exact = ((q[5, 0].double() @ k.double().T).relu() * weights[row].double()[:, None]).sum(0) * s.double()
    assert calc_diff(out[row].double(), exact) < 1e-9
