"""Installed package versions, without importing the packages (or any kernel module)."""

from __future__ import annotations

import importlib.metadata


def installed_version(dist: str) -> tuple[int, ...]:
    """(major, minor) of an installed distribution, e.g. ``installed_version("triton") >= (3, 9)``."""
    return tuple(int(p) for p in importlib.metadata.version(dist).split(".")[:2] if p.isdigit())
