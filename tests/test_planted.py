"""The demo company's planted effects, found again through the KPI API (not through SQL).

The demo is the 20,000-seller company, seed 7, as of 2026-10-31 (tests/conftest.py); what is
planted, and by how much, is in cxm/warehouse/demo/_calibration.py and docs/demo-data.md.
"""

from __future__ import annotations

import pytest

from cxm.config import load_config
from cxm.metrics import compute
from cxm.segments import Period, SegmentFilter
from cxm.warehouse import store
from cxm.warehouse.scoped import Scoped


@pytest.fixture(scope="module")
def con(demo_warehouse):
    with store.open_readonly(demo_warehouse) as c:
        yield c


def _by(con, kpi: str, dim: str, period: str) -> dict:
    out = compute(
        Scoped.everywhere(con),
        [kpi],
        by=[dim],
        where=SegmentFilter(period=Period.parse(period)),
        cfg=load_config(),
    )
    return {r[dim]: r["value"] for r in out.iter_rows(named=True) if not r["small"]}


def test_brazil_has_the_widest_experience_gap(con):
    # Planted: corporate rates attributes superior 80% of the time everywhere; customers 30%,
    # in Brazil 8% -> a gap of about 72 pp in Brazil, about 50 elsewhere. A year: the
    # corporate pulse is a few dozen people a market a quarter.
    gaps = _by(con, "experience_gap_pp", "market", "2026")
    assert max(gaps, key=gaps.get) == "BR"
    assert gaps["BR"] == pytest.approx(72, abs=8)
    assert gaps["BR"] - max(v for m, v in gaps.items() if m != "BR") >= 12


def test_sellers_with_a_sale_in_their_first_30_days_retain_markedly_better(con):
    # Planted: year-one churn 24% with an early sale, 56% without -> 76% against 44% kept.
    kept = _by(con, "seller_retention_12m", "fast_start", "2025")
    assert kept["sold in first 30 days"] == pytest.approx(0.76, abs=0.06)
    assert kept["no sale in first 30 days"] == pytest.approx(0.44, abs=0.06)


def test_the_detox_kit_is_bought_once_and_not_reordered(con):
    # Planted: the 10-Day Detox Kit appears only on a customer's first order.
    reorder = _by(con, "line_reorder_rate", "product_line", "2025")
    assert reorder.pop("detox_kit") < 0.02
    assert min(reorder.values()) > 0.3


def test_the_average_order_shrinks_over_the_last_two_quarters(con):
    # Planted: amounts fall linearly by up to 18% over the 182 days to 2026-10-31 (from May 2).
    # Mean shrink: Q2 ~2% (only May-June), Q3 ~10.5%, October ~16.6%; seasonality moves
    # months by 1-3% -> Q3 about 8-9% under Q2, October 3-4% under Q3.
    where = SegmentFilter(period=Period.parse("2026-Q1"))
    q2, q3, october = (
        compute(
            Scoped.everywhere(con),
            ["avg_order_amount"],
            where=where.with_period(Period.parse(p)),
            cfg=load_config(),
        )["value"].item()
        for p in ("2026-Q2", "2026-Q3", "2026-10")
    )
    assert q3 < 0.95 * q2
    assert october < 0.99 * q3


def test_french_speaking_sellers_are_under_served_by_training(con):
    # Planted: French content exists for only 2 of 16 courses.
    courses = _by(con, "courses_per_seller", "language", "2025")
    assert courses.pop("fr") < 0.6 * min(courses.values())


def test_leaders_stay_retention_rises_steeply_with_rank(con):
    # Planted: leavers come from the entry ranks (TERMINATED_RANK_SHARES: 88% Member, 0.5% at
    # Manager and above), so 12-month retention is about 40% at the entry rank, 90%+ above.
    kept = _by(con, "seller_retention_12m", "rank", "2025")
    assert kept.pop("Member") < 0.5
    assert min(kept.values()) > 0.85


def test_when_a_sponsor_leaves_their_downline_follows_within_90_days(con):
    # Planted: half the live downline leaves 30-60 days after the sponsor (DirecTech Labs);
    # every 90-day window of 2025 closed by the data's as-of date (2026-10-31), so the year
    # reads about 50%. Against about 8% of all live sellers leaving in a quarter.
    where = SegmentFilter(period=Period.parse("2025"))
    after = compute(
        Scoped.everywhere(con),
        ["churn_after_sponsor_left"],
        where=where,
        cfg=load_config(),
    )["value"].item()
    quarterly = compute(
        Scoped.everywhere(con),
        ["seller_churn_rate"],
        where=where.with_period(Period.parse("2025-Q4")),
        cfg=load_config(),
    )["value"].item()
    assert 0.35 < after < 0.55
    assert after > 4 * quarterly


def test_service_drives_customer_nps_most_and_delivery_least(con):
    # Planted NPS_DRIVERS: service 0.7, value 0.5, quality 0.35, ease 0.2, delivery 0.05.
    from cxm.metrics import experience

    drivers = experience.drivers(
        Scoped.everywhere(con),
        where=SegmentFilter(period=Period.parse("2026")),
        cfg=load_config(),
    )
    order = drivers.sort("importance", descending=True)["attribute"].to_list()
    assert order == ["service", "value", "quality", "ease", "delivery"]


def _cells(con, kpi: str, period: str = "2026") -> dict:
    out = compute(
        Scoped.everywhere(con),
        [kpi],
        by=["market", "channel"],
        where=SegmentFilter(period=Period.parse(period)),
        cfg=load_config(),
    )
    return {(r["market"], r["channel"]): r["value"] for r in out.iter_rows(named=True)}


def test_one_channel_wins_customers_worth_less_than_they_cost(con):
    # Planted (demo/_acquisition.py): events cost $260 a customer in every market, more than
    # a customer's predicted 12-month margin; every other channel pays back within the year.
    ratio = _by(con, "clv_cac_ratio", "channel", "2026")
    assert ratio["events"] < 1
    assert min(v for ch, v in ratio.items() if ch != "events") > 1.2
    by_cell = _cells(con, "clv_cac_ratio")
    # (A market whose customers the value model could not score has no value: left out.)
    events = [v for (_, ch), v in by_cell.items() if ch == "events" and v is not None]
    assert len(events) >= 5 and all(v < 1 for v in events)


def test_mexico_is_where_seller_referred_customers_are_worth_the_most(con):
    # Planted: in MX sellers refer their autoship customers (95% of them against 15% of
    # one-time buyers), so a referred new customer there is worth the most of any market x
    # channel; elsewhere referral is blind to the customer's kind.
    value = {k: v for k, v in _cells(con, "new_customer_value").items() if v is not None}
    assert max(value, key=value.get) == ("MX", "seller_referred")
    others = [v for (m, ch), v in value.items() if ch == "seller_referred" and m != "MX"]
    assert value[("MX", "seller_referred")] > 1.2 * max(others)
