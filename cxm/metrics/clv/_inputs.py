"""Checks on the per-customer arrays every model function takes, and the grouping of customers
who share the numbers a formula reads (so each formula runs once per distinct case).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cxm.metrics.clv._errors import ModelError


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def as_array(values, name: str) -> np.ndarray:
    """Return ``values`` as a 1-D float64 array; anything else is a ``bad_input`` error."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ModelError("bad_input", f"{name} must hold numbers") from exc
    if arr.ndim != 1:
        raise ModelError("bad_input", f"{name} must be one value per customer (1-D)")
    return np.ascontiguousarray(arr)


def customers(frequency, recency, T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return frequency, recency and age as float arrays after checking what BG/NBD needs.

    Frequency is a whole number >= 0, 0 <= recency <= T, recency is 0 when frequency is, all
    finite; the message names the first customer (0-based position) that breaks a rule.
    """
    x, tx, age = as_array(frequency, "frequency"), as_array(recency, "recency"), as_array(T, "T")
    if not len(x) == len(tx) == len(age):
        raise ModelError(
            "bad_input",
            f"frequency, recency and T have {len(x)}, {len(tx)} and {len(age)} values; "
            "give one of each per customer",
        )
    checks = [
        (~np.isfinite(x) | ~np.isfinite(tx) | ~np.isfinite(age), "is missing or not finite"),
        ((x < 0) | (x != np.floor(x)), "has a frequency that is not a whole number >= 0"),
        (tx < 0, "has a negative recency"),
        (tx > age, "has a recency above its age T"),
        ((x == 0) & (tx != 0), "has recency above 0 but no repeat purchase"),
    ]
    for bad, what in checks:
        if bad.any():
            i = _first(bad)
            raise ModelError(
                "bad_input",
                f"{int(bad.sum()):,} customer(s) {what}; the first, at position {i}, has "
                f"frequency {x[i]:g}, recency {tx[i]:g}, T {age[i]:g}",
            )
    return x, tx, age


def merged(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Return the distinct rows of ``columns`` and how many customers share each.

    In the order each first appears, so the same customers in the same order give the same
    sums in the likelihood, to the last bit (the fit is then the same on every engine).
    """
    frame = pl.DataFrame({f"c{i}": c for i, c in enumerate(columns)})
    grouped = frame.group_by(frame.columns, maintain_order=True).len()
    cols = [grouped[f"c{i}"].to_numpy() for i in range(len(columns))]
    return [np.ascontiguousarray(c, dtype=np.float64) for c in cols], grouped[
        "len"
    ].to_numpy().astype(np.float64)


def pairs(x: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the distinct (x, T) pairs, in the order each first appears, and, per customer,
    the index of its pair (the same order at every run: the value's dot product with the
    discounts then gives the same last bit at every run)."""
    frame = pl.DataFrame({"x": x, "T": T})
    distinct = frame.unique(maintain_order=True).with_row_index("pair")
    inverse = frame.join(distinct, on=["x", "T"], how="left", maintain_order="left")["pair"]
    return (
        distinct["x"].to_numpy().astype(np.float64),
        distinct["T"].to_numpy().astype(np.float64),
        inverse.to_numpy().astype(np.int64),
    )
