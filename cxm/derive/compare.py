"""Whether two sets of derived tables are equal: the parity of DuckDB and Spark.

Equal means the same columns and types, the same row count, the same rows by every column
that is not a DOUBLE (the keys), and in each row doubles within a relative 1e-12 (the sums
of doubles run in another order on another engine), lists element by element. ``clv_fits``
keeps parameters as JSON text: its numbers are compared as numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl

REL = 1e-12


def read_dir(folder: str | Path, tables) -> dict[str, pl.DataFrame]:
    """Return each of ``tables`` that `cxm derive` wrote to ``folder``."""
    folder = Path(folder)
    return {t: pl.read_parquet(folder / t / "*.parquet") for t in tables if (folder / t).exists()}


def read_warehouse(path: str | Path, tables) -> dict[str, pl.DataFrame]:
    """Return each of ``tables`` as a load derived it into the warehouse at ``path``."""
    with duckdb.connect(str(path), read_only=True) as con:
        # Table names are the declared DERIVED, never user text.
        return {t: con.sql(f"SELECT * FROM {t}").pl() for t in tables}


def _numbers(text: str) -> dict:
    return json.loads(text) if text else {}


def differences(
    a: dict[str, pl.DataFrame], b: dict[str, pl.DataFrame], rel: float = REL
) -> list[str]:
    """Return every difference between the tables of ``a`` and ``b``, in words (none: equal)."""
    out = []
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            out.append(f"{name}: only in {'the first' if name in a else 'the second'}")
            continue
        x, y = a[name], b[name]
        if x.schema != y.schema:
            out.append(f"{name}: columns {dict(x.schema)} against {dict(y.schema)}")
            if x.columns != y.columns:
                continue
            y = y.cast(dict(x.schema))  # the values too, where the types differ

        if x.height != y.height:
            out.append(f"{name}: {x.height:,} rows against {y.height:,}")
            continue
        floats = [c for c, t in x.schema.items() if t == pl.Float64]
        jsons = [c for c in ("parameters", "standard_errors") if name == "clv_fits"]
        keys = [c for c in x.columns if c not in floats and c not in jsons]
        sortable = [c for c in keys if not isinstance(x.schema[c], pl.List)]
        x, y = x.sort(sortable, nulls_last=True), y.sort(sortable, nulls_last=True)
        for c in keys:
            bad = (x[c] != y[c]) | (x[c].is_null() != y[c].is_null())
            if isinstance(x.schema[c], pl.List):
                bad = pl.Series(
                    [p != q for p, q in zip(x[c].to_list(), y[c].to_list(), strict=True)]
                )
            bad = bad.fill_null(False)
            if bad.any():
                i = int(bad.arg_max())
                out.append(
                    f"{name}.{c}: {int(bad.sum()):,} rows differ, e.g. {_py(x[c][i])!r} against "
                    f"{_py(y[c][i])!r} (row {x.select(sortable).row(i)})"
                )
        for c in floats:
            p, q = x[c].to_numpy(), y[c].to_numpy()
            out += _close(f"{name}.{c}", p, q, rel)
        for c in jsons:
            for i, (p, q) in enumerate(zip(x[c].to_list(), y[c].to_list(), strict=True)):
                dp, dq = _numbers(p), _numbers(q)
                if dp.keys() != dq.keys():
                    out.append(f"{name}.{c} row {i}: {p} against {q}")
                    continue
                for k in dp:
                    out += _close(f"{name}.{c}.{k} row {i}", [dp[k]], [dq[k]], rel)
    return out


def _py(v):
    return v.to_list() if isinstance(v, pl.Series) else v


def _close(what: str, p, q, rel: float) -> list[str]:
    import numpy as np

    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    both_nan = np.isnan(p) & np.isnan(q)
    diff = np.abs(p - q)
    scale = np.maximum(np.abs(p), np.abs(q))
    bad = ~both_nan & ~(diff <= rel * scale) & ~(p == q)
    if not bad.any():
        return []
    i = int(np.argmax(bad))
    worst = float(np.nanmax(np.where(bad, diff / np.where(scale > 0, scale, 1), 0)))
    return [
        f"{what}: {int(bad.sum()):,} values differ (worst relative {worst:.3g}), e.g. "
        f"{float(p[i])!r} against {float(q[i])!r}"
    ]
