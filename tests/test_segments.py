"""Periods, segment filters and the requests `compute` refuses, matched on code and field."""

from __future__ import annotations

import datetime as dt

import pytest

from cxm.access import OutOfScope, Scope
from cxm.config import load_config
from cxm.errors import BadFilter
from cxm.metrics.compute import compute
from cxm.segments import Period, SegmentFilter
from cxm.warehouse import store
from cxm.warehouse.scoped import Scoped

CFG = load_config()
Q1 = Period.parse("2026-Q1")


@pytest.fixture(scope="module")
def con(tiny_warehouse_template):
    # The tiny company: first enrolment 2025-01-10, newest event (its as-of) 2026-03-02.
    with store.open_readonly(tiny_warehouse_template) as c:
        yield c


# --- periods --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "start", "end", "previous"),
    [
        ("2026-10", "month", dt.date(2026, 10, 1), dt.date(2026, 10, 31), "2026-09"),
        ("2026-01", "month", dt.date(2026, 1, 1), dt.date(2026, 1, 31), "2025-12"),
        ("2028-02", "month", dt.date(2028, 2, 1), dt.date(2028, 2, 29), "2028-01"),
        ("2026-Q3", "quarter", dt.date(2026, 7, 1), dt.date(2026, 9, 30), "2026-Q2"),
        ("2026-Q1", "quarter", dt.date(2026, 1, 1), dt.date(2026, 3, 31), "2025-Q4"),
        ("2026", "year", dt.date(2026, 1, 1), dt.date(2026, 12, 31), "2025"),
    ],
)
def test_a_period_knows_its_days_and_the_period_before_it(text, kind, start, end, previous):
    p = Period.parse(text)
    assert (p.kind, p.start, p.end) == (kind, start, end)
    assert p.label() == text
    assert p.previous().label() == previous


def test_two_steps_back_from_a_quarter_crosses_the_year():
    assert Period.parse("2026-Q1").previous(2).label() == "2025-Q3"


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "Q3-2026", "", "2026-Q5", "26-10", None])
def test_a_string_that_is_not_a_period_is_refused_as_bad_period(text):
    with pytest.raises(BadFilter) as err:
        Period.parse(text)
    assert (err.value.code, err.value.field) == ("bad_period", "period")


def test_a_bad_period_names_the_field_it_came_from():
    with pytest.raises(BadFilter) as err:
        Period.parse("2026-Q5", field="compare_to")
    assert (err.value.code, err.value.field, err.value.value) == (
        "bad_period",
        "compare_to",
        "2026-Q5",
    )


# --- segment filters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "code", "field", "value"),
    [
        ({"markets": ("US", "UK")}, "unknown_market", "market", "UK"),
        ({"ranks": ("Boss",)}, "unknown_rank", "rank", "Boss"),
        ({"rank_at_least": "Manger"}, "unknown_rank", "rank_at_least", "Manger"),
        ({"languages": ("pt",)}, "unknown_language", "language", "pt"),
        ({"statuses": ("dormant",)}, "unknown_status", "status", "dormant"),
        ({"tenure_bands": ("1-3 years",)}, "unknown_tenure_band", "tenure_band", "1-3 years"),
        ({"training_tiers": ("expert",)}, "unknown_training_tier", "training_tier", "expert"),
        ({"cohorts": (26,)}, "bad_cohort", "cohort", 26),
    ],
)
def test_a_filter_value_the_company_does_not_know_is_refused_with_its_field(
    changes, code, field, value
):
    with pytest.raises(BadFilter) as err:
        SegmentFilter(period=Q1, **changes).check(CFG)
    assert (err.value.code, err.value.field, err.value.value) == (code, field, value)


def test_a_filter_of_known_values_checks_out_unchanged():
    f = SegmentFilter(
        period=Q1,
        markets=("US", "BR"),
        languages=("pt-BR",),
        ranks=("Member",),
        rank_at_least="Consultant",
        statuses=("active", "new"),
        cohorts=(2025,),
    )
    assert f.check(CFG) is f


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({}, "all sellers, Q1 2026"),
        (
            {
                "markets": ("BR", "MX"),
                "rank_at_least": "Manager",
                "period": Period.parse("2026-10"),
            },
            "all sellers at Manager and above in BR and MX, October 2026",
        ),
        (
            {"statuses": ("active", "new"), "languages": ("pt-BR",), "ranks": ("Member",)},
            "active and new sellers ranked Member speaking pt-BR, Q1 2026",
        ),
        (
            {
                "markets": ("US", "CA", "MX"),
                "cohorts": (2024, 2025),
                "period": Period.parse("2026"),
            },
            "all sellers in US, CA and MX enrolled in 2024 and 2025, 2026",
        ),
        ({"as_of": dt.date(2026, 2, 28)}, "all sellers, Q1 2026, as of 2026-02-28"),
    ],
)
def test_a_filter_describes_itself_for_captions(kwargs, text):
    kwargs = {"period": Q1, **kwargs}
    assert SegmentFilter(**kwargs).describe() == text


