"""Every argument check of the public API: one bad argument at a time, from a valid baseline.

Each error names the function, the argument, what was expected and what was given, and is raised before any
implementation is chosen (so nothing is computed on a wrong input).
"""

from __future__ import annotations

import pytest
import torch

import sglang_sm120_dsa as dsa
from sglang_sm120_dsa import _checks
from sglang_sm120_dsa import dispatch
from sglang_sm120_dsa.errors import IndexerArgumentError
from sglang_sm120_dsa.testing import make_paged_case
from sglang_sm120_dsa.testing import make_ragged_case

META = torch.device("meta")


@pytest.fixture(autouse=True)
def no_dispatch_on_bad_input(monkeypatch):
    """Validation must fail before an implementation is resolved."""
    real = dispatch.resolve
    state = {"allow": False}

    def guarded(op, device):
        if not state["allow"]:
            raise AssertionError(f"{op} reached dispatch with a bad argument")
        return real(op, device)

    monkeypatch.setattr(dispatch, "resolve", guarded)
    _checks.forget_passed()
    yield state
    _checks.forget_passed()


def strided(t: torch.Tensor) -> torch.Tensor:
    """Same values, non-contiguous."""
    return torch.stack((t, t), dim=-1)[..., 0]


# ---------------------------------------------------------------------------------------------- paged ---

PAGED = make_paged_case(2, 2, 32, 128, 64, context_lens=[70, 130], seed=0)
PAGED_FP4 = make_paged_case(2, 2, 32, 128, 64, context_lens=[70, 130], fp4=True, seed=0)
PAGED_META = torch.zeros(5, 2, dtype=torch.int32)


def paged_args(case=PAGED, **changes) -> dict:
    args = dict(q=case.q, kv_cache=case.kv_cache, weights=case.weights, context_lens=case.context_lens,
                block_table=case.block_table, schedule_meta=PAGED_META, max_context_len=130)
    args.update(changes)
    return args


def misaligned_cache() -> torch.Tensor:
    kv = PAGED.kv_cache
    flat = torch.zeros(kv.numel() + 16, dtype=torch.uint8)
    return flat[8 : 8 + kv.numel()].view(kv.shape)


def padded_stride_cache(pad: int) -> torch.Tensor:
    nb, bkv, _, row = PAGED.kv_cache.shape
    return torch.zeros(nb, bkv * row + pad, dtype=torch.uint8)[:, : bkv * row].view(nb, bkv, 1, row)


