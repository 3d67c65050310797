"""The monthly KPI cube: every summed measure per month-end and market, language, rank, status.

Built once per load (after the seller facts) for the last `CUBE_MONTHS` months, so a monthly
trend or a sparkline reads a few thousand rows instead of recomputing the seller base twelve
times. A trend whose filter or breakdown needs anything else (tenure, training tier, cohort, a
median) is computed month by month from the base instead; both give the same numbers
(``tests/test_cube.py``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence

import duckdb
import polars as pl

from cxm.config import CompanyConfig
from cxm.metrics import stats
from cxm.metrics.compute import DataRange, kpi_rows, measure_columns
from cxm.metrics.kpis import DERIVED_MEASURES, KPIS, LIST_MEASURES, Kpi
from cxm.segments.filter import SegmentFilter
from cxm.segments.periods import Period
from cxm.segments.sql import Window, by_month_sums, month_params
from cxm.warehouse import store
from cxm.warehouse.scoped import Scoped

CUBE_DIMS = ("market", "language", "rank", "status")
CUBE_MONTHS = 13  # a 12-month trend ending at the newest month
#: Months summed in one SQL pass. At 1,000,000 sellers all 13 at once spilled past the load's
#: 3 GB memory limit; 3 to 5 at a time took the least time (one at a time, the most).
MONTHS_PER_PASS = 4
TABLE = "fact_kpi_months"


def cube_measures() -> list[str]:
    """Return every summed measure of the registry (the cube's value columns)."""
    out: dict[str, None] = {}
    for kpi in KPIS:
        if kpi.grain != "seller":
            continue
        for m in kpi.measures:
            if m in LIST_MEASURES:
                continue
            for part in DERIVED_MEASURES.get(m, (m,)):
                out[part] = None
        out.update(dict.fromkeys(stats.moments(kpi)))  # sums of squares for the intervals
    return list(out)


def build(con: duckdb.DuckDBPyConnection, cfg: CompanyConfig, data: DataRange) -> int:
    """(Re)build the cube for the months up to ``data.as_of``; return its row count.

    Runs inside a load (or a scope's build), on the company ``con`` holds. A few months per
    SQL pass (`segments.sql.by_month_sums`), each month's rows the sums `compute.measure_sums`
    gives for that month alone (``tests/test_cube.py``).
    """
    del cfg  # the cube holds every segment: no filter of the configuration applies
    cols, extra = measure_columns(cube_measures())
    last = Period.month_of(data.as_of)
    months = [last.previous(step) for step in range(CUBE_MONTHS - 1, -1, -1)]
    windows = [Window.of(m, data.as_of) for m in months if m.end >= data.first_on]
    parts = {p for m in extra for p in stats.moment_parts(m)}
    sums = {c: f"sum({c})" for c in cols} | {m: stats.moment_sql(m) for m in extra}
    base = by_month_sums([*cols, *sorted(parts - set(cols))], sums)
    select = ", ".join(
        [
            *CUBE_DIMS,
            "CAST(sellers AS BIGINT) AS sellers",
            *(f"CAST({c} AS DOUBLE) AS {c}" for c in sums),
            "month",
        ]
    )
    order = ", ".join(f"{d} NULLS FIRST" for d in ("month", *CUBE_DIMS))
    sql = f"SELECT {select} FROM ({base}) b ORDER BY {order}"
    with _planned_as_written(con):
        # The data's own month is always among them: the first pass creates the table.
        for i in range(0, len(windows), MONTHS_PER_PASS):
            into = f"INSERT INTO {TABLE}" if i else f"CREATE OR REPLACE TABLE {TABLE} AS"
            con.execute(f"{into} {sql}", month_params(windows[i : i + MONTHS_PER_PASS]))
    return con.execute(f"SELECT count(*) FROM {TABLE}").fetchall()[0][0]


@contextlib.contextmanager
def _planned_as_written(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    # DuckDB estimates the cube's intermediate tables at a few thousand rows where they hold
    # millions, and then reorders the joins to build its hash tables on the millions (at
    # 1,000,000 sellers: 25 s of CPU instead of 20). The joins as written build on the sources.
    before = con.execute("SELECT current_setting('disabled_optimizers')").fetchall()[0][0]
    con.execute("SET disabled_optimizers = 'join_order,build_side_probe_side'")
    try:
        yield
    finally:
        con.execute("SET disabled_optimizers = ?", [before or ""])


def covers(kpis: Sequence[Kpi], by: Sequence[str], where: SegmentFilter) -> bool:
    """Return whether the cube can answer: only cube dimensions, no median, no other filter."""
    return (
        all(k.kind != "median" and k.grain == "seller" for k in kpis)
        and set(by) <= set(CUBE_DIMS)
        and not (where.tenure_bands or where.training_tiers or where.cohorts)
        and where.as_of is None
    )


def answers(
    company: Scoped,
    kpis: Sequence[Kpi],
    bys: Sequence[Sequence[str]],
    where: SegmentFilter,
) -> bool:
    """Return whether the cube holds ``where``'s period (one month) for these breakdowns."""
    if where.period.kind != "month" or not all(covers(kpis, b, where) for b in bys):
        return False
    con = company.con
    try:
        first, last = con.execute(f"SELECT min(month), max(month) FROM {TABLE}").fetchall()[0]
    except duckdb.CatalogException:  # a warehouse loaded before the cube existed
        return False
    return first is not None and first <= where.period.start <= last and holds(company, kpis)


def holds(company: Scoped, kpis: Sequence[Kpi]) -> bool:
    """Return whether the cube has a column for every measure of ``kpis``: a cube built by an
    older load, before a measure existed, cannot answer for it (the base does instead)."""
    held = store.table_columns(company.con, TABLE)
    if not held:  # a warehouse loaded before the cube existed
        return False
    return {p for k in kpis for m in k.measures for p in DERIVED_MEASURES.get(m, (m,))} <= held


_CORPORATE = """
SELECT CAST(date_trunc('month', answered_on) AS DATE) AS month, {market}
    count(*) AS corporate_n, sum(CASE WHEN score = 5 THEN 1 ELSE 0 END) AS corporate_top_box
FROM fact_answers
WHERE respondent_type = 'corporate' AND list_contains($questions, question)
  AND answered_on BETWEEN $first AND $last
  AND ($f_markets IS NULL OR list_contains($f_markets, market))
GROUP BY CAST(date_trunc('month', answered_on) AS DATE) {group}
"""


def trend(
    company: Scoped,
    kpis: Sequence[Kpi],
    months: list[Period],
    *,
    by: Sequence[str],
    where: SegmentFilter,
    cfg: CompanyConfig,
) -> pl.DataFrame:
    """Return the KPIs for each of ``months`` from the cube (month, dims, kpi_id, value, n).

    The cube read is the user's company's own (built from its cut facts), so no market
    condition here is the scope; ``$f_markets`` is the filter.
    """
    from cxm.metrics.compute import GAP_QUESTIONS

    con = company.con

    cols = sorted({p for k in kpis for m in k.measures for p in DERIVED_MEASURES.get(m, (m,))})
    # The intervals' sums of squares and seller counts, where the cube holds them (a cube
    # built before they existed gives null intervals, not wrong ones).
    held = {c[0] for c in con.execute(f"SELECT * FROM {TABLE} LIMIT 0").description}
    cols += sorted({m for k in kpis for m in (*stats.moments(k), "sellers")} & held - set(cols))
    dims = list(by)
    select = ", ".join(["month", *dims, *(f"sum({c}) AS {c}" for c in cols)])
    rank_min = cfg.rank_index(where.rank_at_least) if where.rank_at_least else None
    sql = f"""
        SELECT {select} FROM {TABLE}
        WHERE list_contains($months, month)
          AND ($f_markets IS NULL OR list_contains($f_markets, market))
          AND ($f_languages IS NULL OR list_contains($f_languages, language))
          AND ($f_ranks IS NULL OR list_contains($f_ranks, rank))
          AND ($f_rank_ok IS NULL OR list_contains($f_rank_ok, rank))
          AND ($f_statuses IS NULL OR list_contains($f_statuses, status))
        GROUP BY {", ".join(["month", *dims])}
        ORDER BY {", ".join(["month", *dims])}"""
    params = {
        "months": [m.start for m in months],
        "f_markets": list(where.markets) or None,
        "f_languages": list(where.languages) or None,
        "f_ranks": list(where.ranks) or None,
        "f_rank_ok": list(cfg.ranks[rank_min:]) if rank_min is not None else None,
        "f_statuses": list(where.statuses) or None,
    }
    sums = con.sql(sql, params=params).pl()
    wanted = {m for k in kpis for m in k.measures}
    for name, (plus, less) in DERIVED_MEASURES.items():
        if name in wanted:
            sums = sums.with_columns((pl.col(plus) - pl.col(less)).alias(name))
    sums = sums.with_columns(
        pl.col(c).cast(pl.Float64) for c in sums.columns if c not in ("month", *dims)
    )

    def corporate(kpi: Kpi) -> pl.DataFrame:
        market = "market," if "market" in dims else ""
        text = _CORPORATE.format(market=market, group=", market" if market else "")
        return (
            con.sql(
                text,
                params={
                    "questions": list(GAP_QUESTIONS[kpi.corporate]),
                    "first": min(m.start for m in months),
                    "last": max(m.end for m in months),
                    "f_markets": params["f_markets"],
                },
            )
            .pl()
            .with_columns(
                pl.col("corporate_n").cast(pl.Float64), pl.col("corporate_top_box").cast(pl.Float64)
            )
        )

    return kpi_rows(kpis, sums, ["month", *dims], cfg, corporate).sort("month", maintain_order=True)


def months_up_to(end: dt.date, data: DataRange, count: int) -> list[Period]:
    """Return up to ``count`` months ending with the month of ``end``, none before the data."""
    last = Period.month_of(min(end, data.as_of))
    out = [last.previous(step) for step in range(count - 1, -1, -1)]
    return [m for m in out if m.end >= data.first_on]
