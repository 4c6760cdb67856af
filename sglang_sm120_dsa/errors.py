"""Exception types raised by the public API.

Both derive from the built-in type a caller would catch anyway (``ValueError`` for bad arguments,
``RuntimeError`` for "cannot run this here"), so code written against DeepGEMM's assertions keeps working.
"""

from __future__ import annotations

import torch

__all__ = ["IndexerArgumentError", "ImplementationError", "UnsupportedCall", "describe"]


class IndexerArgumentError(ValueError):
    """An argument has the wrong type, dtype, shape, stride or device, or the combination is unsupported.

    Raised before anything is computed. The message names the function, the argument, what was expected and
    what was given.
    """


class ImplementationError(RuntimeError):
    """No implementation can serve the call: a bad ``SGLANG_SM120_DSA_IMPL``, a missing package, a GPU the
    requested implementation does not support."""


class UnsupportedCall(ImplementationError):
    """A valid call outside the limits of the family that serves it (DeepGEMM's heads, next_n, MXFP4 on SM90);
    the message names the limit and the family that takes the whole contract."""


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def describe(x: object) -> str:
    """Short description of an argument for error messages: ``float16 [128, 64, 1, 132]``."""
    if isinstance(x, torch.Tensor):
        return f"{dtype_name(x.dtype)} {list(x.shape)}"
    if x is None:
        return "None"
    if isinstance(x, (tuple, list)):
        return f"{type(x).__name__} of {len(x)} ({', '.join(describe(e) for e in x)})"
    return f"{type(x).__name__} {x!r}"
