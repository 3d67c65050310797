"""The monthly cube gives the same numbers as computing each month from the seller base."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from cxm.access import Scope
from cxm.config import load_config
from cxm.metrics import KPIS, compute, report
from cxm.segments import Period, SegmentFilter


@pytest.fixture(scope="module")
def con(small_demo_warehouse):
    c = duckdb.connect(str(small_demo_warehouse), read_only=True)
    yield c
    c.close()


@pytest.mark.parametrize(
    ("by", "where", "scope"),
    [
        ((), SegmentFilter(period=Period.parse("2026-10")), Scope.everywhere()),
        (
            ("market",),
            SegmentFilter(period=Period.parse("2026-09"), rank_at_least="Consultant"),
            Scope(markets=("BR", "MX", "US")),
        ),
        (
            ("rank", "status"),
            SegmentFilter(period=Period.parse("2026-10"), markets=("US",), languages=("es",)),
            Scope.everywhere(),
        ),
    ],
)
def test_a_trend_read_from_the_cube_equals_the_months_computed_one_by_one(con, by, where, scope):
    cfg = load_config()
    ids = [k.id for k in KPIS if k.kind != "median"]
    from_cube = report.trend(con, ids, months=4, by=by, where=where, scope=scope, cfg=cfg)
    months = [where.period.previous(i) for i in range(3, -1, -1)]
    one_by_one = pl.concat(
        compute(con, ids, by=by, where=where.with_period(m), scope=scope, cfg=cfg).with_columns(
            pl.lit(m.start).alias("month")
        )
        for m in months
    )
    keys = ["month", *by, "kpi_id"]
    joined = from_cube.join(one_by_one, on=keys, how="full", suffix="_live")
    assert joined.height == one_by_one.height == from_cube.height > 0
    differ = joined.filter(
        (pl.col("n") != pl.col("n_live"))
        | ((pl.col("value") - pl.col("value_live")).abs() > 1e-9)
        | (pl.col("value").is_null() != pl.col("value_live").is_null())
    )
    assert differ.is_empty(), differ


def test_a_trend_the_cube_cannot_answer_is_computed_month_by_month(con):
    cfg = load_config()
    where = SegmentFilter(period=Period.parse("2026-10"), tenure_bands=("1-2 years",))
    out = report.trend(
        con,
        ["median_first_response_hours", "active_rate"],
        months=2,
        where=where,
        scope=Scope.everywhere(),
        cfg=cfg,
    )
    assert sorted(out["month"].unique().to_list()) == [
        Period.parse("2026-09").start,
        Period.parse("2026-10").start,
    ]
