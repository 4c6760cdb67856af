"""Test inputs, metrics and an independent float64 oracle, shared by the tests, benchmarks and users."""

from __future__ import annotations

from . import cases
from . import naive
from . import numeric
from . import quant
from .cases import *  # noqa: F403
from .naive import *  # noqa: F403
from .numeric import *  # noqa: F403
from .quant import *  # noqa: F403

# Each submodule lists its public names once, in its own __all__.
__all__ = [*cases.__all__, *naive.__all__, *numeric.__all__, *quant.__all__]
