"""Observation windows count only once closed; downline counts are distinct (issue 19).

The fixture is tests/fixtures/kpi_company (data as of 2026-03-31, see tests/test_metrics.py)
with twelve Canadian sellers added, each row worked out by hand below. Day N = enrolment + N.

    seller sponsor enrolled    left        rank (history)                   why
    CA1    -       2024-01-01  -           Manager (csv)                    lapsed leader A
    CA2    CA1     2024-02-01  -           Manager (csv)                    lapsed leader B, below A
    CA3    CA2     2024-03-01  -           Member                           C, below A and B
    CA4    -       2024-01-01  2026-01-20  Consultant (csv)                 sponsor who left
    CA5    CA4     2025-06-01  -           Member, en                       orphaned
    CA6    CA4     2025-07-01  2026-02-15  Member, fr                       followed CA4 (day 26)
    CA7    CA4     2025-08-01  -           Member, fr                       orphaned
    CA8    -       2024-01-01  2025-12-15  Consultant (csv)                 the worked example's
    CA9    CA8     2025-01-01  2026-02-01  Member                           sponsor, A (day 48)
    CA10   CA8     2025-01-01  -           Member                           and B
    CA11   -       2026-02-10  2026-03-01  Manager (step on 2026-02-10)     joined as Manager
    CA12   -       2026-01-05  -           Manager (step on 2026-03-01)     rose to Manager

None of them sells. CA12 logs in on 2026-03-25 (so is not a lapsed leader).
"""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import pytest

from cxm import docs
from cxm.access import Scope
from cxm.config import load_config
from cxm.metrics import cohorts
from cxm.metrics.compute import compute
from cxm.metrics.kpis import get
from cxm.pipeline import import_dir
from cxm.segments import Period, SegmentFilter
from cxm.state.windows import Example, describe_example
from cxm.ui import tiles
from cxm.warehouse import store
from cxm.warehouse.scoped import Scoped

from .conftest import FIXTURES

AS_OF = dt.date(2026, 3, 31)
CFG = load_config()
EVERYWHERE = Scope.everywhere()
EX = Example()


def _ca_sellers() -> list[str]:
    ex_sponsor, (a_left, b_left) = EX.sponsor_left_on, (on for _, on in EX.below)
    rows = [
        ("CA1", "", "2024-01-01", "Manager", "en", ""),
        ("CA2", "CA1", "2024-02-01", "Manager", "en", ""),
        ("CA3", "CA2", "2024-03-01", "Member", "en", ""),
        ("CA4", "", "2024-01-01", "Consultant", "en", "2026-01-20"),
        ("CA5", "CA4", "2025-06-01", "Member", "en", ""),
        ("CA6", "CA4", "2025-07-01", "Member", "fr", "2026-02-15"),
        ("CA7", "CA4", "2025-08-01", "Member", "fr", ""),
        # The worked example of docs/metrics.md, from its own declaration.
        ("CA8", "", "2024-01-01", "Consultant", "en", str(ex_sponsor)),
        ("CA9", "CA8", "2025-01-01", "Member", "en", str(a_left or "")),
        ("CA10", "CA8", "2025-01-01", "Member", "en", str(b_left or "")),
        ("CA11", "", "2026-02-10", "Manager", "en", "2026-03-01"),
        ("CA12", "", "2026-01-05", "Manager", "en", ""),
    ]
    return [
        f"{sid},{sponsor},{enrolled},{rank},CA,{lang},0.00,0,{left},"
        for sid, sponsor, enrolled, rank, lang, left in rows
    ]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    folder = tmp_path_factory.mktemp("windows") / "company"
    shutil.copytree(FIXTURES / "kpi_company", folder)
    with (folder / "sellers.csv").open("a", encoding="utf-8") as f:
        f.write("\n".join(_ca_sellers()) + "\n")
    with (folder / "activities.csv").open("a", encoding="utf-8") as f:
        f.write(
            "CA11,2026-02-10 09:00:00,rank_advanced,Manager\n"
            "CA12,2026-03-01 09:00:00,rank_advanced,Manager\n"
            "CA12,2026-03-25 09:00:00,login,\n"
        )
    path = folder.parent / "w.duckdb"
    import_dir(folder, path=path, today=AS_OF)
    with store.open_readonly(path) as c:
        yield c


def _row(con, kpi_id, period, markets=(), as_of=None) -> tuple:
    where = SegmentFilter(period=Period.parse(period), markets=tuple(markets), as_of=as_of)
    out = compute(Scoped.everywhere(con), [kpi_id], where=where, cfg=CFG)
    row = out.row(0, named=True)
    return row["value"], row["n"], row["open"]