def test_a_filter_refuses_an_unknown_key():
    with pytest.raises(ValueError):
        SegmentFilter(period=Q1, market=("US",))


# --- requests compute refuses ---------------------------------------------------------------


def _compute(con, kpis=("live_sellers",), by=(), scope=None, **where):
    # A scope given here is only ever refused before anything is read, so the data it
    # comes with is the whole company's.
    where = {"period": Q1, **where}
    return compute(
        Scoped(con=con, scope=scope or Scope.everywhere()),
        list(kpis),
        by=list(by),
        where=SegmentFilter(**where),
        cfg=CFG,
    )


def test_an_unknown_kpi_is_refused_with_the_nearest_id(con):
    with pytest.raises(BadFilter) as err:
        _compute(con, kpis=("live_sellers", "active_rat"))
    assert (err.value.code, err.value.field, err.value.value) == (
        "unknown_kpi",
        "kpi",
        "active_rat",
    )
    assert '"active_rate"' in err.value.reason


def test_an_unknown_dimension_is_refused(con):
    with pytest.raises(BadFilter) as err:
        _compute(con, by=("region",))
    assert (err.value.code, err.value.field, err.value.value) == (
        "unknown_dimension",
        "by",
        "region",
    )


def test_product_line_splits_only_product_line_kpis(con):
    with pytest.raises(BadFilter) as err:
        _compute(con, kpis=("line_reorder_rate", "revenue"), by=("product_line",))
    assert (err.value.code, err.value.field) == ("unknown_dimension", "by")


def test_three_dimensions_are_the_most_one_breakdown_takes(con):
    # rank x market x language is allowed (docs: "at most three dimensions"); a fourth is not.
    out = _compute(con, by=("rank", "market", "language"))
    assert set(out.columns) >= {"rank", "market", "language", "value"}
    with pytest.raises(BadFilter) as err:
        _compute(con, by=("rank", "market", "language", "status"))
    assert (err.value.code, err.value.field) == ("too_many_dimensions", "by")


@pytest.mark.parametrize("period", ["2030-01", "2027", "2024-12", "2024-Q4"])
def test_a_period_without_data_is_refused(con, period):
    # The data run from 2025-01-10 to 2026-03-02.
    with pytest.raises(BadFilter) as err:
        _compute(con, period=Period.parse(period))
    assert (err.value.code, err.value.field, err.value.value) == (
        "period_outside_data",
        "period",
        period,
    )


@pytest.mark.parametrize(
    ("as_of", "code"),
    [
        (dt.date(2026, 4, 30), "as_of_outside_data"),  # after the data's as-of, 2026-03-02
        (dt.date(2024, 12, 31), "as_of_outside_data"),  # before the first enrolment
        (dt.date(2026, 2, 15), "as_of_not_month_end"),
        (dt.date(2026, 3, 1), "as_of_not_month_end"),
    ],
)
def test_an_unusable_as_of_date_is_refused(con, as_of, code):
    with pytest.raises(BadFilter) as err:
        _compute(con, as_of=as_of)
    assert (err.value.code, err.value.field, err.value.value) == (code, "as_of", as_of)


@pytest.mark.parametrize("as_of", [dt.date(2026, 1, 31), dt.date(2026, 3, 2)])
def test_a_month_end_or_the_datas_own_as_of_date_is_accepted(con, as_of):
    out = _compute(con, as_of=as_of)
    assert out.height == 1


def test_a_market_outside_the_users_scope_is_refused(con):
    with pytest.raises(OutOfScope):
        _compute(con, markets=("US", "BR"), scope=Scope(markets=("US",)))


def test_an_empty_scope_refuses_every_market(con):
    with pytest.raises(OutOfScope):
        _compute(con, markets=("US",), scope=Scope(markets=()))


def test_a_filter_error_comes_before_any_query(con):
    # The unknown market is reported even though the period has no data either.
    with pytest.raises(BadFilter) as err:
        _compute(con, markets=("UK",), period=Period.parse("2030-01"))
    assert (err.value.code, err.value.field) == ("unknown_market", "market")
