"""Stable 64-bit keys that break ties between sellers fairly: never by storage order.

When a capped action has more takers with equal scores than it has first slots, who keeps it
is decided by a hash of the seller's id and the action's id, seeded with the catalog version:
an order unrelated to markets, ranks or the table's row order, the same on every machine and
in every scenario of one catalog version (so comparing two scenarios shows only what their
weights change, not a reshuffle of the ties). FNV-1a over the UTF-8 bytes, then the
SplitMix64 finaliser to spread the bits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba as nb
import numpy as np
import polars as pl

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_MASK = (1 << 64) - 1


@nb.njit(inline="always")
def mix(x):
    """SplitMix64's finaliser: every input bit moves about half the output bits."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@nb.njit(cache=True)
def _fnv(data, ends, start, out):
    lo = 0
    for i in range(ends.shape[0]):
        h = start
        for j in range(lo, ends[i]):
            h = (h ^ np.uint64(data[j])) * _FNV_PRIME
        out[i] = mix(h)
        lo = ends[i]


def keys(texts: Sequence[str] | pl.Series, *, seed: str) -> np.ndarray:
    """Return one uint64 key per text: a stable hash of ``seed`` and the text.

    Examples
    --------
    The same text and seed give the same key; another seed another one.

    >>> a, b = keys(["S01", "S01"], seed="2026.4"), keys(["S01"], seed="2026.5")
    >>> bool(a[0] == a[1]), bool(a[0] == b[0])
    (True, False)
    """
    series = texts if isinstance(texts, pl.Series) else pl.Series(list(texts), dtype=pl.String)
    out = np.empty(series.len(), np.uint64)
    if series.len() == 0:
        return out
    data = np.frombuffer("".join(series.to_list()).encode("utf-8"), np.uint8)
    ends = series.str.len_bytes().cum_sum().to_numpy().astype(np.int64)
    start = int(_FNV_OFFSET)
    for byte in (seed + "\x1f").encode("utf-8"):
        start = ((start ^ byte) * int(_FNV_PRIME)) & _MASK
    _fnv(data, ends, np.uint64(start), out)
    return out


def default_keys(n: int, salt: int) -> np.ndarray:
    """Keys for rows 0..n-1 when no ids are at hand (a hash of the row, not the row)."""
    offset = np.uint64((salt * 0x9E3779B97F4A7C15) & _MASK)
    return _mix_all(np.arange(n, dtype=np.uint64) + offset)


@nb.njit(cache=True)
def _mix_all(x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = mix(x[i])
    return out
