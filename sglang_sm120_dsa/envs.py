"""Every environment variable the package reads, in one table.

Read through these accessors only, so that the README table and the code cannot drift apart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["EnvVar", "ENV_VARS", "IMPL"]


@dataclass(frozen=True)
class EnvVar:
    name: str
    default: str
    choices: tuple[str, ...]
    doc: str

    def get(self) -> str:
        """The raw value, stripped and lower-cased; the default when unset or empty. Not validated here:
        the consumer validates, so that its error can say what is available."""
        value = os.environ.get(self.name, "").strip().lower()
        return value or self.default


IMPL = EnvVar(
    "SGLANG_SM120_DSA_IMPL",
    "auto",
    ("auto", "torch", "triton", "tilelang", "deepgemm"),
    "Force one implementation family for every op; `auto` picks per device (see `python -m sglang_sm120_dsa`).",
)

ENV_VARS: tuple[EnvVar, ...] = (IMPL,)
