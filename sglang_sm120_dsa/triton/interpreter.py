"""Make Triton's CPU interpreter (``TRITON_INTERPRET=1``) compute what the GPU computes for these kernels.

Triton 3.9's interpreter keeps bf16 values as raw uint16 and multiplies those integers in ``tl.dot``
(``InterpreterBuilder.create_dot``), so every bf16 dot (the MXFP4 path) is garbage on CPU. Widening bf16
operands to fp32 first is exact, matches the GPU's bf16 MMA (exact products, fp32 accumulation), and stays
correct if Triton fixes this. Applied only when the Triton family is loaded under the interpreter.
"""

from __future__ import annotations

import functools

import triton.language as tl

from .._versions import installed_version


def unsupported_reason() -> str | None:
    """Why this Triton interpreter cannot run the kernels, or None. Triton <= 3.8's interpreter turns a kernel's
    runtime ints into 1-element arrays and calls ``int()`` on them, which numpy >= 2.5 refuses (3.9 squeezes)."""
    triton_v, numpy_v = installed_version("triton"), installed_version("numpy")
    if triton_v < (3, 9) and numpy_v >= (2, 5):
        return (f"the Triton {'.'.join(map(str, triton_v))} interpreter cannot run these kernels with numpy "
                f"{'.'.join(map(str, numpy_v))} (needs triton >= 3.9 or numpy < 2.5)")
    return None


@functools.cache  # patch once
def patch_bf16_dot() -> None:
    import numpy as np
    from triton.runtime import interpreter

    original = interpreter.InterpreterBuilder.create_dot

    def create_dot(self, a, b, d, input_precision, max_num_imprecise_acc):
        def widen(x):
            if x.dtype.scalar != tl.bfloat16:
                return x
            return interpreter.TensorHandle((x.data.astype(np.uint32) << 16).view(np.float32), tl.float32)

        return original(self, widen(a), widen(b), d, input_precision, max_num_imprecise_acc)

    interpreter.InterpreterBuilder.create_dot = create_dot
