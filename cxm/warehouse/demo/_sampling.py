"""Small vectorised draws the demo generators share: categories, months, timestamps."""

from __future__ import annotations

import numpy as np
import polars as pl

US_PER_DAY = 86_400_000_000  # microseconds in a day


def categorical(rng: np.random.Generator, probs, n: int) -> np.ndarray:
    """Return ``n`` indexes drawn with the probabilities ``probs`` (which sum to 1)."""
    u = rng.random(n)
    out = np.zeros(n, dtype=np.int64)
    for edge in np.cumsum(probs):  # the index is the number of edges below the draw
        out += u > edge
    return out


def categorical_by_group(
    rng: np.random.Generator, group: np.ndarray, probs: np.ndarray
) -> np.ndarray:
    """Return, for each element, an index drawn from the row of ``probs`` of its group."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(group))
    out = np.zeros(len(group), dtype=np.int8)
    for edge in cum.T:  # the index is the number of the group's edges below the draw
        out += u > edge[group]
    return out


def month_of(days: np.ndarray) -> np.ndarray:
    """Return the month (0 = January) of each day counted from 1970-01-01."""
    if len(days) == 0:
        return np.zeros(0, dtype=np.int64)
    lo = int(days.min())  # a table of the days' span: cheaper than converting every day
    span = np.arange(lo, int(days.max()) + 1).astype("datetime64[D]")
    return (span.astype("datetime64[M]").astype(np.int64) % 12)[days - lo]


def microseconds(day: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Return int64 microseconds since 1970 for a day number and a second of that day."""
    return day.astype(np.int64) * US_PER_DAY + seconds * 1_000_000


def as_datetime(us: np.ndarray) -> pl.Series:
    """Return microseconds since 1970 as a Polars datetime column."""
    return pl.Series(us).cast(pl.Datetime("us"))
