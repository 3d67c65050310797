"""The monthly cube gives the same numbers as computing each month from the seller base."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from cxm.access import Scope
from cxm.config import load_config
from cxm.metrics import KPIS, compute, report
from cxm.segments import Period, SegmentFilter
from cxm.warehouse.scoped import Scoped
from tests.conftest import company


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
def test_a_trend_read_from_the_cube_equals_the_months_computed_one_by_one(
    small_demo_warehouse, by, where, scope
):
    cfg = load_config()
    # Acquisition KPIs are not in the cube (spend splits by market and channel only).
    ids = [k.id for k in KPIS if k.kind != "median" and k.grain != "acquisition"]
    with company(small_demo_warehouse, *(scope.markets or ())) as mine:
        from_cube = report.trend(mine, ids, months=4, by=by, where=where, cfg=cfg)
        months = [where.period.previous(i) for i in range(3, -1, -1)]
        one_by_one = pl.concat(
            compute(
                mine, ids, by=by, where=where.with_period(m), cfg=cfg, use_cube=False
            ).with_columns(pl.lit(m.start).alias("month"))
            for m in months
        )
    keys = ["month", *by, "kpi_id"]
    joined = from_cube.join(one_by_one, on=keys, how="full", suffix="_live")
    assert joined.height == one_by_one.height == from_cube.height > 0

    # Equal up to the order of float additions (DuckDB sums in parallel, in no fixed order):
    # 1e-9 relative to the value, so a revenue in the millions is held to a thousandth of a cent.
    def off(a: str, b: str) -> pl.Expr:
        return (pl.col(a) - pl.col(b)).abs() > 1e-9 * pl.max_horizontal(pl.col(b).abs(), 1.0)

    differ = joined.filter(
        (pl.col("n") != pl.col("n_live"))
        | off("value", "value_live")
        | (pl.col("value").is_null() != pl.col("value_live").is_null())
        # The intervals too: the cube holds the sums of squares an average or a sum needs.
        | off("se", "se_live")
        | (pl.col("se").is_null() != pl.col("se_live").is_null())
    )
    assert differ.is_empty(), differ
    assert from_cube.filter(pl.col("kpi_id") == "revenue")["se"].drop_nulls().len() > 0


def test_a_trend_the_cube_cannot_answer_is_computed_month_by_month(con):
    cfg = load_config()
    where = SegmentFilter(period=Period.parse("2026-10"), tenure_bands=("1-2 years",))
    out = report.trend(
        Scoped.everywhere(con),
        ["median_first_response_hours", "active_rate"],
        months=2,
        where=where,
        cfg=cfg,
    )
    assert sorted(out["month"].unique().to_list()) == [
        Period.parse("2026-09").start,
        Period.parse("2026-10").start,
    ]


def test_a_month_in_the_cube_is_read_from_it_with_the_numbers_of_the_seller_base(
    small_demo_warehouse,
):
    from cxm.metrics import cube
    from cxm.metrics.kpis import get

    cfg = load_config()
    ids = [k.id for k in KPIS if k.kind != "median" and k.grain == "seller"]
    where = SegmentFilter(period=Period.parse("2026-09"), languages=("es",))
    with company(small_demo_warehouse, "MX", "US") as mine:
        assert cube.answers(mine, [get(i) for i in ids], [("rank", "market")], where)
        fast = compute(mine, ids, by=("rank", "market"), where=where, cfg=cfg)
        slow = compute(mine, ids, by=("rank", "market"), where=where, cfg=cfg, use_cube=False)
    assert fast.columns == slow.columns and fast.height == slow.height > 0
    assert (
        fast.select("rank", "market", "kpi_id").rows()
        == slow.select("rank", "market", "kpi_id").rows()
    )
    assert fast["n"].to_list() == slow["n"].to_list()
    diff = (fast["value"] - slow["value"]).abs().max()
    assert diff is not None and diff < 1e-9
    assert set(fast["market"].to_list()) == {"MX", "US"}


def test_a_report_with_a_median_reads_the_rest_from_the_cube_with_the_bases_numbers(
    small_demo_warehouse,
):
    # Every seller KPI of a month the cube holds: the median first response needs every
    # response time, so it alone comes from the seller base; the rows, their order and every
    # number are those of the base alone.
    cfg = load_config()
    ids = [k.id for k in KPIS if k.grain == "seller"]
    assert "median_first_response_hours" in ids
    where = SegmentFilter(period=Period.parse("2026-10"))
    with company(small_demo_warehouse) as mine:
        fast = compute(mine, ids, by=("rank", "market"), where=where, cfg=cfg)
        slow = compute(mine, ids, by=("rank", "market"), where=where, cfg=cfg, use_cube=False)
    keys = ("rank", "market", "kpi_id")
    assert fast.select(keys).rows() == slow.select(keys).rows() and fast.height > 0
    assert fast["n"].to_list() == slow["n"].to_list()
    assert fast["small"].to_list() == slow["small"].to_list()
    for col in ("value", "se", "ci_low", "ci_high"):
        diff = (fast[col] - slow[col]).abs().max()
        assert diff is not None and diff < 1e-9, col
    median = fast.filter(pl.col("kpi_id") == "median_first_response_hours")
    assert median["n"].sum() > 0


@pytest.mark.parametrize(
    ("kpi", "by", "where"),
    [
        ("active_rate", (), SegmentFilter(period=Period.parse("2026-Q3"))),
        ("active_rate", ("tenure_band",), SegmentFilter(period=Period.parse("2026-10"))),
        (
            "active_rate",
            (),
            SegmentFilter(period=Period.parse("2026-10"), training_tiers=("none",)),
        ),
        ("median_first_response_hours", (), SegmentFilter(period=Period.parse("2026-10"))),
        ("active_rate", (), SegmentFilter(period=Period.parse("2024-01"))),  # before the cube
    ],
)
def test_what_the_cube_cannot_answer_goes_to_the_seller_base(con, kpi, by, where):
    from cxm.metrics import cube
    from cxm.metrics.kpis import get

    assert not cube.answers(Scoped.everywhere(con), [get(kpi)], [by], where)


def test_every_month_of_the_cube_holds_that_months_seller_base_summed_by_segment(
    small_demo_warehouse,
):
    # The cube is built in passes of several months (cube.build); each month must be the
    # base of that month alone: the same segments, counts and whole-number sums exactly,
    # amounts to 1e-12 of their size (DuckDB adds floats in no fixed order).
    from cxm.metrics import cube
    from cxm.metrics.compute import data_range, measure_sums
    from cxm.segments.sql import Window

    cfg = load_config()
    with company(small_demo_warehouse) as mine:
        data = data_range(mine)
        held = mine.con.table(cube.TABLE).pl()
        months = cube.months_up_to(data.as_of, data, cube.CUBE_MONTHS)
        assert len(months) == cube.CUBE_MONTHS
        base = pl.concat(
            measure_sums(
                mine,
                cube.cube_measures(),
                by=list(cube.CUBE_DIMS),
                where=SegmentFilter(period=m),
                cfg=cfg,
                win=Window.of(m, data.as_of),
            ).with_columns(pl.lit(m.start).alias("month"))
            for m in months
        )
    assert held.columns == base.columns
    assert held.schema == base.schema
    keys = ["month", *cube.CUBE_DIMS]
    joined = held.join(base, on=keys, how="full", suffix="_base", nulls_equal=True)
    assert joined.height == held.height == base.height > 0
    values = [c for c in held.columns if c not in keys]
    for c in values:
        a, b = joined[c], joined[f"{c}_base"]
        if (b == b.round(0)).all():
            assert (a == b).all(), c
        else:
            assert ((a - b).abs() <= 1e-12 * b.abs().clip(lower_bound=1.0)).all(), c


def test_a_seller_whose_status_changes_is_counted_in_each_months_own_status(tiny_warehouse):
    # The tiny company's BR sellers (tests/fixtures/tiny_company), each month seen from its
    # last day (activity = a sale, autoship or enrolment in the 30 days before it):
    # - S05 (Manager, enrolled 2025-02) enrols S06 on 2025-07-01 and S07 on 2025-11-01,
    #   and sells last on 2025-05-20: inactive in October, active in November (S07's
    #   enrolment), inactive again in December and January.
    # - S06 (Member) leaves on 2025-10-15: terminated from October on.
    # - S07 (Consultant) enrols on 2025-11-01: new in November and December (within 90
    #   days), active in January (enrols S08 on 2026-01-05); S08 is then new.
    from cxm.metrics import cube

    with company(tiny_warehouse) as mine:
        rows = mine.con.execute(
            f"SELECT month, status, rank, sellers, active_30d, enrollments FROM {cube.TABLE} "
            "WHERE market = 'BR' AND month BETWEEN DATE '2025-10-01' AND DATE '2026-01-01' "
            "ORDER BY month, status, rank"
        ).fetchall()
    oct_, nov, dec, jan = (
        dt.date(2025, 10, 1),
        dt.date(2025, 11, 1),
        dt.date(2025, 12, 1),
        dt.date(2026, 1, 1),
    )
    assert rows == [
        (oct_, "inactive", "Manager", 1, 0.0, 0.0),
        (oct_, "terminated", "Member", 1, 0.0, 0.0),
        (nov, "active", "Manager", 1, 1.0, 1.0),  # S05, who enrolled S07
        (nov, "new", "Consultant", 1, 1.0, 0.0),  # S07 sold on 2025-11-10: active, yet new
        (nov, "terminated", "Member", 1, 0.0, 0.0),
        (dec, "inactive", "Manager", 1, 0.0, 0.0),
        (dec, "new", "Consultant", 1, 0.0, 0.0),
        (dec, "terminated", "Member", 1, 0.0, 0.0),
        (jan, "active", "Consultant", 1, 1.0, 1.0),  # S07, who enrolled S08
        (jan, "inactive", "Manager", 1, 0.0, 0.0),
        (jan, "new", "Member", 1, 0.0, 0.0),
        (jan, "terminated", "Member", 1, 0.0, 0.0),
    ]
