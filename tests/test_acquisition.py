"""Acquisition economics (issue 24) worked out by hand on tests/fixtures/kpi_company.

2026-Q1, as of 2026-03-31. New customers (first order in Q1) and their acquisition channels:

    customer  market  channel           clv_12m set here (15 customers are too few to fit)
    CU2       US      paid_social       200
    CU5       US      search            150
    CU6       US      seller_referred   300
    CB2       BR      seller_referred   100
    CB3       BR      seller_referred   250
    CB8       BR      paid_social        50
    CB6       BR      (not recorded)     80

Spend on customers in January to March (marketing_spend.csv; December's 500 is out): US
paid_social 150, search 90, seller_referred 30; BR paid_social 120, search 40. The gross
margin is 0.4 (company.yaml). tests/test_metrics.py has the market totals of every KPI.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from cxm.access import Scope
from cxm.cli import app
from cxm.config import load_config
from cxm.errors import BadFilter
from cxm.metrics.compute import compute
from cxm.pipeline import import_dir, open_scoped
from cxm.segments import Period, SegmentFilter
from cxm.warehouse import store
from cxm.warehouse.scoped import Scoped

from .conftest import FIXTURES

CFG = load_config()
AS_OF = dt.date(2026, 3, 31)
VALUES = {"CU2": 200, "CU5": 150, "CU6": 300, "CB2": 100, "CB3": 250, "CB8": 50, "CB6": 80}


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    path = tmp_path_factory.mktemp("acquisition") / "w.duckdb"
    import_dir(FIXTURES / "kpi_company", path=path, today=AS_OF)
    with duckdb.connect(str(path)) as con:
        (as_of,) = con.execute("SELECT max(data_as_of) FROM cxm_loads").fetchone()
        for customer, value in VALUES.items():
            con.execute(
                "INSERT INTO fact_customer_value BY NAME SELECT ? AS customer_id, "
                "? AS clv_12m, ? AS scored_as_of",
                [customer, value, as_of],
            )
    return path


@pytest.fixture(scope="module")
def con(path):
    with store.open_readonly(path) as c:
        yield c


def _by(con, kpi: str, dim: str, period: str = "2026-Q1") -> dict:
    out = compute(
        Scoped.everywhere(con),
        [kpi],
        by=[dim],
        where=SegmentFilter(period=Period.parse(period)),
        cfg=CFG,
    )
    return {r[dim]: (r["value"], r["n"]) for r in out.iter_rows(named=True)}


# (kpi, dimension, segment, value, n)
CASES = [
    # CAC by channel, both markets: paid_social (150 + 120) / CU2, CB8 = 135; search
    # (90 + 40) / CU5 = 130; seller_referred 30 / CU6, CB2, CB3 = 10.
    ("cac", "channel", "paid_social", 270 / 2, 2),
    ("cac", "channel", "seller_referred", 30 / 3, 3),
    # Value of a new customer: 0.4 x clv. US 0.4 x (200 + 150 + 300) = 260 over 3 = 86.67;
    # BR 0.4 x (100 + 250 + 50 + 80) = 192 over 4 = 48. By channel: paid_social 0.4 x (200 +
    # 50) = 100 over 2; seller_referred 0.4 x (300 + 100 + 250) = 260 over 3.
    ("new_customer_value", "market", "US", 260 / 3, 3),
    ("new_customer_value", "market", "BR", 192 / 4, 4),
    ("new_customer_value", "channel", "paid_social", 100 / 2, 2),
    ("new_customer_value", "channel", "seller_referred", 260 / 3, 3),
    # CLV/CAC: US 260 / 270 = 0.96 (worth a little less than they cost); BR 192 / 160 = 1.2.
    # paid_social 100 / 270 = 0.37; seller_referred 260 / 30 = 8.67.
    ("clv_cac_ratio", "market", "US", 260 / 270, 3),
    ("clv_cac_ratio", "market", "BR", 192 / 160, 4),
    ("clv_cac_ratio", "channel", "paid_social", 100 / 270, 2),
    ("clv_cac_ratio", "channel", "seller_referred", 260 / 30, 3),
    # Payback = 12 x spend / value: US 12 x 270 / 260 = 12.46 months; BR 12 x 160 / 192 = 10;
    # paid_social 12 x 270 / 100 = 32.4; seller_referred 12 x 30 / 260 = 1.38.
    ("payback_months", "market", "US", 12 * 270 / 260, 3),
    ("payback_months", "market", "BR", 12 * 160 / 192, 4),
    ("payback_months", "channel", "paid_social", 12 * 270 / 100, 2),
    ("payback_months", "channel", "seller_referred", 12 * 30 / 260, 3),
    # Seller acquisition cost by channel: new sellers US7 paid_social (spend US paid_social
    # sellers 60) -> (60 + 25) / 1 = 85; BR7 search (spend BR search sellers 80) -> (80 + 25)
    # / 1 = 105; US6, BR6, BR8 seller_referred, no spend -> 25 each.
    ("seller_cac", "channel", "paid_social", 85.0, 1),
    ("seller_cac", "channel", "seller_referred", 25.0, 3),
    # Leads created in Q1 by channel: paid_social LU3, LB2 = 2; search LU2, LU4, LB3 = 3.
    ("leads", "channel", "paid_social", 2, 2),
    ("leads", "channel", "search", 3, 3),
    # All spend in Jan-Mar by channel over those leads: paid_social 150 + 120 + 60 = 330 / 2;
    # search 90 + 40 + 80 = 210 / 3 = 70.
    ("cost_per_lead", "channel", "paid_social", 330 / 2, 2),
    ("cost_per_lead", "channel", "search", 210 / 3, 3),
    # Day 30 in Q1 (created 2025-12-02..2026-03-01): paid_social LU1 (day 41) no, LU3 no, LB1
    # (day 38) no, LB2 (day 46) no -> 0/4; search LU2 (day 2) yes, LU4 (day 11) yes -> 2/2.
    ("lead_conversion_30d", "channel", "paid_social", 0 / 4, 4),
    ("lead_conversion_30d", "channel", "search", 2 / 2, 2),
    # Day 90 in Q1 (created 2025-10-03..12-31): paid_social LU1 (41) yes, LU5 never, LB1 (38)
    # yes -> 2/3; search LB4 (day 85) yes -> 1/1.
    ("lead_conversion_90d", "channel", "paid_social", 2 / 3, 3),
    ("lead_conversion_90d", "channel", "search", 1 / 1, 1),
    # Won by sellers, by the serving seller's rank on 03-31: Member CU5 (US5, search), CU6
    # (US6, referred), CB3 (BR5, referred) -> 2/3 (CB6 of BR7 has no channel recorded);
    # Manager CB2 (BR2, referred), CB8 (BR2, paid_social) -> 1/2.
    ("seller_won_share", "rank", "Member", 2 / 3, 3),
    ("seller_won_share", "rank", "Manager", 1 / 2, 2),
]


@pytest.mark.parametrize(("kpi", "dim", "segment", "expected", "expected_n"), CASES)
def test_each_acquisition_kpi_matches_its_hand_worked_value_by_market_channel_or_rank(
    con, kpi, dim, segment, expected, expected_n
):
    value, n = _by(con, kpi, dim)[segment]
    assert value == pytest.approx(expected)
    assert n == expected_n


def test_every_acquisition_kpi_has_two_hand_worked_segments():
    from cxm.metrics.kpis import KPIS

    ids = [c[0] for c in CASES]
    acquisition = [k.id for k in KPIS if k.grain == "acquisition"]
    assert all(ids.count(k) == 2 or ids.count(k) == 4 for k in acquisition)


def test_cac_interval_reads_the_spend_as_known_and_the_new_customers_as_poisson(con):
    out = compute(
        Scoped.everywhere(con),
        ["cac"],
        by=["market"],
        where=SegmentFilter(period=Period.parse("2026-Q1")),
        cfg=CFG,
    )
    us = out.filter(pl.col("market") == "US").row(0, named=True)
    # 270 over 3: se = 90 / sqrt(3) = 51.96; exact Poisson bounds of 3 are 0.619 and 8.767:
    # 270 / 8.767 = 30.80 to 270 / 0.619 = 436.3.
    assert us["se"] == pytest.approx(90 / 3**0.5)
    assert us["ci_low"] == pytest.approx(30.80, abs=0.01)
    assert us["ci_high"] == pytest.approx(436.3, abs=0.5)


def test_spend_kpis_refuse_a_seller_breakdown_or_filter_they_cannot_follow(con):
    company = Scoped.everywhere(con)
    q1 = SegmentFilter(period=Period.parse("2026-Q1"))
    with pytest.raises(BadFilter, match=r"does not split cac.*\[not_split_by\]"):
        compute(company, ["cac"], by=["rank"], where=q1, cfg=CFG)
    with pytest.raises(BadFilter, match=r"\[not_split_by\]"):
        compute(company, ["cac"], where=q1.model_copy(update={"ranks": ("Member",)}), cfg=CFG)
    with pytest.raises(BadFilter, match=r"applies only to acquisition KPIs"):
        compute(company, ["revenue"], by=["channel"], where=q1, cfg=CFG)


def test_a_scoped_analysts_cac_uses_only_their_markets_spend_and_customers(path):
    q1 = SegmentFilter(period=Period.parse("2026-Q1"))
    with store.open_readonly(path) as c:
        everyone = compute(Scoped.everywhere(c), ["cac"], where=q1, cfg=CFG).row(0, named=True)
    with open_scoped(Scope(markets=("BR",)), path=path, config=CFG) as brazil:
        mine = compute(brazil, ["cac"], where=q1, cfg=CFG).row(0, named=True)
        by_market = compute(brazil, ["cac", "leads"], by=["market"], where=q1, cfg=CFG)
    # The company: (270 + 160) / 7 new customers = 61.43. Brazil's analyst: 160 / 4 = 40,
    # the same as Brazil's row for everyone; no US spend or customer reaches them.
    assert everyone["value"] == pytest.approx(430 / 7) and everyone["n"] == 7
    assert mine["value"] == pytest.approx(40.0) and mine["n"] == 4
    assert set(by_market["market"]) == {"BR"}
    # Leads cut to Brazil too: LB2 and LB3 created in Q1.
    assert by_market.filter(pl.col("kpi_id") == "leads")["value"].to_list() == [2.0]


def test_cxm_report_cac_by_market_equals_spend_over_new_customers_from_the_raw_tables(
    demo_warehouse, tmp_path
):
    out = tmp_path / "cac.csv"
    args = ["report", "--kpi", "cac", "--by", "market", "--period", "2026-Q3"]
    args += ["--out", str(out), "--warehouse", str(demo_warehouse)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = pl.read_csv(out, comment_prefix="#")
    # Independently, with Polars from the raw tables: spend on customers in July to September
    # by market, over the customers whose first order is in Q3, by customers.market.
    with duckdb.connect(str(demo_warehouse), read_only=True) as con:
        spend = con.sql("SELECT * FROM marketing_spend").pl()
        orders = con.sql("SELECT customer_id, ordered_at FROM orders").pl()
        customers = con.sql("SELECT customer_id, market FROM customers").pl()
    q3 = (dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    spent = (
        spend.filter(pl.col("bought") == "customers", pl.col("month").is_between(*q3))
        .group_by("market")
        .agg(pl.col("amount").cast(pl.Float64).sum().alias("spend"))
    )
    new = (
        orders.group_by("customer_id")
        .agg(pl.col("ordered_at").min().dt.date().alias("first"))
        .filter(pl.col("first").is_between(*q3))
        .join(customers, on="customer_id")
        .group_by("market")
        .agg(pl.len().alias("new"))
    )
    expected = spent.join(new, on="market").with_columns(
        (pl.col("spend") / pl.col("new")).alias("cac")
    )
    got = dict(zip(report["market"], report["value"], strict=True))
    assert len(got) == 6
    for row in expected.iter_rows(named=True):
        assert got[row["market"]] == pytest.approx(row["cac"], abs=0.005)
    assert dict(zip(report["market"], report["n"], strict=True)) == dict(
        zip(expected["market"], expected["new"], strict=True)
    )