# --- churn after the sponsor left --------------------------------------------------------------


def test_a_sponsors_window_that_closes_after_the_quarter_but_before_the_as_of_date_counts_whole(
    con,
):
    # CA8 left 2025-12-15 (in 2025-Q4); the 90 days close on 2026-03-15, before 03-31. Below:
    # CA9 left 2026-02-01 (day 48, after the quarter's end) and CA10 stayed -> 1 of 2 = 50%.
    # The old rule cut leaving at the quarter's end (12-31) and read 0 of 2 = 0%.
    assert _row(con, "churn_after_sponsor_left", "2025-Q4", ["CA"]) == (0.5, 2, 0)


def test_churn_after_the_sponsor_left_has_no_value_while_every_window_is_open(con):
    # 2026-Q1, as of 03-31: CA4 left 01-20, its window runs to 04-20: CA5, CA6 and CA7 are
    # open (CA6 already left on 02-15, but the others' outcome is not known yet): no value,
    # n = 0, 3 open; the old rule read 1 of 3. US: US3 left 01-10 (to 04-10) with US4 and US5
    # below, BR: BR4 left 01-08 (to 04-08) with BR5 and BR6 -> each 2 open.
    assert _row(con, "churn_after_sponsor_left", "2026-Q1", ["CA"]) == (None, 0, 3)
    assert _row(con, "churn_after_sponsor_left", "2026-Q1", ["US"]) == (None, 0, 2)
    assert _row(con, "churn_after_sponsor_left", "2026-Q1") == (None, 0, 7)


def test_the_worked_example_in_the_docs_is_what_the_kpi_reads(con):
    # Seen on 2026-03-31: (50%, n 2, 0 open); seen on 2026-02-28 the window (to 03-15) is open:
    # (no value, n 0, 2 open). The old rule read 0% on both dates.
    for seen in EX.seen_on:
        as_of = None if seen == AS_OF else seen
        assert _row(con, "churn_after_sponsor_left", EX.period, ["CA"], as_of) == EX.result(seen)
    assert EX.result(dt.date(2026, 3, 31)) == (0.5, 2, 0)
    assert EX.result(dt.date(2026, 2, 28)) == (None, 0, 2)
    assert describe_example(EX) in docs.render_metrics()


def test_a_report_row_says_how_many_windows_are_open_and_shows_no_change(con):
    # 2026-Q1 in CA: CA5, CA6, CA7 open (see above) -> no value, 3 open, so no change either,
    # though 2025-Q4 read 50% (the worked example).
    from cxm.metrics.report import segment_report

    where = SegmentFilter(period=Period.parse("2026-Q1"), markets=("CA",))
    row = segment_report(
        Scoped.everywhere(con), ["churn_after_sponsor_left"], where=where, cfg=CFG
    ).row(0, named=True)
    assert (row["value"], row["n"], row["open"], row["change"]) == (None, 0, 3, None)


# --- windows counted from enrolment ------------------------------------------------------------


def test_sellers_whose_day_90_is_after_the_as_of_date_are_open_not_counted(con):
    # 2026-Q1 seen on 2026-02-28: BR4 (enrolled 2025-10-10, day 90 = 01-08, left that day) is
    # closed and lost; BR5 (12-15, day 90 = 03-15) is open -> 0 of 1, 1 open. US4 (12-10,
    # day 90 03-10) and US5 (12-05, day 90 03-05): both open -> no value, 2 open.
    feb = dt.date(2026, 2, 28)
    assert _row(con, "seller_retention_90d", "2026-Q1", ["BR"], feb) == (0.0, 1, 1)
    assert _row(con, "seller_retention_90d", "2026-Q1", ["US"], feb) == (None, 0, 2)
    # The whole quarter seen on 03-31: every day 90 of the quarter has passed, none open.
    assert _row(con, "seller_retention_90d", "2026-Q1", ["US"]) == (0.5, 2, 0)


def test_a_seller_still_in_their_first_30_days_is_not_put_with_those_who_made_no_sale(con):
    # Live US sellers on 03-31 whose day 30 is still to come: US6 (enrolled 03-03, sold 03-10:
    # sold in first 30 days, already known) and US7 (03-27, day 30 = 04-26, no sale yet) ->
    # US7 alone is "first 30 days not over"; before, US7 read as "no sale in first 30 days".
    where = SegmentFilter(period=Period.parse("2026-Q1"), markets=("US",))
    out = compute(Scoped.everywhere(con), ["live_sellers"], by=["fast_start"], where=where, cfg=CFG)
    counts = dict(out.select("fast_start", "value").iter_rows())
    assert counts["first 30 days not over"] == 1


