"""Where the SM90 Gluon kernel's time goes: source-patched variants of kernels/paged_sm90.py (results wrong on
purpose, only timed) and launch settings, on the same inputs in one process, the shipped kernel alongside.

    python scripts/diag_sm90.py MODE CASES SPEC [SPEC ...]
    # e.g. bytes 64x65536x2,32x32768x2 full:2,168,3 nodecode:2,168,3 full:2,168,1

CASES: batch x context x next_n. SPEC: VARIANT[+VARIANT...][:AHEAD,MAXNREG,PROGRAMS] (no section: the
table's). Variants (the byte mode's where marked):
- full: the kernel as shipped;
- nodecode (bytes): the key words go to the MMA's fragment without the e4m3 -> fp16 arithmetic (mov only);
- nomma (bytes, next_n 2): no wgmma, the scores are the key operand converted to fp32 (the epilogue still reads
  every value);
- noepi (next_n 2): no ReLU and head weights (a plain head sum and the stores stay).
Prints µs per variant with the compiled kernel's registers and spill stores, and for ``full`` the largest difference
from the first spec's logits on the valid columns (0 where the two compute alike; a check of a new section).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(__file__))

from ab_sm90_entry import use_section  # noqa: E402

import sglang_sm120_dsa as dsa
from sglang_sm120_dsa.testing import benchmark_paged_case
from sglang_sm120_dsa.testing.bench import timed
from sglang_sm120_dsa.testing.families import family_env
from sglang_sm120_dsa.triton import launch
from sglang_sm120_dsa.triton.kernels import paged_sm90

_FAKE = '''

@triton.jit
def _fake_words(word):
    """The words as fp16 pairs, no arithmetic (diagnostics)."""
    return tl.inline_asm_elementwise(
        asm="mov.b32 {$0, $1}, $4; mov.b32 {$2, $3}, $4;",
        constraints="=h,=h,=h,=h,r", args=[word], dtype=(tl.float16, tl.float16, tl.float16, tl.float16),
        is_pure=True, pack=1)


@triton.jit
def _fake_operand(words):
    v0, v1, v2, v3 = _fake_words(words)
    R: tl.constexpr = words.shape[0]
    K: tl.constexpr = 4 * words.shape[1]
    x = tl.join(tl.join(v0, v2), tl.join(v1, v3))
    x = tl.permute(tl.reshape(x, [R, 4, K // 16, 2, 2]), [0, 2, 3, 1, 4])
    return tl.reshape(x, [R, K])
'''

PATCHES = {
    "nodecode": [("fp8_operand(k_smem.index(stage).load(words), MODE_BYTES, True, True)",
                  "_fake_operand(k_smem.index(stage).load(words))")],
    "nomma": [("acc = warpgroup_mma(keys, q_smem.permute((1, 0)), zero, use_acc=False, is_async=True)",
               "acc = gl.convert_layout(keys.to(gl.float32), mma) + zero")],
    "noepi": [("acc = lane_sums(scores, w, R)", "acc = gl.sum(lane_columns(scores, R), axis=2)"),
              ("from .decode import lane_sums\n", "from .decode import lane_columns\nfrom .decode import lane_sums\n")],
}


def variant_kernel(names: list[str]):
    """The Gluon kernel with the patches ``names``, loaded as a module of the kernels package (relative imports)."""
    src = open(paged_sm90.__file__).read()
    for name in names:
        for old, new in PATCHES.get(name, []):
            assert src.count(old) == 1, (name, old)
            src = src.replace(old, new)
    if "nodecode" in names:
        src = src.replace("from __future__ import annotations\n",
                          "from __future__ import annotations\nimport triton\nimport triton.language as tl\n", 1)
        src += _FAKE
    path = os.path.join(tempfile.mkdtemp(), f"diag_{'_'.join(names)}.py")
    open(path, "w").write(src)
    mod_name = f"sglang_sm120_dsa.triton.kernels.diag_{'_'.join(names)}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = mod
    spec.loader.exec_module(mod)
    return mod._dsa_paged_sm90_kernel


class Recorder:
    """Stands in for the kernel in launch: launches it and keeps the compiled kernel (registers, spills)."""

    def __init__(self, kernel):
        self.kernel, self.compiled = kernel, None

    def __getitem__(self, grid):
        def run(*args, **kwargs):
            self.compiled = self.kernel[grid](*args, **kwargs)
            return self.compiled
        return run


def main() -> None:
    mode, cases = sys.argv[1:3]
    specs = sys.argv[3:]
    os.environ.update(family_env("triton", mode))
    kernels = {}
    for case_text in cases.split(","):
        batch, ctx, next_n = map(int, case_text.split("x"))
        case = benchmark_paged_case(batch, ctx, next_n)
        args = (case.q, case.kv_cache, case.weights, case.context_lens, case.block_table)
        meta = dsa.get_paged_mqa_logits_metadata(case.context_lens, 64, dsa.get_num_sms())
        lens = case.context_lens.reshape(-1, 1).to(torch.int64)
        first = None
        for spec in specs:
            names_text, _, section = spec.partition(":")
            names = names_text.split("+")
            if tuple(names) not in kernels:
                kernels[tuple(names)] = Recorder(variant_kernel(names))
            launch._dsa_paged_sm90_kernel = kernels[tuple(names)]
            use_section(section)
            fn = lambda args=args, meta=meta, top=case.max_context_len: dsa.fp8_paged_mqa_logits(  # noqa: E731
                *args, meta, top, False)
            try:
                out = fn()
                out = torch.where(torch.arange(out.shape[1], device="cuda")[None, :] < lens, out, 0)
                if first is None:
                    first = out
                t = timed(fn)[0]
                ck = kernels[tuple(names)].compiled
                extra = (f"regs {getattr(ck, 'n_regs', '?')} spills {getattr(ck, 'n_spills', '?')}" if ck is not None
                         else "tl kernel")
                if names == ["full"]:
                    extra += f"  max |diff| vs first {(out - first).abs().max().item():.3g}"
                print(f"{mode} {case_text} {spec:28s} {t * 1e6:8.1f} us  {extra}", flush=True)
            except Exception as e:  # a variant that does not compile or run: say so, go on
                print(f"{mode} {case_text} {spec:28s} FAILED {type(e).__name__}: {str(e)[:300]}", flush=True)
            kernels[tuple(names)].compiled = None
        del case
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