PAGED_ERRORS = [
    ("q not a tensor", dict(q=[1, 2]), r"q must be float8_e4m3fn \[batch, next_n, num_heads, head_dim\], got list of 2 \(int 1, int 2\)"),
    ("q bf16", dict(q=PAGED.q_bf16), r"q must be float8_e4m3fn \[batch, next_n, num_heads, head_dim\], got bfloat16 \[2, 2, 32, 128\]"),
    ("q 3-D", dict(q=PAGED.q[0]), r"q must be float8_e4m3fn .* got float8_e4m3fn \[2, 32, 128\]"),
    ("q strided", dict(q=strided(PAGED.q)), r"q must be contiguous, got float8_e4m3fn \[2, 2, 32, 128\] with strides"),
    ("q fp4 in fp8 op", dict(q=PAGED_FP4.q), r"q must be float8_e4m3fn .* got tuple of 2"),
    ("heads 48", dict(q=torch.zeros(2, 2, 48, 128).to(torch.float8_e4m3fn), weights=torch.zeros(4, 48)),
     r"num_heads must be one of \(8, 16, 32, 64, 128\), got 48"),
    ("next_n 9", dict(q=torch.zeros(2, 9, 32, 128).to(torch.float8_e4m3fn)), r"next_n \(q.shape\[1\]\) must be one of \(1, .*8\), got 9"),
    ("head_dim 96", dict(q=torch.zeros(2, 2, 32, 96).to(torch.float8_e4m3fn)), r"head_dim must be one of \(64, 128\), got 96"),
    ("kv fp16", dict(kv_cache=torch.zeros(128, 64, 1, 132, dtype=torch.float16)),
     r"fp8_paged_mqa_logits: kv_cache must be uint8 \[num_blocks, block_kv, 1, head_dim \+ 4\] \(last dim 132 for head_dim 128\), got float16 \[128, 64, 1, 132\]"),
    ("kv wrong row bytes", dict(kv_cache=torch.zeros(4, 64, 1, 68, dtype=torch.uint8)), r"kv_cache must be uint8 .*got uint8 \[4, 64, 1, 68\]"),
    ("kv 3-D", dict(kv_cache=torch.zeros(4, 64, 132, dtype=torch.uint8)), r"kv_cache must be uint8 .*got uint8 \[4, 64, 132\]"),
    ("block_kv 16", dict(kv_cache=torch.zeros(4, 16, 1, 132, dtype=torch.uint8)), r"block_kv \(kv_cache.shape\[1\]\) must be one of \(32, 64, 128\), got 16"),
    ("no pages", dict(kv_cache=torch.zeros(0, 64, 1, 132, dtype=torch.uint8)), r"kv_cache must be at least one page, got uint8 \[0, 64, 1, 132\]"),
    ("kv token stride", dict(kv_cache=strided(PAGED.kv_cache)), r"kv_cache must be pages of 8448 contiguous bytes .* got uint8 \[\d+, 64, 1, 132\] with strides"),
    ("kv page stride not 16-aligned", dict(kv_cache=padded_stride_cache(4)), r"kv_cache must be pages of 8448 contiguous bytes .*strides \(8452,"),
    ("kv misaligned", dict(kv_cache=misaligned_cache()), r"kv_cache must be pages .* at byte offset \d+ mod 256"),
    ("weights bf16", dict(weights=PAGED.weights.bfloat16()), r"weights must be float32 \[batch \* next_n, num_heads\] = \[4, 32\], got bfloat16 \[4, 32\]"),
    ("weights shape", dict(weights=PAGED.weights[:3]), r"weights must be float32 .* got float32 \[3, 32\]"),
    ("weights column stride", dict(weights=strided(PAGED.weights)), r"weights must be a tensor with stride\(-1\) == 1, got float32 \[4, 32\] with strides \(64, 2\)"),
    ("lens int64", dict(context_lens=PAGED.context_lens.long()), r"context_lens must be int32 \[batch\] or \[batch, next_n\] = \[2\] or \[2, 2\], got int64 \[2, 2\]"),
    ("lens batch", dict(context_lens=torch.zeros(3, dtype=torch.int32)), r"context_lens must be int32 .* got int32 \[3\]"),
    ("lens next_n", dict(context_lens=torch.zeros(2, 3, dtype=torch.int32)), r"context_lens must be int32 .* got int32 \[2, 3\]"),
    ("lens strided", dict(context_lens=strided(PAGED.context_lens)), r"context_lens must be contiguous"),
    ("table int64", dict(block_table=PAGED.block_table.long()), r"block_table must be int32 \[batch, max_blocks\] with batch 2, got int64"),
    ("table batch", dict(block_table=PAGED.block_table[:1]), r"block_table must be int32 .* got int32 \[1, \d+\]"),
    ("table column stride", dict(block_table=strided(PAGED.block_table)), r"block_table must be a tensor with stride\(-1\) == 1"),
    ("meta int64", dict(schedule_meta=PAGED_META.long()), r"schedule_meta must be int32 \[num_sms \+ 1, 2\] from get_paged_mqa_logits_metadata, got int64 \[5, 2\]"),
    ("meta 3 columns", dict(schedule_meta=torch.zeros(5, 3, dtype=torch.int32)), r"schedule_meta must be int32 .*got int32 \[5, 3\]"),
    ("meta one row", dict(schedule_meta=torch.zeros(1, 2, dtype=torch.int32)), r"schedule_meta must be int32 \[num_sms \+ 1, 2\] with num_sms >= 1, got int32 \[1, 2\]"),
    ("meta strided", dict(schedule_meta=torch.zeros(2, 5, dtype=torch.int32).T[:, :2]), r"schedule_meta must be contiguous"),
    ("width negative", dict(max_context_len=-1), r"max_context_len must be an int >= 0, got -1"),
    ("width float", dict(max_context_len=130.0), r"max_context_len must be an int >= 0, got float 130.0"),
    ("width tensor", dict(max_context_len=torch.tensor(130)), r"max_context_len must be an int >= 0, got int64 \[\]"),
    ("width bool", dict(max_context_len=True), r"max_context_len must be an int >= 0, got bool True"),
    ("clean int", dict(clean_logits=1), r"clean_logits must be a bool, got int 1"),
    ("indices with next_n 2", dict(indices=torch.zeros(2, dtype=torch.int32)), r"indices must be None when next_n > 1 .* got indices with next_n = 2"),
    ("weights on another device", dict(weights=PAGED.weights.to(META)), r"weights must be on cpu like the other tensors, got a tensor on meta"),
]


