"""The product-line reorder rate counts a fixed 90-day window, once closed (issue 19, finding 2).

A customer's first purchase of a line is day 0; a purchase of that line on a later day d with
day 0 < d <= day 90 is a reorder (`cxm.state.windows.REORDER_DAYS`). As for the 90-day
customer retention, the first purchase belongs to the period its day 90 falls in; it is open
while day 90 is after the as-of date (`line_buyers_open`), never a customer who did not reorder.

The hand-worked rows are tests/fixtures/kpi_company's orders (data as of 2026-03-31), every
customer's first purchase of each line and the next day they bought that line:

    market customer line       first       next        day  day 90      note
    US     CU1      wellness   2025-06-01  2026-01-10  223  2025-08-30  before any period below
    US     CU3      nutrition  2025-10-15  -           -    2026-01-13
    US     CU7      skincare   2025-11-15  2026-02-13   90  2026-02-13  day 90: counts
    US     CU4      wellness   2025-12-20  2026-01-20   31  2026-03-20
    US     CU5      skincare   2026-01-04  -           -    2026-04-04  open on 03-31
    US     CU2      nutrition  2026-01-20  2026-02-25   36  2026-04-20  open (though it rebought)
    US     CU3      home       2026-02-01  -           -    2026-05-02  open
    US     CU1      home       2026-03-01  -           -    2026-05-30  open
    US     CU6      skincare   2026-03-10  2026-03-20   10  2026-06-08  open
    BR     CB1      wellness   2025-03-01  2026-01-15  320  2025-05-30  before any period below
    BR     CB4      acai       2025-10-20  2026-01-05   77  2026-01-18
    BR     CB7      wellness   2025-12-01  2026-03-02   91  2026-03-01  day 91: does not count
    BR     CB5      skincare   2025-12-10  -           -    2026-03-10
    BR     CB2      nutrition  2026-01-12  2026-01-25   13  2026-04-12  open
    BR     CB3      wellness   2026-01-13  2026-02-15   33  2026-04-13  open
    BR     CB8      nutrition  2026-02-20  -           -    2026-05-21  open
    BR     CB1      acai       2026-03-15  -           -    2026-06-13  open
    BR     CB2      skincare   2026-03-20  -           -    2026-06-18  open
    BR     CB6      skincare   2026-03-20  (16:00, the same day: not a reorder)   open

The code before this change counted the first purchases made *in* the period and any later
day up to the data's end: 2026-Q1 read US 2/5 (CU2 and CU6 "reordered", CU5 "did not" after
86 days) and had no open count; on the demo, October 2026 read 3.9% against 58% a year before.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import duckdb
import pytest

from cxm.access import Scope
from cxm.config import load_config
from cxm.errors import WarehouseMissing
from cxm.metrics.compute import compute, data_range
from cxm.pipeline import import_dir
from cxm.segments import Period, SegmentFilter
from cxm.state.windows import REORDER_DAYS
from cxm.warehouse import store
from cxm.warehouse.scoped import Scoped

from .conftest import FIXTURES

AS_OF = dt.date(2026, 3, 31)
CFG = load_config()
EVERYWHERE = Scope.everywhere()


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    path = tmp_path_factory.mktemp("line_reorder") / "w.duckdb"
    import_dir(FIXTURES / "kpi_company", path=path, today=AS_OF)
    with store.open_readonly(path) as c:
        yield c


def _rows(con, period, by=(), markets=(), as_of=None) -> dict:
    where = SegmentFilter(period=Period.parse(period), markets=tuple(markets), as_of=as_of)
    out = compute(Scoped.everywhere(con), ["line_reorder_rate"], by=list(by), where=where, cfg=CFG)
    return {
        tuple(r[d] for d in by): (r["value"], r["n"], r["open"]) for r in out.iter_rows(named=True)
    }


def test_a_reorder_on_day_90_counts_and_one_on_day_91_does_not(con):
    # 2026-Q1: day 90 on 2026-01-01..03-31 <=> first purchase 2025-10-03..12-31, all closed by
    # 03-31. US skincare: CU7 (11-15, again 02-13 = day 90) -> 1 of 1. BR wellness: CB7 (12-01,
    # again 03-02 = day 91) -> 0 of 1. Old code: US skincare 1/2 (CU5, CU6), BR wellness 1/1.
    us = _rows(con, "2026-Q1", by=["product_line"], markets=["US"])
    br = _rows(con, "2026-Q1", by=["product_line"], markets=["BR"])
    assert us[("skincare",)] == (1.0, 1, 0)
    assert br[("wellness",)] == (0.0, 1, 0)
    # All lines: US CU3 no, CU7 yes, CU4 yes -> 2/3; BR CB4 yes, CB7 no, CB5 no -> 1/3.
    assert _rows(con, "2026-Q1", markets=["US"])[()] == (pytest.approx(2 / 3), 3, 0)
    assert _rows(con, "2026-Q1", markets=["BR"])[()] == (pytest.approx(1 / 3), 3, 0)


def test_a_first_purchase_whose_90_days_are_not_over_is_open_not_a_customer_who_did_not_reorder(
    con,
):
    # 2026 to date (as of 03-31): the closed windows are Q1's (above); every 2026 first purchase
    # has its day 90 after 03-31 but inside 2026: open. US: CU5, CU2, CU3 home, CU1 home, CU6 =
    # 5 (CU5 has not rebought in 86 days, CU2 and CU6 have: neither is an outcome yet). BR:
    # CB2 nutrition, CB3, CB8, CB1 acai, CB2 skincare, CB6 = 6. Old code: US 2/5, BR 2/6, no open.
    assert _rows(con, "2026", markets=["US"])[()] == (pytest.approx(2 / 3), 3, 5)
    assert _rows(con, "2026", markets=["BR"])[()] == (pytest.approx(1 / 3), 3, 6)
    assert _rows(con, "2026")[()] == (pytest.approx(3 / 6), 6, 11)
    # By line, US: skincare CU7 yes (closed); CU5, CU6 open -> (1/1, 1, 2). Home: CU3, CU1
    # open, nothing closed -> no value, n 0, 2 open (not 0%).
    us = _rows(con, "2026", by=["product_line"], markets=["US"])
    assert us[("skincare",)] == (1.0, 1, 2)
    assert us[("home",)] == (None, 0, 2)


def test_seen_on_an_earlier_date_a_window_closing_after_it_is_open(con):
    # 2026-Q1 seen on 02-28: closed = day 90 on 01-01..02-28 <=> first purchase 10-03..11-30:
    # US CU3 no, CU7 yes (day 90 = 02-13) -> 1/2; open = day 90 on 03-01..03-31 <=> first
    # purchase 12-01..12-31: US CU4 (rebought on 01-20, still open on 02-28) -> 1. BR: CB4 yes
    # -> 1/1; CB7 and CB5 open -> 2.
    seen = dt.date(2026, 2, 28)
    assert _rows(con, "2026-Q1", markets=["US"], as_of=seen)[()] == (0.5, 2, 1)
    assert _rows(con, "2026-Q1", markets=["BR"], as_of=seen)[()] == (1.0, 1, 2)


# --- the 20,000-seller demo (data as of 2026-10-31) ----------------------------------------------


@pytest.fixture(scope="module")
def demo(demo_warehouse):
    with store.open_readonly(demo_warehouse) as c:
        yield c


def _independent(con, day90_from, day90_to, *, seen=None, open_to=None) -> tuple[int, int, int]:
    """(customers, reordered, open) from the orders alone: no fact, a correlated EXISTS."""
    seen = seen or dt.date(2026, 10, 31)
    (row,) = con.execute(
        f"""
        WITH o AS (SELECT customer_id, product_line, CAST(ordered_at AS DATE) AS d
                   FROM orders WHERE CAST(ordered_at AS DATE) <= $seen),
        f AS (SELECT customer_id, product_line, min(d) AS first_on FROM o GROUP BY ALL)
        SELECT
            count(*) FILTER (WHERE first_on + {REORDER_DAYS} BETWEEN $a AND $b),
            count(*) FILTER (WHERE first_on + {REORDER_DAYS} BETWEEN $a AND $b AND EXISTS (
                SELECT 1 FROM o WHERE o.customer_id = f.customer_id
                  AND o.product_line = f.product_line
                  AND o.d > f.first_on AND o.d <= f.first_on + {REORDER_DAYS})),
            count(*) FILTER (WHERE first_on + {REORDER_DAYS} > $seen
                                   AND first_on + {REORDER_DAYS} <= $open_to)
        FROM f""",
        {"a": day90_from, "b": day90_to, "seen": seen, "open_to": open_to or day90_to},
    ).fetchall()
    return row


def _company(con, period, *, as_of=None, data=None) -> tuple:
    where = SegmentFilter(period=Period.parse(period), as_of=as_of)
    row = compute(
        Scoped.everywhere(con), ["line_reorder_rate"], where=where, cfg=CFG, data=data
    ).row(0, named=True)
    return row["value"], row["n"], row["open"]


def test_on_the_demo_july_and_october_2026_equal_the_orders_counted_independently(demo):
    # July 2026: day 90 on 07-01..07-31 <=> first purchase 2026-04-02..05-02, closed by 10-31.
    # October: first purchase 07-03..08-02, day 90 by 10-31: closed, 0 open. Q4 2026 to date
    # is October's closed windows plus, open, those whose day 90 is 11-01..12-31.
    D = dt.date
    for period, (a, b) in {
        "2026-07": (D(2026, 7, 1), D(2026, 7, 31)),
        "2026-10": (D(2026, 10, 1), D(2026, 10, 31)),
    }.items():
        buyers, again, _ = _independent(demo, a, b)
        value, n, open_ = _company(demo, period)
        assert (n, open_) == (buyers, 0) and value == pytest.approx(again / buyers), period
    # Before: October 2026 read 3.9% (every window cut short by the data's end).
    assert value > 0.3
    buyers, again, still_open = _independent(
        demo, D(2026, 10, 1), D(2026, 10, 31), open_to=D(2026, 12, 31)
    )
    value, n, open_ = _company(demo, "2026-Q4")
    assert (n, open_) == (buyers, still_open) and value == pytest.approx(again / buyers)
    assert still_open > 10_000  # two months of first purchases, not reported as outcomes


def test_on_the_demo_a_month_seen_mid_month_reads_only_the_orders_up_to_that_day(demo):
    # Seen as if the data ran to 2026-09-15 (the facts hold all of September and October):
    # closed = day 90 on 09-01..09-15; open = day 90 on 09-16..09-30. Counted over the orders
    # up to 09-15 only, it must agree: a closed window needs no later day.
    data = replace(
        data_range(Scoped.everywhere(demo)),
        as_of=dt.date(2026, 9, 15),
        loaded_to=dt.date(2026, 10, 31),
    )
    seen = dt.date(2026, 9, 15)
    buyers, again, still_open = _independent(
        demo, dt.date(2026, 9, 1), seen, seen=seen, open_to=dt.date(2026, 9, 30)
    )
    value, n, open_ = _company(demo, "2026-09", as_of=seen, data=data)
    assert (n, open_) == (buyers, still_open) and value == pytest.approx(again / buyers)


def test_a_warehouse_whose_line_fact_is_still_by_month_is_refused_with_what_to_do(
    tiny_warehouse,
):
    # Built by the cxm before this change: fact_line_buyers by first_month. Every seller KPI
    # reads it (the seller base), so it is refused with the fix, not a DuckDB binder error.
    with duckdb.connect(str(tiny_warehouse)) as c:
        c.execute(
            "CREATE OR REPLACE TABLE fact_line_buyers AS SELECT seller_id, product_line, "
            "CAST(date_trunc('month', first_on) AS DATE) AS first_month, buyers, rebuyers "
            "FROM fact_line_buyers"
        )
    with store.open_readonly(tiny_warehouse) as c, pytest.raises(WarehouseMissing) as err:
        compute(
            Scoped.everywhere(c), ["revenue"], where=SegmentFilter(period=Period.parse("2025")),
            cfg=CFG,
        )  # fmt: skip
    assert "fact_line_buyers has no first_on" in str(err.value)
    assert "`cxm import DIR`" in str(err.value)
