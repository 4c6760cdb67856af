"""Tuning tables, installed as ``sglang_sm120_dsa.configs`` (see README.md here); read with importlib.resources.

The loader and the bucket lookup every kernel family uses: ``configs/<op>/<family>/sm_<arch>.json``; and the
writer the tuning scripts use."""

from __future__ import annotations

import bisect
import json
import logging
import pathlib
from importlib import resources

logger = logging.getLogger("sglang_sm120_dsa")


def load(op: str, family: str, arch: int, missing: str) -> dict:
    """The table of ``op`` for ``family`` on ``arch`` ({} when there is none); logs ``missing`` (a sentence with
    ``{path}``) for a missing table and a warning for one not tuned on this arch. Callers cache the result."""
    path = f"configs/{op}/{family}/sm_{arch}.json"
    try:
        text = resources.files(__name__).joinpath(op, family, f"sm_{arch}.json").read_text()
    except (FileNotFoundError, ModuleNotFoundError):
        logger.warning(missing.format(path=path))
        return {}
    data = json.loads(text)
    if not data.get("_meta", {}).get("tuned", False):
        logger.warning("%s is not tuned on this arch: %s", path, data.get("_meta", {}).get("note", "no note"))
    return data


def pick(buckets: dict | None, tokens: float, default: dict) -> dict:
    """``default`` updated with the entry whose bucket (an upper bound on ``tokens``) is the smallest one >=
    ``tokens``, else the largest; ``default`` alone when there are no buckets."""
    if not buckets:
        return dict(default)
    keys = sorted(buckets, key=float)
    return {**default, **buckets[keys[_index(tuple(map(float, keys)), tokens)]]}


def bucket_bounds(buckets: dict | None) -> tuple[float, ...]:
    """The buckets' keys (upper bounds on tokens, ``"inf"`` included) as floats, ascending; none without buckets:
    what :func:`bucket` chooses among."""
    return tuple(sorted(map(float, buckets))) if buckets else ()


def bucket(bounds: tuple[float, ...], tokens: float) -> float:
    """The bound among ``bounds`` (:func:`bucket_bounds`) whose entry :func:`pick` takes for ``tokens`` (0 when
    there are none): picking with it gives that same entry, so launchers key their caches by it, never by a length."""
    return bounds[_index(bounds, tokens)] if bounds else 0.0


def _index(bounds: tuple[float, ...], tokens: float) -> int:
    """The one rule of both :func:`pick` and :func:`bucket`: the smallest bound >= ``tokens``, else the largest."""
    return min(bisect.bisect_left(bounds, tokens), len(bounds) - 1)


def save(out_dir: pathlib.Path, op: str, family: str, arch: int, table: dict) -> pathlib.Path:
    """Write a tuning script's table as ``<op>__<family>__sm_<arch>.json`` in ``out_dir`` (flat: the GPU machines
    return no nested folders; it ships as ``configs/<op>/<family>/sm_<arch>.json``)."""
    path = out_dir / f"{op}__{family}__sm_{arch}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(table, indent=1) + "\n")
    return path