def passed_before(state, case=PAGED) -> None:
    """Run the valid baseline first, so that its signature is in the paged checks' memo."""
    state["allow"] = True
    fn = dsa.fp8_fp4_paged_mqa_logits if case is PAGED_FP4 else dsa.fp8_paged_mqa_logits
    fn(**paged_args(case))
    state["allow"] = False


# (every paged error also after the valid baseline passed: a memo hit must not let a change through)
@pytest.mark.parametrize("after_valid", [False, True])
@pytest.mark.parametrize("name,changes,message", PAGED_ERRORS, ids=[e[0] for e in PAGED_ERRORS])
def test_fp8_paged_errors(no_dispatch_on_bad_input, name, changes, message, after_valid) -> None:
    if after_valid:
        passed_before(no_dispatch_on_bad_input)
    with pytest.raises(IndexerArgumentError, match="^fp8_paged_mqa_logits: " + message.removeprefix("fp8_paged_mqa_logits: ")):
        dsa.fp8_paged_mqa_logits(**paged_args(**changes))


FP4_Q, FP4_SF = PAGED_FP4.q
FP4_ERRORS = [
    ("tuple of 3", dict(q=(FP4_Q, FP4_SF, FP4_SF)), r"q must be a tensor or a \(q, q_sf\) pair, got tuple of 3"),
    ("fp4 without q_sf", dict(q=FP4_Q), r"q_sf must be int32 \[batch, next_n, num_heads\] \(four ue8m0 bytes per head\) for FP4 q, got None"),
    ("q_sf wrong shape", dict(q=(FP4_Q, FP4_SF[:, :1])), r"q_sf must be int32 .*got int32 \[2, 1, 32\]"),
    ("q_sf float", dict(q=(FP4_Q, FP4_SF.float())), r"q_sf must be int32 .*got float32 \[2, 2, 32\]"),
    ("mxfp8", dict(q=(PAGED.q, FP4_SF)), r"q_sf must be None with float8_e4m3fn q \(MXFP8 q is not supported; FP4 q is int8\), got int32"),
    ("fp4 head_dim 32", dict(q=(FP4_Q[..., :16].contiguous(), FP4_SF)), r"head_dim must be one of \(64, 128\) for FP4, got 32"),
    ("fp4 q with fp8 cache", dict(kv_cache=PAGED.kv_cache), r"kv_cache must be uint8 \[num_blocks, block_kv, 1, head_dim / 2 \+ 4\] \(last dim 68 for head_dim 128\), got uint8 \[\d+, 64, 1, 132\]"),
    ("logits fp16", dict(logits_dtype=torch.float16), r"logits_dtype must be torch.float32 or torch.bfloat16, got dtype torch.float16"),
    ("q_sf on another device", dict(q=(FP4_Q, FP4_SF.to(META))), r"q_sf must be on cpu like the other tensors, got a tensor on meta"),
]