def test_the_funnel_counts_only_sellers_whose_day_30_has_passed(con):
    # Enrolled in 2026-Q1: US6 03-03, US7 03-27, BR6 01-02, BR7 03-05, BR8 03-25, CA11 02-10,
    # CA12 01-05 = 7. Past day 30 by 03-31 (enrolled by 03-01): BR6, CA11 (day 30 = 03-12),
    # CA12 = 3, none sold in its first 30 days; 4 open. Past day 90: none; 7 open.
    funnel = cohorts.fast_start_funnel(
        Scoped.everywhere(con), where=SegmentFilter(period=Period.parse("2026-Q1")), cfg=CFG
    )
    assert (funnel["enrolled"], funnel["reached_30d"], funnel["open_30d"]) == (7, 3, 4)
    assert (funnel["reached_90d"], funnel["open_90d"]) == (0, 7)
    # The steps start at the 3 past day 30, not at the 7 enrolled (a 57% "drop-off" before).
    assert tiles.funnel_steps(funnel) == [("Past day 30", 3), ("Sold in first 30 days", 0)]


def test_the_funnel_has_no_steps_and_says_so_when_no_one_is_past_day_30():
    # October 2026 on the demo: 497 enrolled, 13 past day 30; had none been past it, the
    # funnel would have no step rather than a 100% drop-off.
    funnel = {"enrolled": 4, "reached_30d": 0, "first_sale_30d": 0, "open_30d": 4}
    funnel |= {"reached_90d": 0, "first_sale_30d_of_90d": 0, "sold_and_in_at_90d": 0}
    funnel |= {"open_90d": 4}
    assert tiles.funnel_steps(funnel) == []
    assert "none of the 4 sellers" in tiles.funnel_headline(funnel)


def test_cohort_curves_filtered_by_rank_use_the_rank_held_at_enrolment(con):
    # Manager or above at enrolment: only CA11 (a step to Manager on its enrolment day). Today's
    # rank would also take US1, BR1, BR2, CA1, CA2 and CA12, who all stayed: flat at 100%.
    # CA11 enrolled 2026-02-10: month 0 (02-10) in; month 1 = day 30 = 03-12, after leaving on
    # 03-01: out -> 1, then 0 of 1. Month 2 (day 61, 04-12) is after the as-of date.
    curves = cohorts.retention_curves(
        Scoped.everywhere(con),
        where=SegmentFilter(period=Period.parse("2026-Q1"), rank_at_least="Manager"),
        cfg=CFG,
    )
    assert curves.select("cohort_start", "month", "sellers", "retained").rows() == [
        (dt.date(2026, 1, 1), 0, 1, 1),
        (dt.date(2026, 1, 1), 1, 1, 0),
    ]


def test_the_funnel_filtered_by_rank_uses_the_rank_held_at_enrolment(con):
    # Enrolled in 2026-Q1 at Manager or above: CA11 only; CA12 rose to Manager on 03-01, after
    # it enrolled as a Member, and is left out (today's rank would count it).
    funnel = cohorts.fast_start_funnel(
        Scoped.everywhere(con),
        where=SegmentFilter(period=Period.parse("2026-Q1"), rank_at_least="Manager"),
        cfg=CFG,
    )
    assert (funnel["enrolled"], funnel["reached_30d"]) == (1, 1)


# --- distinct counts ---------------------------------------------------------------------------


def test_a_seller_below_two_lapsed_leaders_counts_once_in_the_headline(con):
    # CA1 (A) above CA2 (B) above CA3 (C), A and B lapsed Managers. Rows: A 2 (B, C), B 1 (C);
    # the distinct total is 2, not 3.
    risk = cohorts.downline_at_risk(
        Scoped.everywhere(con),
        where=SegmentFilter(period=Period.parse("2026-03"), markets=("CA",)),
        cfg=CFG,
    )
    assert dict(risk.lapsed.select("seller_id", "live_team").iter_rows()) == {"CA1": 2, "CA2": 1}
    # The downlines cross markets, so "of" is every live seller in scope: the 10 of
    # tests/test_metrics.py and 7 here (CA1, CA2, CA3, CA5, CA7, CA10, CA12) = 17.
    assert (risk.live_below_lapsed, risk.live_sellers) == (2, 17)
    assert "2 of" in tiles.downline_sentences(risk)[1]


