"""Invariants of `compute` on the small demo company, for random scopes and filters.

A filter keeps its markets' numbers as they are; with no tie across markets a scope reads as
the same market filter (with ties: tests/test_scope_cut.py). Segments add up: the sellers,
revenue and orders of the ranks (or statuses) of a segment sum to the segment's.
The small demo's data run to 2026-10-31; its markets are US, CA, MX, BR, DE and JP.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxm.access import OutOfScope, Scope
from cxm.config import load_config
from cxm.metrics.compute import compute
from cxm.segments import Period, SegmentFilter
from cxm.segments.filter import STATUSES
from cxm.warehouse import store
from cxm.warehouse.scoped import Scoped
from tests.conftest import company

CFG = load_config()
MARKETS = ("US", "CA", "MX", "BR", "DE", "JP")
#: KPIs whose value for several markets is the sum of their values for each.
ADDITIVE = ("live_sellers", "active_sellers", "enrollments", "revenue", "orders", "new_customers")
#: One KPI of each kind and source: counts, ratios of seller and order measures, NPS, both
#: gaps (their corporate side is read apart), the ticket median and the product-line KPI.
EACH_KIND = (
    "active_rate",
    "churn_after_sponsor_left",
    "downline_growth",
    "autoship_share",
    "customer_retention_90d",
    "customer_nps",
    "experience_gap_pp",
    "seller_experience_gap_pp",
    "median_first_response_hours",
    "line_reorder_rate",
)
PERIODS = ("2026-10", "2026-Q3")
FAST = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def con(small_demo_warehouse):
    with store.open_readonly(small_demo_warehouse) as c:
        yield c


def _subset(values, max_size=None):
    if not values:
        return st.just(())
    return st.lists(st.sampled_from(values), unique=True, max_size=max_size).map(tuple)


@st.composite
def requests(draw):
    """Return a filter of random markets, ranks, languages and statuses."""
    return SegmentFilter(
        period=Period.parse(draw(st.sampled_from(PERIODS))),
        markets=draw(_subset(MARKETS, max_size=3)),
        ranks=draw(_subset(CFG.ranks, max_size=3)),
        languages=draw(_subset(CFG.languages, max_size=3)),
        statuses=draw(_subset(STATUSES, max_size=2)),
    )


def _by_key(frame, column):
    """Return {(kpi_id, market): column} of a frame broken down by market."""
    return {(r["kpi_id"], r["market"]): r[column] for r in frame.iter_rows(named=True)}


def _total(frame, kpi_id):
    row = frame.filter(frame["kpi_id"] == kpi_id).row(0, named=True)
    return row["value"] or 0, row["n"]


@FAST
@given(where=requests())
def test_a_market_filter_shows_only_its_markets_and_their_numbers_add_up(con, where):
    everyone = Scoped.everywhere(con)
    by_market = compute(everyone, list(ADDITIVE), by=["market"], where=where, cfg=CFG)
    total = compute(everyone, list(ADDITIVE), where=where, cfg=CFG)
    unfiltered = compute(
        everyone, list(ADDITIVE), by=["market"], where=where.model_copy(update={"markets": ()}),
        cfg=CFG,
    )  # fmt: skip
    inside = where.markets or MARKETS
    assert set(by_market["market"]) <= set(inside)
    # Each market kept has the numbers it has without the market filter.
    theirs = unfiltered.filter(unfiltered["market"].is_in(inside))
    for column in ("value", "n"):
        assert _by_key(by_market, column) == pytest.approx(_by_key(theirs, column))
    for kpi_id in ADDITIVE:
        part = theirs.filter(theirs["kpi_id"] == kpi_id)
        value, n = _total(total, kpi_id)
        # An empty segment has a null value (no sellers), which adds as 0.
        assert value == pytest.approx(part["value"].fill_null(0).sum()), kpi_id
        assert n == part["n"].sum(), kpi_id


@settings(FAST, max_examples=4)  # each new scope builds its company (a second or two)
@given(scope=st.lists(st.sampled_from(MARKETS), unique=True, min_size=1).map(tuple))
def test_with_no_tie_across_markets_a_scope_gives_every_kpi_what_the_market_filter_gives(
    con, small_demo_warehouse, scope
):
    # The small demo has no sponsor, customer, order, answer or ticket across markets, so
    # the company cut to some markets reads as the whole company filtered to them: ratios,
    # NPS, the corporate side of the gaps, medians and the product-line KPI alike. With ties,
    # the cut differs (tests/test_scope_cut.py).
    ids = list(EACH_KIND)
    period = Period.parse("2026-Q3")
    with company(small_demo_warehouse, *scope) as mine:
        scoped = compute(mine, ids, where=SegmentFilter(period=period), cfg=CFG)
    filtered = compute(
        Scoped.everywhere(con), ids, where=SegmentFilter(period=period, markets=scope), cfg=CFG
    )
    assert scoped["kpi_id"].to_list() == filtered["kpi_id"].to_list()
    assert scoped["n"].to_list() == filtered["n"].to_list()
    # The same sums in another order may differ in the last bit of a double.
    assert scoped["value"].to_list() == pytest.approx(filtered["value"].to_list(), nan_ok=True)


@FAST
@given(scope=_subset(MARKETS), outside=st.sampled_from(MARKETS))
def test_a_filter_naming_a_market_outside_the_scope_is_refused(con, scope, outside):
    if outside in scope:
        return
    where = SegmentFilter(period=Period.parse("2026-10"), markets=(*scope, outside))
    # Refused before anything is read, whatever the data it comes with.
    with pytest.raises(OutOfScope):
        compute(Scoped(con=con, scope=Scope(markets=scope)), ["live_sellers"], where=where, cfg=CFG)


@FAST
@given(where=requests(), dimension=st.sampled_from(["rank", "status"]))
def test_the_segments_of_a_breakdown_add_up_to_the_total(con, where, dimension):
    ids = ["live_sellers", "revenue", "orders"]
    everyone = Scoped.everywhere(con)
    total = compute(everyone, ids, where=where, cfg=CFG)
    parts = compute(everyone, ids, by=[dimension], where=where, cfg=CFG)
    for kpi_id in ids:
        part = parts.filter(parts["kpi_id"] == kpi_id)
        assert part[dimension].n_unique() == part.height, "one row per segment"
        value, n = _total(total, kpi_id)
        assert n == part["n"].sum(), kpi_id
        assert value == pytest.approx(part["value"].fill_null(0).sum()), kpi_id


def test_the_properties_above_are_not_vacuous_every_market_and_status_has_numbers(con):
    # The sums above would hold for empty frames too; the demo is not empty anywhere.
    where = SegmentFilter(period=Period.parse("2026-Q3"))
    for dimension, expected in (("market", set(MARKETS)), ("status", set(STATUSES))):
        out = compute(
            Scoped.everywhere(con),
            ["live_sellers", "orders"],
            by=[dimension],
            where=where,
            cfg=CFG,
        )
        assert set(out[dimension]) == expected
        orders = out.filter(out["kpi_id"] == "orders")
        live = out.filter(out["kpi_id"] == "live_sellers")
        if dimension == "market":
            assert (orders["value"] > 0).all() and (live["value"] > 0).all()
        else:
            assert orders["value"].sum() > 0 and (live["value"].fill_null(0) > 0).sum() == 3