@pytest.mark.parametrize("after_valid", [False, True])
@pytest.mark.parametrize("name,changes,message", FP4_ERRORS, ids=[e[0] for e in FP4_ERRORS])
def test_fp8_fp4_paged_errors(no_dispatch_on_bad_input, name, changes, message, after_valid) -> None:
    if after_valid:
        passed_before(no_dispatch_on_bad_input, PAGED_FP4)
    with pytest.raises(IndexerArgumentError, match="^fp8_fp4_paged_mqa_logits: " + message):
        dsa.fp8_fp4_paged_mqa_logits(**paged_args(PAGED_FP4, **changes))


def test_valid_baselines_pass(no_dispatch_on_bad_input) -> None:
    """The baselines the error tests start from are valid, so each error comes from the one change."""
    no_dispatch_on_bad_input["allow"] = True
    dsa.fp8_paged_mqa_logits(**paged_args())
    dsa.fp8_fp4_paged_mqa_logits(**paged_args(PAGED_FP4))
    dsa.fp8_fp4_paged_mqa_logits(**paged_args(q=(PAGED.q, None)))  # FP8 given as a pair
    dsa.fp8_mqa_logits(*ragged_args().values())
    dsa.fp8_fp4_mqa_logits(*ragged_args(RAGGED_FP4).values())
    dsa.get_paged_mqa_logits_metadata(PAGED.context_lens, 64, 4)


@pytest.mark.parametrize("case,q", [(PAGED, PAGED.q), (PAGED_FP4, PAGED_FP4.q), (PAGED, (PAGED.q, None))],
                         ids=["fp8", "fp4", "fp8 pair"])
def test_paged_memo_gives_the_full_checks_call(case, q) -> None:
    """A memo hit builds the call the full checks build (same tensors, same sizes), checks max_context_len, which
    it does not key, on every call, and keys the flags by type (clean_logits=1 equals True as a dict key)."""
    fn = "fp8_fp4_paged_mqa_logits" if case is PAGED_FP4 or isinstance(q, tuple) else "fp8_paged_mqa_logits"
    args = [q, case.kv_cache, case.weights, case.context_lens, case.block_table, PAGED_META, 130, True, torch.float32,
            None, fn != "fp8_paged_mqa_logits"]
    full = _checks._check_paged(fn, *args)
    assert not _checks._PAGED_PASSED
    first = _checks.check_paged(fn, *args)
    assert len(_checks._PAGED_PASSED) == 1
    hit = _checks.check_paged(fn, *args)
    for call in (first, hit):
        assert all(a is b if isinstance(a, torch.Tensor) else a == b and type(a) is type(b)
                   for a, b in zip(call, full, strict=True))
    assert _checks.check_paged(fn, *args[:6], 4096, *args[7:]).width == 4096  # a hit with another width
    assert len(_checks._PAGED_PASSED) == 1
    for width in (-1, 130.0, True):
        with pytest.raises(IndexerArgumentError, match="max_context_len must be an int >= 0"):
            _checks.check_paged(fn, *args[:6], width, *args[7:])
    with pytest.raises(IndexerArgumentError, match="clean_logits must be a bool, got int 1"):
        _checks.check_paged(fn, *args[:7], 1, *args[8:])


def test_paged_memo_is_bounded(monkeypatch) -> None:
    monkeypatch.setattr(_checks, "_PASSED_MAX", 3)
    for width in range(1, 6):  # max_context_len is not keyed: other block tables make other signatures
        table = torch.zeros(2, width, dtype=torch.int32)
        _checks.check_paged("fp8_paged_mqa_logits", PAGED.q, PAGED.kv_cache, PAGED.weights, PAGED.context_lens,
                            table, PAGED_META, 130, True, torch.float32, None, False)
        assert len(_checks._PAGED_PASSED) <= 3


# --------------------------------------------------------------------------------------------- ragged ---

RAGGED = make_ragged_case(6, 20, 16, 64, seed=0)
RAGGED_FP4 = make_ragged_case(6, 20, 16, 64, fp4=True, seed=0)