def test_a_sponsor_whose_downline_spans_two_rows_counts_once_in_the_headline(con):
    # Sponsors gone 2026-01-01..03-31 with live sellers below: US3 (US4, Consultant), BR4 (BR5,
    # Member), CA4 (CA5 en and CA7 fr, Members) -> rows US/en, BR/pt-BR, CA/en, CA/fr with one
    # sponsor each: the rows sum to 4, distinct sponsors 3; 4 orphaned sellers.
    risk = cohorts.downline_at_risk(
        Scoped.everywhere(con), where=SegmentFilter(period=Period.parse("2026-03")), cfg=CFG
    )
    assert risk.orphaned["sponsors_who_left"].sum() == 4
    assert (risk.orphaned_sellers, risk.sponsors_who_left) == (4, 3)
    assert "3 distinct sponsors" in tiles.downline_sentences(risk)[0]


# --- on the 20,000-seller demo -----------------------------------------------------------------


def test_churn_after_sponsor_left_for_2025_q3_is_the_fully_observed_90_day_share(demo_warehouse):
    # Recomputed from the raw sellers table: sellers enrolled and live on the day their sponsor
    # left, the sponsor leaving in 2025-Q3; left within the 90 days after. Every such window
    # closed by 2025-12-29, long before the data's as-of date 2026-10-31.
    raw = """
        SELECT count(*), sum(CASE WHEN c.terminated_on <= p.terminated_on + 90 THEN 1 ELSE 0 END)
        FROM sellers c JOIN sellers p ON p.seller_id = c.sponsor_id
        WHERE p.terminated_on BETWEEN DATE '2025-07-01' AND DATE '2025-09-30'
          AND c.enrolled_on <= p.terminated_on
          AND (c.terminated_on IS NULL OR c.terminated_on > p.terminated_on)"""
    with duckdb.connect(str(demo_warehouse), read_only=True) as raw_con:
        n, left = raw_con.execute(raw).fetchone()
    with store.open_readonly(demo_warehouse) as c:
        value, got_n, still_open = _row(c, "churn_after_sponsor_left", "2025-Q3")
        q4 = _row(c, "churn_after_sponsor_left", "2026-Q4")
    assert (got_n, still_open) == (n, 0) and n > 100
    assert value == pytest.approx(left / n)  # 163 / 326 = 50.0% on seed 7 (23.4% cut at 09-30)
    # 2026-Q4 is October to date: every sponsor who left is within their 90 days -> no value.
    assert q4[0] is None and q4[1] == 0 and q4[2] > 0


def test_a_cube_built_before_the_open_counts_existed_is_passed_over_not_failed_on(tiny_warehouse):
    # An older load's cube has no `sponsor_left_open` column: the monthly trend is worked out
    # from the seller base instead, with the same values the full cube would give.
    from cxm.metrics import cube
    from cxm.metrics.report import trend

    where = SegmentFilter(period=Period.parse("2026-02"))
    with store.open_readonly(tiny_warehouse) as c:
        before = trend(
            Scoped.everywhere(c), ["churn_after_sponsor_left"], months=3, where=where, cfg=CFG
        )
    with duckdb.connect(str(tiny_warehouse)) as c:
        c.execute(f"ALTER TABLE {cube.TABLE} DROP COLUMN sponsor_left_open")
    with store.open_readonly(tiny_warehouse) as c:
        assert not cube.holds(Scoped.everywhere(c), [get("churn_after_sponsor_left")])
        after = trend(
            Scoped.everywhere(c), ["churn_after_sponsor_left"], months=3, where=where, cfg=CFG
        )
    assert (
        after.select("month", "value", "n", "open").rows()
        == before.select("month", "value", "n", "open").rows()
    )


def test_a_cohorts_months_counted_by_day_are_the_months_whose_day_has_come():
    # Month k's day is round(k x 30.4375): 0, 30, 61, 91, ... A seller seen for 29 days has
    # had month 0 only (1 month), 30 days months 0-1 (2), 60 days still 2, 61 days 3; -1 (not
    # enrolled yet) none. Every count from -40 to 800 days, with 24 months at most, equals
    # the months counted one by one as the curves counted them before.
    con = duckdb.connect()
    count = cohorts._months_within("x").replace("$months", "24")
    got = con.sql(f"SELECT x, {count} FROM range(-40, 801) t(x) ORDER BY x").fetchall()
    one_by_one = con.sql(
        "SELECT x, count(m) FILTER (WHERE CAST(round(m * 30.4375) AS INTEGER) <= x) "
        "FROM range(-40, 801) t(x), range(0, 25) s(m) GROUP BY x ORDER BY x"
    ).fetchall()
    assert got == one_by_one
    assert dict(got)[29] == 1 and dict(got)[30] == 2 and dict(got)[60] == 2
    assert dict(got)[61] == 3 and dict(got)[-1] == 0 and dict(got)[800] == 25
