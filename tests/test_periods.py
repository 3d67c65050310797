"""Periods like for like (issue 19): a period the data stops inside is "to date" and is compared
with the same elapsed days of the previous period, or of the same period a year earlier."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import polars as pl
import pytest
from typer.testing import CliRunner

from cxm.access import Role, User
from cxm.cli import app
from cxm.config import load_config
from cxm.errors import BadFilter
from cxm.metrics import report
from cxm.metrics.compute import DataRange, compute, data_range, measure_sums, window
from cxm.segments import Period, SegmentFilter
from cxm.segments.periods import Span, compared_span
from cxm.warehouse import store
from cxm.warehouse.scoped import Scoped

D = dt.date
OCT31 = DataRange(first_on=D(2024, 1, 1), as_of=D(2026, 10, 31))


def _labels(period: str, as_of: dt.date, compare: str = "previous") -> tuple[str, str]:
    c = report.comparison(
        SegmentFilter(period=Period.parse(period), compare=compare),
        DataRange(first_on=D(2024, 1, 1), as_of=as_of),
    )
    return c.current_label, c.previous_label


@pytest.mark.parametrize(
    ("period", "as_of", "compare", "current", "previous"),
    [
        # A whole period: no days named, the whole period before.
        ("2026-Q3", D(2026, 10, 31), "previous", "Q3 2026", "Q2 2026"),
        # Quarter to date: October only -> July only.
        (
            "2026-Q4",
            D(2026, 10, 31),
            "previous",
            "Q4 2026 to date (1–31 Oct)",
            "Q3 2026 (1–31 Jul)",
        ),
        # Year to date: January-October -> January-October of 2025.
        ("2026", D(2026, 10, 31), "previous", "2026 to date (1 Jan–31 Oct)", "2025 (1 Jan–31 Oct)"),
        # Month to date: 1-15 October -> 1-15 September.
        (
            "2026-10",
            D(2026, 10, 15),
            "previous",
            "October 2026 to date (1–15 Oct)",
            "September 2026 (1–15 Sep)",
        ),
        # Year over year: Q4 to date -> October 2025; a whole quarter -> the whole one.
        ("2026-Q4", D(2026, 10, 31), "year", "Q4 2026 to date (1–31 Oct)", "Q4 2025 (1–31 Oct)"),
        ("2026-Q3", D(2026, 10, 31), "year", "Q3 2026", "Q3 2025"),
    ],
)
def test_each_form_of_period_is_labelled_with_the_days_it_covers(
    period, as_of, compare, current, previous
):
    span = Span.of(Period.parse(period), as_of)
    other = compared_span(span, compare)
    assert span.label() == current
    assert other.label(to_date=False, days=span.partial) == previous


@pytest.mark.parametrize(
    ("period", "end", "compare", "start_end"),
    [
        # 1-30 March: February has no 30th -> clamped to the 28th (the whole of February).
        ("2026-03", D(2026, 3, 30), "previous", (D(2026, 2, 1), D(2026, 2, 28))),
        # 1-15 March -> 1-15 February (same day of the month).
        ("2026-03", D(2026, 3, 15), "previous", (D(2026, 2, 1), D(2026, 2, 15))),
        # Q1 to 28 Feb 2026 (a month end) -> Q4 2025: two months from 1 Oct, to the month's
        # last day: 1 Oct - 30 Nov.
        ("2026-Q1", D(2026, 2, 28), "previous", (D(2025, 10, 1), D(2025, 11, 30))),
        # 1-28 Feb 2028 (a leap year: not the month's end) -> 1-28 Jan; a year earlier 1-28 Feb.
        ("2028-02", D(2028, 2, 28), "previous", (D(2028, 1, 1), D(2028, 1, 28))),
        ("2028-02", D(2028, 2, 28), "year", (D(2027, 2, 1), D(2027, 2, 28))),
        # 1-29 Feb 2028 is the whole month -> the whole of Feb 2027 (28 days).
        ("2028-02", D(2028, 2, 29), "year", (D(2027, 2, 1), D(2027, 2, 28))),
    ],
)
def test_the_compared_span_has_the_same_months_and_day_clamped_to_the_shorter_month(
    period, end, compare, start_end
):
    other = compared_span(Span.of(Period.parse(period), end), compare)
    assert (other.start, other.end) == start_end


def test_compared_days_that_end_inside_a_month_are_seen_as_of_their_last_day_with_a_cut():
    # Data to 15 Oct: 1-15 Sep is read as if the data ran to 15 Sep, September cut there.
    data = DataRange(D(2024, 1, 1), D(2026, 10, 15))
    where = SegmentFilter(period=Period.parse("2026-10"))
    c = report.comparison(where, data)
    before = c.previous_filter(where)
    assert (before.period.label(), before.as_of) == ("2026-09", D(2026, 9, 15))
    seen = report.data_for(c, data)
    assert (seen.as_of, seen.loaded_to) == (D(2026, 9, 15), D(2026, 10, 15))
    win = window(before, seen)
    assert (win.start, win.end, win.cut) == (D(2026, 9, 1), D(2026, 9, 15), D(2026, 9, 1))
    # A span ending on a month's last day needs no cut: the facts hold that month whole.
    assert window(before.with_period(before.period, D(2026, 9, 30)), data).cut is None


def test_a_compared_span_that_fills_its_month_is_read_without_an_as_of_so_the_cube_answers():
    # 1-30 March -> all of February: the compared filter is February as a whole period.
    where = SegmentFilter(period=Period.parse("2026-03"), markets=("BR",))
    c = report.comparison(where, DataRange(D(2024, 1, 1), D(2026, 3, 30)))
    assert c.previous_filter(where) == where.with_period(Period.parse("2026-02"))
    # Q4 to 31 Oct -> Q3 read as of 31 July.
    where = SegmentFilter(period=Period.parse("2026-Q4"))
    assert report.comparison(where, OCT31).previous_filter(where).as_of == D(2026, 7, 31)


def test_the_comparison_choice_is_kept_by_the_filter_and_checked():
    where = SegmentFilter(period=Period.parse("2026-Q4"), compare="year")
    assert where.segment_only().compare == "year" and where.is_everyone()
    assert where.with_period(Period.parse("2026-Q3")).compare == "year"
    with pytest.raises(BadFilter) as exc:
        compared_span(Span.of(Period.parse("2026"), D(2026, 5, 31)), "last-year")
    assert (exc.value.field, exc.value.code) == ("vs", "unknown_compare")
    assert "previous, year" in str(exc.value)


# --- The tiny company: data to 2026-03-02, first enrolment 2025-01-10 (S01). -------------------


@pytest.fixture(scope="module")
def con(tiny_warehouse_template):
    with store.open_readonly(tiny_warehouse_template) as c:
        yield c


def _company(con, kpis, period, as_of=None, compare="previous"):
    where = SegmentFilter(
        period=Period.parse(period), as_of=as_of and D.fromisoformat(as_of), compare=compare
    )
    out = report.segment_report(Scoped.everywhere(con), kpis, where=where, cfg=load_config())
    return {r["kpi_id"]: r for r in out.iter_rows(named=True)}


@pytest.mark.parametrize("compare", ["previous", "year"])
def test_a_year_to_date_is_compared_with_the_same_months_of_the_year_before(con, compare):
    # 2026 as of 2026-02-28: 1 Jan - 28 Feb 2026 holds O015, $62.00 (10 Jan).
    # 1 Jan - 28 Feb 2025: O001 $65.00 (1 Feb) + O008 $55.00 (15 Feb) = $120.00, for both
    # "previous" and "year" (the period before a year is the year before).
    # Before: against all of 2025, $1,078.75 (every 2025 order: O001-O014).
    rows = _company(con, ["revenue"], "2026", "2026-02-28", compare)
    assert rows["revenue"]["value"] == pytest.approx(62.0)
    assert rows["revenue"]["previous"] == pytest.approx(120.0)
    assert rows["revenue"]["change"] == pytest.approx(-58.0)


def test_a_quarter_to_date_is_compared_with_the_same_days_of_the_quarter_before(con):
    # 2025-Q3 as of 2025-07-31: July holds O007 $44.00 and O014 $78.00 (1 Jul) = $122.00.
    # Q2 1-30 April: O003 $65.00 (2 Apr), O005 $142.50 (1 Apr), O012 $62.00 (15 Apr) =
    # $269.50. Before: all of Q2 = 269.50 + May (O010 $89.00) + June (O006 $71.25, O013
    # $78.00) = $507.75.
    rows = _company(con, ["revenue", "active_rate"], "2025-Q3", "2025-07-31")
    assert rows["revenue"]["value"] == pytest.approx(122.0)
    assert rows["revenue"]["previous"] == pytest.approx(269.5)
    # The active rate is taken on the compared span's last day, 30 April 2025 (before: 30
    # June). Live then: S01, S02, S05, S09 = 4. Active in the 30 days 1-30 April: S01 (O003),
    # S02 (O005), S09 (O012); S05's orders are 15 Feb, 17 Mar, 20 May -> 3/4.
    # (On 30 June: 5 live with S03; S01 enrolled S03 15 Jun, S02 O006, S09 O013 -> 3/5.)
    assert rows["active_rate"]["previous"] == pytest.approx(3 / 4)


def test_a_partial_quarter_against_a_year_earlier_and_against_nothing_before_the_data(con):
    # 2026-Q1 as of 2026-02-28, a year earlier: 1 Jan - 28 Feb 2025 = $120.00 (see above).
    rows = _company(con, ["revenue"], "2026-Q1", "2026-02-28", "year")
    assert rows["revenue"]["previous"] == pytest.approx(120.0)
    # 2025-Q3 to 31 July, a year earlier: July 2024 is before the first enrolment (2025-01-10).
    rows = _company(con, ["revenue"], "2025-Q3", "2025-07-31", "year")
    assert rows["revenue"]["previous"] is None and rows["revenue"]["change"] is None
    where = SegmentFilter(period=Period.parse("2025-Q3"), as_of=D(2025, 7, 31), compare="year")
    assert report.comparison(where, data_range(Scoped.everywhere(con))).previous_label == (
        "no comparison: the data starts on 2025-01-10"
    )


def test_a_month_to_date_is_compared_with_the_same_days_of_the_month_before(con):
    # 2026-03 holds 1-2 March (data to 2 March); compared with 1-2 February, seen on 2 Feb.
    # Live on 2 Feb 2026: 12 less S11 (joins 20 Feb), S06 (left 2025-10-15), S12 (left
    # 2026-01-31) = 9. Active in the 30 days 4 Jan - 2 Feb: S10 (O015, 10 Jan) and S07
    # (enrolled S08, 5 Jan) -> 2/9. Before: the whole of February, on 28 Feb: 10 live, only
    # S07 (enrolled S11 on 20 Feb) active -> 1/10.
    rows = _company(con, ["active_rate", "live_sellers"], "2026-03")
    assert rows["active_rate"]["previous"] == pytest.approx(2 / 9)
    assert rows["live_sellers"]["previous"] == 9


def test_a_year_to_date_cut_mid_month_leaves_out_the_compared_month_s_later_days(con):
    # 2026 to 2 March against 1 Jan - 2 Mar 2025: O001 $65 (1 Feb) + O008 $55 (15 Feb) =
    # $120; March 2025's orders O002 (3 Mar), O004 (10 Mar), O009 (17 Mar) fall after the 2nd.
    # Active on 2 Mar 2025: live S01, S02 (enrolled 1 Mar), S05 = 3; in 31 Jan - 2 Mar S01
    # sold O001 and S05 O008, S02 nothing -> 2/3.
    rows = _company(con, ["revenue", "active_rate"], "2026")
    assert rows["revenue"]["previous"] == pytest.approx(120.0)
    assert rows["active_rate"]["previous"] == pytest.approx(2 / 3)


def test_a_trend_marks_the_month_the_data_stops_inside(con):
    # Months to 2026-03: January and February are whole, March holds 1-2 March.
    out = report.trend(
        Scoped.everywhere(con),
        ["revenue"],
        months=3,
        where=SegmentFilter(period=Period.parse("2026-03")),
        cfg=load_config(),
    )
    marked = dict(out.select("month", "partial").iter_rows())
    assert marked == {D(2026, 1, 1): False, D(2026, 2, 1): False, D(2026, 3, 1): True}


def test_cxm_report_compares_year_over_year_and_stamps_the_compared_days(tiny_warehouse, tmp_path):
    out = tmp_path / "ytd.csv"
    result = CliRunner().invoke(
        app,
        [
            "report",
            "--kpi",
            "live_sellers",
            "--period",
            "2026",
            "--as-of",
            "2026-02-28",
            "--compare",
            "year",
            "--out",
            str(out),
            "--warehouse",
            str(tiny_warehouse),
        ],
    )
    assert result.exit_code == 0, result.output
    compared = "2026 to date (1 Jan–28 Feb) vs 2025 (1 Jan–28 Feb), the same days a year earlier"
    assert f"# Compared: {compared}\n" in out.read_text(encoding="utf-8-sig")
    assert "compared: 2026 to date" in " ".join(result.output.split())
    frame = pl.read_csv(out, comment_prefix="#")
    # Live on 28 Feb 2026: 12 less S06 and S12 (left) = 10 (n 10, not suppressed); on the
    # compared day, 28 Feb 2025: S01 (enrolled 10 Jan) and S05 (1 Feb) = 2.
    assert frame.select("value", "previous").row(0) == (10.0, 2.0)


def test_a_junk_vs_link_parameter_is_named_with_the_allowed_values_and_changes_nothing(con):
    from cxm.ui.filters import _from_url

    user = User(username="a", name="A", email="a@example.com", role=Role.ADMIN)
    data = data_range(Scoped.everywhere(con))
    chosen, problems = _from_url({"vs": "lastyear"}, user, load_config(), data, ())
    assert chosen == {}
    assert [(p.parameter, p.value) for p in problems] == [("vs", "lastyear")]
    assert problems[0].why.startswith("is not one of previous, year")
    chosen, problems = _from_url({"vs": "year"}, user, load_config(), data, ())
    assert chosen == {"vs": "year"} and problems == []


# --- The 20,000-seller demo, data to 2026-10-31. -----------------------------------------------


@pytest.fixture(scope="module")
def demo(demo_warehouse):
    with store.open_readonly(demo_warehouse) as c:
        yield c


def _orders(con, first: str, last: str, market: str | None = None) -> float:
    """Sum of order amounts from ``first`` to ``last`` (both included), straight from orders."""
    return float(
        con.execute(
            "SELECT sum(o.amount) FROM orders o JOIN sellers s USING (seller_id) "
            "WHERE CAST(o.ordered_at AS DATE) BETWEEN ? AND ? AND (? IS NULL OR s.market = ?)",
            [first, last, market, market],
        ).fetchone()[0]
    )


def test_on_the_demo_q4_to_date_is_october_against_july_and_2026_against_jan_oct_2025(demo):
    cfg = load_config()
    q4 = report.segment_report(
        Scoped.everywhere(demo), ["revenue"], by=["market"],
        where=SegmentFilter(period=Period.parse("2026-Q4")), cfg=cfg,
    )  # fmt: skip
    br = q4.filter(pl.col("market") == "BR").row(0, named=True)
    assert br["value"] == pytest.approx(_orders(demo, "2026-10-01", "2026-10-31", "BR"))
    assert br["previous"] == pytest.approx(_orders(demo, "2026-07-01", "2026-07-31", "BR"))
    # Before: against all of Q3, Brazil read about -65%; like for like it is within a few %.
    assert abs(br["value"] / br["previous"] - 1) < 0.1
    year = report.segment_report(
        Scoped.everywhere(demo), ["revenue"], where=SegmentFilter(period=Period.parse("2026")),
        cfg=cfg,
    ).row(0, named=True)  # fmt: skip
    now, before = (
        _orders(demo, "2026-01-01", "2026-10-31"),
        _orders(demo, "2025-01-01", "2025-10-31"),
    )
    assert year["value"] == pytest.approx(now) and year["previous"] == pytest.approx(before)
    whole_2025 = _orders(demo, "2025-01-01", "2025-12-31")
    assert year["change"] / year["previous"] == pytest.approx(now / before - 1)
    assert now / before - 1 > now / whole_2025 - 1 + 0.2  # e.g. +37% like for like, not +8%


def test_a_month_cut_on_its_last_day_reads_every_measure_as_the_monthly_facts_do(demo):
    # The cut month is read from the raw tables (cxm.segments.cut); cut on 30 September it
    # must give, seller segment by seller segment, what the September facts give.
    from cxm.metrics.cube import cube_measures

    cfg, where = load_config(), SegmentFilter(period=Period.parse("2026-Q3"))
    whole = window(
        where.with_period(where.period, D(2026, 9, 30)), data_range(Scoped.everywhere(demo))
    )
    measures = [*cube_measures(), "line_buyers", "line_rebuyers", "line_buyers_open"]

    def sums(win):
        return measure_sums(
            Scoped.everywhere(demo), measures, by=["market"], where=where, cfg=cfg, win=win
        ).sort("market")

    facts, cut = sums(whole), sums(replace(whole, cut=D(2026, 9, 1)))
    assert facts.columns == cut.columns and facts.height == 6
    for column in facts.columns[1:]:
        assert cut[column].to_list() == pytest.approx(facts[column].to_list()), column


def test_on_the_demo_a_compared_half_month_is_summed_from_its_own_days(demo):
    # Seen as if the data ran to 15 September 2026: 1-15 September, revenue straight from the
    # orders of those days (the September facts hold the whole month).
    data = data_range(Scoped.everywhere(demo))
    seen = replace(data, as_of=D(2026, 9, 15), loaded_to=data.as_of)
    out = compute(
        Scoped.everywhere(demo), ["revenue"], by=["market"],
        where=SegmentFilter(period=Period.parse("2026-09"), as_of=D(2026, 9, 15)),
        cfg=load_config(), data=seen,
    )  # fmt: skip
    br = out.filter(pl.col("market") == "BR")["value"].item()
    assert br == pytest.approx(_orders(demo, "2026-09-01", "2026-09-15", "BR"))
    assert br < 0.7 * _orders(demo, "2026-09-01", "2026-09-30", "BR")


def test_the_trend_chart_marks_the_month_the_data_stops_inside_as_to_date():
    from cxm.metrics.kpis import get
    from cxm.ui import charts

    # Two whole months and March to 2 March (the tiny company's data): only March is marked.
    frame = pl.DataFrame(
        {
            "month": [D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1)],
            "kpi_id": ["revenue"] * 3,
            "value": [62.0, 0.0, 0.0],
            "n": [1, 0, 0],
            "partial": [False, False, True],
        }
    )
    fig = charts.trend(frame, get("revenue"), load_config())
    assert [a.text for a in fig.layout.annotations] == ["to date"]
    assert [c[2] for c in fig.data[0].customdata] == ["", "", " to date"]


def _app(app_env, **params):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file("../app.py", default_timeout=60)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = "admin"
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def test_a_vs_year_link_compares_tiles_with_the_same_days_a_year_earlier(app_env):
    # The tiny company's data runs to 2 March 2026: Q1 2026 to date is 1 Jan - 2 Mar, and a
    # year earlier the same days of Q1 2025; active sellers are taken on 2 March 2025.
    at = _app(app_env, period="2026-Q1", vs="year")
    assert not at.exception
    assert at.radio(key="f_vs").value == "year" and at.query_params["vs"] == "year"
    captions = " ".join(c.value for c in at.caption)
    assert "in Q1 2026 to date (1 Jan–2 Mar)" in captions
    assert "vs Q1 2025 (1 Jan–2 Mar)" in captions and "vs 2 Mar 2025" in captions


def test_a_junk_vs_link_is_named_and_the_previous_period_is_shown(app_env):
    at = _app(app_env, period="2026-Q1", vs="lastyear")
    warnings = " ".join(w.value for w in at.warning)
    assert 'Link parameter vs: "lastyear" is not one of previous, year' in warnings
    assert at.radio(key="f_vs").value == "previous" and "vs" not in at.query_params
    # Q1 to 2 March (its third month, day 2) against Q4 2025 to 2 December; active sellers
    # on 2 December 2025.
    captions = " ".join(c.value for c in at.caption)
    assert "vs Q4 2025 (1 Oct–2 Dec)" in captions and "vs 2 Dec 2025" in captions


def test_the_cube_answers_a_whole_compared_month_but_not_one_cut_short(demo):
    from cxm.metrics import cube
    from cxm.metrics.kpis import get

    first = data_range(Scoped.everywhere(demo)).first_on
    kpis = [get("revenue"), get("active_rate")]
    # Data to 31 Oct: October against all of September, which the cube holds.
    where = SegmentFilter(period=Period.parse("2026-10"))
    whole = report.comparison(where, DataRange(first, D(2026, 10, 31))).previous_filter(where)
    assert whole.as_of is None and cube.answers(Scoped.everywhere(demo), kpis, [()], whole)
    # Data to 15 Oct: 1-15 September, which the cube (whole months) cannot answer.
    cut = report.comparison(where, DataRange(first, D(2026, 10, 15))).previous_filter(where)
    assert cut.as_of == D(2026, 9, 15) and not cube.answers(
        Scoped.everywhere(demo), kpis, [()], cut
    )


def test_the_kpis_page_says_what_previous_and_change_are_measured_against(app_env):
    at = _app(app_env, period="2026", vs="year")
    at.switch_page("app_pages/kpis.py").run()
    assert not at.exception
    # Data to 2 March 2026: the year to date against the same days of 2025.
    assert (
        "Previous and change: 2026 to date (1 Jan–2 Mar) vs 2025 (1 Jan–2 Mar), the same days "
        "a year earlier." in [c.value for c in at.caption]
    )


def test_a_sparkline_draws_a_month_to_date_dashed_and_colours_the_last_whole_move():
    from cxm.ui import charts

    # Revenue 100 -> 120 in whole months, then 40 in a month to date: a rise, not a fall.
    to_date = charts.sparkline_svg([100.0, 120.0, 40.0], "higher", partial_last=True)
    assert 'stroke="#009E73"' in to_date and 'stroke-dasharray="3 3"' in to_date
    whole = charts.sparkline_svg([100.0, 120.0, 40.0], "higher")
    assert 'stroke="#D55E00"' in whole and "stroke-dasharray" not in whole


def test_a_period_after_the_data_has_no_comparison_but_the_error_compute_gives():
    # Data to 31 Oct 2026: December 2026 holds no day of it.
    with pytest.raises(BadFilter) as exc:
        report.comparison(SegmentFilter(period=Period.parse("2026-12")), OCT31)
    assert (exc.value.field, exc.value.code) == ("period", "period_outside_data")