def ragged_args(case=RAGGED, **changes) -> dict:
    args = dict(q=case.q, kv=case.kv, weights=case.weights, ks=case.ks, ke=case.ke)
    args.update(changes)
    return args


RAGGED_ERRORS = [
    ("q bf16", dict(q=RAGGED.q_bf16), r"q must be float8_e4m3fn \[seq_len, num_heads, head_dim\], got bfloat16 \[6, 16, 64\]"),
    ("head_dim 16", dict(q=torch.zeros(6, 16, 16).to(torch.float8_e4m3fn)), r"head_dim must be one of \(32, 64, 128\), got 16"),
    ("bare kv tensor", dict(kv=RAGGED.kv[0]), r"kv must be a \(values, scales\) pair: \(float8_e4m3fn \[seq_len_kv, head_dim\], float32 \[seq_len_kv\]\), got float8_e4m3fn \[20, 64\]"),
    ("kv values bf16", dict(kv=(RAGGED.kv_bf16, RAGGED.kv[1])), r"kv\[0\] must be float8_e4m3fn \[seq_len_kv, 64\] \(FP8, like q\), got bfloat16 \[20, 64\]"),
    ("kv head_dim", dict(kv=(RAGGED.kv[0][:, :32].contiguous(), RAGGED.kv[1])), r"kv\[0\] must be float8_e4m3fn \[seq_len_kv, 64\]"),
    ("kv scales length", dict(kv=(RAGGED.kv[0], RAGGED.kv[1][:5])), r"kv\[1\] must be float32 \[20\], got float32 \[5\]"),
    ("kv values strided", dict(kv=(strided(RAGGED.kv[0]), RAGGED.kv[1])), r"kv\[0\] must be contiguous"),
    ("weights shape", dict(weights=RAGGED.weights[:, :8]), r"weights must be float32 \[seq_len, num_heads\] = \[6, 16\], got float32 \[6, 8\]"),
    ("ks int64", dict(ks=RAGGED.ks.long()), r"cu_seq_len_k_start must be int32 \[seq_len\] = \[6\], got int64 \[6\]"),
    ("ke length", dict(ke=RAGGED.ke[:2]), r"cu_seq_len_k_end must be int32 \[seq_len\] = \[6\], got int32 \[2\]"),
    ("ke strided", dict(ke=strided(RAGGED.ke)), r"cu_seq_len_k_end must be contiguous"),
    ("clean none", dict(clean_logits=None), r"clean_logits must be a bool, got None"),
    ("max_seqlen_k negative", dict(max_seqlen_k=-2), r"max_seqlen_k must be an int >= 0, got -2"),
    ("ks on another device", dict(ks=RAGGED.ks.to(META)), r"cu_seq_len_k_start must be on cpu like the other tensors"),
]


@pytest.mark.parametrize("name,changes,message", RAGGED_ERRORS, ids=[e[0] for e in RAGGED_ERRORS])
def test_fp8_ragged_errors(name, changes, message) -> None:
    with pytest.raises(IndexerArgumentError, match="^fp8_mqa_logits: " + message):
        dsa.fp8_mqa_logits(**ragged_args(**changes))


RQ, RSF = RAGGED_FP4.q
RAGGED_FP4_ERRORS = [
    ("fp4 q with fp8 kv", dict(kv=RAGGED.kv), r"kv\[0\] must be int8 \[seq_len_kv, 32\] \(FP4, like q\), got float8_e4m3fn \[20, 64\]"),
    ("fp4 kv scales float", dict(kv=(RAGGED_FP4.kv[0], RAGGED.kv[1])), r"kv\[1\] must be int32 \[20\] \(four ue8m0 bytes per token\), got float32 \[20\]"),
    ("fp8 q with fp4 kv", dict(q=RAGGED.q), r"kv\[0\] must be float8_e4m3fn \[seq_len_kv, 64\] \(FP8, like q\), got int8 \[20, 32\]"),
    ("bare fp4 kv", dict(kv=RAGGED_FP4.kv[0]), r"kv must be a \(values, scales\) pair: \(int8 \[seq_len_kv, head_dim / 2\], int32 \[seq_len_kv\]\) for FP4 q"),
    ("q_sf missing", dict(q=RQ), r"q_sf must be int32 \[seq_len, num_heads\]"),
    ("logits int", dict(logits_dtype=torch.int32), r"logits_dtype must be torch.float32 or torch.bfloat16, got dtype torch.int32"),
    ("schedule_meta given", dict(schedule_meta=torch.zeros(3, dtype=torch.int32)), r"schedule_meta must be None \(ragged scheduling metadata is a DeepGEMM SM100 feature; not needed here\), got int32 \[3\]"),
]


