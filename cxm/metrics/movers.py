"""The segments whose KPIs moved beyond noise since the compared period, strongest evidence first.

Every segment x KPI change on the page is tested (`stats.change_test`, in the report's
``change_p``); the false discovery rate is controlled across all of them at once
(Benjamini-Hochberg, `stats.benjamini_hochberg`). Segments under the company's minimum n are
not tested, so they never lead. Wording lives in `cxm.ui.tiles`; this module holds no text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from cxm.metrics import stats

#: The columns of `Moved.rows`, besides the segment's own ``dimension`` and ``segment``.
COLUMNS = ("kpi_id", "value", "previous", "change", "n", "company", "change_p", "q")


@dataclass(frozen=True)
class Moved:
    """What `moved` found: the changes beyond noise, and how many were looked at.

    ``rows``: dimension, segment, kpi_id, value, previous, change, n, company, change_p and
    q (the Benjamini-Hochberg q-value), strongest evidence first, at most ``limit``.
    ``tested``: the segment x KPI changes tested; ``beyond``: how many passed (may exceed
    the rows shown); ``min_n``: the smallest n a segment needed to be tested.
    """

    rows: pl.DataFrame
    tested: int
    beyond: int
    min_n: int
    fdr: float = stats.ALPHA


def moved(
    reports: Mapping[str, pl.DataFrame],
    *,
    min_n: int,
    limit: int = 3,
    fdr: float = stats.ALPHA,
) -> Moved:
    """Return the changes beyond noise across every segment of ``reports`` (dimension -> rows).

    A change is tested when the segment has n >= ``min_n`` in both periods (``previous_n``,
    when the rows carry it) and both have an interval (a known ``change_p``); it is beyond
    noise when its Benjamini-Hochberg q-value across all tested changes is under ``fdr``.
    Ordered by q, then p, then the larger n.

    Examples
    --------
    Three changes tested: p = 0.001, 0.04 and 0.5 -> q = 0.003, 0.06, 0.5; only the first
    passes. BR's n of 8 is under the minimum 10, so its p of 0.0001 is not tested at all.

    >>> r = pl.DataFrame({"market": ["US", "MX", "CA", "BR"], "kpi_id": ["active_rate"] * 4,
    ...     "value": [0.25, 0.22, 0.2, 0.9], "previous": [0.2, 0.2, 0.21, 0.1],
    ...     "change": [0.05, 0.02, -0.01, 0.8], "n": [900, 400, 300, 8], "company": [0.2] * 4,
    ...     "change_p": [0.001, 0.04, 0.5, 0.0001]})
    >>> m = moved({"market": r}, min_n=10)
    >>> m.rows["segment"].to_list(), m.tested, m.beyond
    (['US'], 3, 1)
    """
    frames = [
        rows.filter(_testable(rows, min_n)).select(
            pl.lit(dim).alias("dimension"),
            pl.col(dim).cast(pl.String).alias("segment"),
            *(c for c in COLUMNS if c != "q"),
        )
        for dim, rows in reports.items()
        if rows.height
    ]
    if not frames:
        empty = pl.DataFrame(
            schema={"dimension": pl.String, "segment": pl.String, "kpi_id": pl.String}
            | {c: pl.Float64 for c in COLUMNS if c != "kpi_id"}
        )
        return Moved(empty, 0, 0, min_n, fdr)
    tested = pl.concat(frames, how="vertical_relaxed")
    ranked = _rank(tested, fdr)
    return Moved(ranked.head(limit), tested.height, ranked.height, min_n, fdr)


def _testable(rows: pl.DataFrame, min_n: int) -> pl.Expr:
    """Return which rows are tested: n of at least ``min_n`` in this period and, where the
    report says it (``previous_n``), in the compared one, and a known ``change_p``."""
    both = pl.col("n") >= min_n
    if "previous_n" in rows.columns:
        both = both & (pl.col("previous_n") >= min_n)
    return both & pl.col("change_p").is_not_null()


def _rank(tested: pl.DataFrame, fdr: float) -> pl.DataFrame:
    """Return the tested rows whose q-value is under ``fdr``, by q, then p, then larger n."""
    q = stats.benjamini_hochberg(tested["change_p"].to_numpy())
    return (
        tested.with_columns(pl.Series("q", q, dtype=pl.Float64))
        .filter(pl.col("q") < fdr)
        .sort(["q", "change_p", "n"], descending=[False, False, True])
    )


def movers(
    report: pl.DataFrame, dim: str, *, limit: int = 3, min_n: int, fdr: float = stats.ALPHA
) -> pl.DataFrame:
    """Return the rows of one report (any columns, with n and ``change_p``) whose change is
    beyond noise, strongest evidence first, with their q-value; `moved` for one frame.

    ``dim`` names the segment column (kept as it is). Rows under ``min_n`` or with no
    ``change_p`` are not tested; a report without ``change_p`` has nothing to test.

    >>> r = pl.DataFrame({"market": ["US", "BR"], "kpi_id": ["revenue"] * 2, "n": [900, 8],
    ...     "change_p": [0.01, 0.0001]})
    >>> movers(r, "market", min_n=10)["market"].to_list()
    ['US']
    """
    if "change_p" not in report.columns or dim not in report.columns:
        return report.clear().with_columns(pl.lit(None, pl.Float64).alias("q"))
    tested = report.filter(_testable(report, min_n))
    return _rank(tested, fdr).head(limit)