@pytest.mark.parametrize("name,changes,message", RAGGED_FP4_ERRORS, ids=[e[0] for e in RAGGED_FP4_ERRORS])
def test_fp8_fp4_ragged_errors(name, changes, message) -> None:
    args = ragged_args(RAGGED_FP4, **changes)
    args["cu_seq_len_k_start"], args["cu_seq_len_k_end"] = args.pop("ks"), args.pop("ke")
    with pytest.raises(IndexerArgumentError, match="^fp8_fp4_mqa_logits: " + message):
        dsa.fp8_fp4_mqa_logits(**args)


# ------------------------------------------------------------------------------------------- metadata ---

LENS = torch.tensor([[3, 5], [0, 9]], dtype=torch.int32)
METADATA_ERRORS = [
    ("lens list", dict(context_lens=[3, 5]), r"context_lens must be int32 \[batch\] or \[batch, next_n\], got list"),
    ("lens 3-D", dict(context_lens=LENS[None]), r"context_lens must be int32 \[batch\] or \[batch, next_n\], got int32 \[1, 2, 2\]"),
    ("lens float", dict(context_lens=LENS.float()), r"context_lens must be int32 \[batch\] or \[batch, next_n\], got float32 \[2, 2\]"),
    ("lens strided", dict(context_lens=strided(LENS)), r"context_lens must be contiguous"),
    ("next_n 9", dict(context_lens=torch.zeros(2, 9, dtype=torch.int32)), r"context_lens.shape\[1\] \(next_n\) must be one of \(1, .*8\), got 9"),
    ("block_kv 16", dict(block_kv=16), r"block_kv must be one of \(32, 64, 128\), got 16"),
    ("block_kv str", dict(block_kv="64"), r"block_kv must be an int >= 1, got str '64'"),
    ("num_sms 0", dict(num_sms=0), r"num_sms must be an int >= 1, got 0"),
    ("indices with next_n 2", dict(indices=torch.zeros(2, dtype=torch.int32)), r"indices must be None when next_n > 1"),
    ("indices int64", dict(context_lens=LENS[:, 0].contiguous(), indices=torch.zeros(2, dtype=torch.int64)),
     r"indices must be None or int32 \[batch\] = \[2\], got int64 \[2\]"),
    ("indices on another device", dict(context_lens=LENS[:, 0].contiguous(), indices=torch.zeros(2, dtype=torch.int32, device=META)),
     r"indices must be on cpu like the other tensors, got a tensor on meta"),
]


@pytest.mark.parametrize("name,changes,message", METADATA_ERRORS, ids=[e[0] for e in METADATA_ERRORS])
def test_metadata_errors(name, changes, message) -> None:
    args = dict(context_lens=LENS, block_kv=64, num_sms=4)
    args.update(changes)
    with pytest.raises(IndexerArgumentError, match="^get_paged_mqa_logits_metadata: " + message):
        dsa.get_paged_mqa_logits_metadata(**args)


def test_errors_are_value_errors() -> None:
    """Callers that catch DeepGEMM-style assertion failures as ValueError/RuntimeError keep working."""
    assert issubclass(IndexerArgumentError, ValueError)


def test_set_num_sms_validation() -> None:
    for bad in (0, -3, 2.5, True, "8"):
        with pytest.raises(IndexerArgumentError, match=r"^set_num_sms: num_sms must be a positive int"):
            dsa.set_num_sms(bad)
