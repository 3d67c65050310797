"""Predicted customer value at load: fits per market, scores, seller sums, KPIs and the check.

The models' numbers are tested against the papers and `lifetimes` in tests/test_clv.py; this
file tests what the load does with them, on the 2,000-seller demo company.
"""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from cxm.config import load_config
from cxm.metrics import compute, holdout, value
from cxm.segments import Period, SegmentFilter
from cxm.warehouse.scoped import Scoped
from tests.conftest import company

CFG = load_config()


@pytest.fixture(scope="module")
def con(small_demo_warehouse):
    c = duckdb.connect(str(small_demo_warehouse), read_only=True)
    yield c
    c.close()


@pytest.fixture(scope="module")
def scored(con) -> pl.DataFrame:
    return con.sql("SELECT * FROM fact_customer_value").pl()


def test_every_customer_who_ordered_is_scored_with_finite_values(con, scored):
    (ordered,) = con.execute("SELECT count(DISTINCT customer_id) FROM orders").fetchall()[0]
    assert scored.height == ordered > 1_000
    for column in ("p_alive", "purchases_12m", "expected_spend", "clv_12m"):
        assert scored[column].is_finite().all(), column
    assert scored["p_alive"].min() >= 0 and scored["p_alive"].max() <= 1
    assert scored["clv_12m"].min() >= 0
    at_risk = (scored["p_alive"] < value.AT_RISK).cast(pl.Int64)
    assert (scored["at_risk"] == at_risk).all()


def test_each_market_has_its_own_fit_or_is_named_under_the_company_fit(con, scored):
    fits = con.sql("SELECT * FROM clv_fits").pl()
    assert set(fits["model"]) == {"BG/NBD", "Gamma-Gamma"}
    own = set(fits.filter(pl.col("fitted_for") != "company")["fitted_for"])
    company = fits.filter(pl.col("fitted_for") == "company")
    assert company.height == 2
    fallback = {m for m in company["used_for"][0].split(", ") if m}
    assert own | fallback == set(scored["market"]) and not own & fallback
    counts = dict(scored.group_by("market").len().iter_rows())
    for market in own:  # a market fitted on its own has enough customers for it
        assert counts[market] >= value.MIN_CUSTOMERS


def test_seller_sums_are_the_sums_of_their_customers(con, scored):
    consent = con.sql("SELECT customer_id, consent_personalization FROM customers").pl()
    expected = (
        scored.join(consent, on="customer_id", how="left")
        .group_by("seller_id")
        .agg(
            pl.len().alias("customers_valued"),
            pl.col("clv_12m").sum().alias("clv"),
            pl.col("at_risk").sum().alias("risk"),
            pl.col("at_risk").filter(pl.col("consent_personalization")).sum().alias("consented"),
        )
    )
    stored = con.sql("SELECT * FROM fact_seller_value").pl()
    joined = expected.join(stored, on="seller_id", how="full", coalesce=True)
    assert joined.height == expected.height == stored.height
    assert (joined["customers_valued"] == joined["customers_valued_right"]).all()
    assert (joined["risk"] == joined["customers_at_risk"]).all()
    assert (joined["consented"] == joined["customers_at_risk_consented"]).all()
    assert 0 < joined["consented"].sum() < joined["risk"].sum()  # some consent, some do not
    assert ((joined["clv"] - joined["clv_12m"]).abs() < 1e-6).all()


def test_value_kpis_by_market_equal_the_customers_of_each_market_s_sellers(con, scored):
    # Computed here from the per-customer scores with Polars, by the serving seller's market.
    sellers = con.sql("SELECT seller_id, market AS seller_market FROM sellers").pl()
    mine = (
        scored.join(sellers, on="seller_id")
        .group_by("seller_market")
        .agg(
            (pl.col("clv_12m").sum() / pl.len()).alias("per_customer"),
            (pl.col("at_risk").sum() / pl.len()).alias("at_risk"),
            pl.len().alias("n"),
        )
    )
    (as_of,) = con.execute("SELECT max(scored_as_of) FROM fact_customer_value").fetchall()[0]
    where = SegmentFilter(period=Period.month_of(as_of))
    out = compute(
        Scoped.everywhere(con),
        ["clv_12m_per_customer", "customers_at_risk_share"],
        by=["market"],
        where=where,
        cfg=CFG,
    )
    for row in mine.iter_rows(named=True):
        got = {
            r["kpi_id"]: (r["value"], r["n"])
            for r in out.filter(pl.col("market") == row["seller_market"]).iter_rows(named=True)
        }
        assert got["clv_12m_per_customer"][0] == pytest.approx(row["per_customer"], rel=1e-9)
        assert got["customers_at_risk_share"][0] == pytest.approx(row["at_risk"], rel=1e-9)
        assert got["clv_12m_per_customer"][1] == row["n"]


def test_an_earlier_period_has_no_predicted_value_not_zero(con):
    (as_of,) = con.execute("SELECT max(scored_as_of) FROM fact_customer_value").fetchall()[0]
    earlier = SegmentFilter(period=Period.month_of(as_of).previous())
    for use_cube in (True, False):
        out = compute(
            Scoped.everywhere(con),
            ["clv_12m_total", "clv_12m_per_customer"],
            where=earlier,
            cfg=CFG,
            use_cube=use_cube,
        )
        assert out["value"].to_list() == [None, None]
        assert out["n"].to_list() == [0, 0]


def test_a_scoped_user_sees_only_fits_made_on_their_own_markets(con, small_demo_warehouse):
    fits = con.sql("SELECT fitted_for FROM clv_fits").pl()["fitted_for"].to_list()
    own = sorted({m for m in fits if m != "company"})
    assert own, "the small demo should give at least one market its own fit"
    everyone = value.fit_table(Scoped.everywhere(con))
    assert "company" in set(everyone["fitted_for"])
    with company(small_demo_warehouse, own[0]) as mine:
        scoped = value.fit_table(mine)
    # Their company is that one market: its fit, and a company-wide fit of the same customers.
    assert set(scoped["fitted_for"]) <= {own[0], "company"}
    assert set(scoped["customers"]) == set(
        everyone.filter(everyone["fitted_for"] == own[0])["customers"]
    )


def test_the_holdout_check_counts_what_customers_did_and_what_the_model_said(con):
    by_frequency, weekly = holdout.calibration(Scoped.everywhere(con))
    assert by_frequency["bucket"].to_list() == list(range(holdout.TOP_FREQUENCY + 1))
    assert weekly["week"].to_list() == list(range(1, holdout.HOLDOUT_WEEKS + 1))
    # Cumulative: never falls.
    assert (weekly["actual"].diff().drop_nulls() >= 0).all()
    assert (weekly["predicted"].diff().drop_nulls() >= 0).all()
    # The demo company's customers are drawn from a buy-till-you-die story close to BG/NBD's:
    # the model's 26-week forecast lands within 25% of what they did.
    last = weekly.row(weekly.height - 1, named=True)
    assert last["predicted"] == pytest.approx(last["actual"], rel=0.25)
    # Scoped to one market: only that market's customers are summed.
    br, _ = holdout.calibration(Scoped.everywhere(con), markets=("BR",))
    assert br["customers"].sum() < by_frequency["customers"].sum()


def test_a_large_market_is_fitted_on_a_fixed_hashed_sample(con, monkeypatch):
    (as_of,) = con.execute("SELECT max(scored_as_of) FROM fact_customer_value").fetchall()[0]
    customers = value._summary(con.sql(value._CUSTOMERS, params={"as_of": as_of}).pl(), as_of)
    assert customers.height > 10_000
    monkeypatch.setattr(value, "FIT_SAMPLE", 4_000)
    first, again = value._fit(customers), value._fit(customers.reverse())
    # About 4,000 customers read (a hash draw, not an exact count), the same ones whatever
    # the order the rows come in, so the same parameters at every load of the same data.
    assert 3_400 < first[0].n_customers < 4_600
    # (The sums in the likelihood run in another order: equal to the optimiser's tolerance.)
    assert first[0].n_customers == again[0].n_customers
    assert first[0].params == pytest.approx(again[0].params, rel=1e-6)
    assert first[1].params == pytest.approx(again[1].params, rel=1e-5)


def test_the_fits_converge_whatever_order_the_customers_come_in(demo_warehouse):
    # On the 20,000-seller demo, L-BFGS-B's line search gave up a hair short of the
    # Gamma-Gamma maximum (gradient 1.2e-5 per customer, tolerance 1e-5) for some orders of the
    # customers (order 11 below among the first 30); the load then kept no value model at all
    # and the KPIs page said "no data" (a browser test failed so in a full run). DuckDB hands
    # the rows over in no fixed order.
    with duckdb.connect(str(demo_warehouse), read_only=True) as c:
        as_of = c.execute("SELECT max(data_as_of) FROM cxm_loads").fetchall()[0][0]
        base = c.sql(value._CUSTOMERS, params={"as_of": as_of}).pl().sort("customer_id")
    for order in (11, 0, 1, 2):  # 11 failed before; the others did not
        customers = value._summary(base.sample(fraction=1.0, shuffle=True, seed=order), as_of)
        # The company-wide fit, as `value.fits` makes it first (the markets' own fits after it
        # are not what this test is about, and cost as much again).
        bg, gg = value._fit(customers)
        assert bg.converged and gg.converged, order
        # The maximum itself does not depend on the order (to the optimiser's precision).
        # 62.7031 on this demo since issue 23 planted the finished experiment's reorders (699
        # orders); 63.1034 before.
        assert gg.q == pytest.approx(62.7031, rel=1e-5), order


def test_a_market_fit_the_data_do_not_pin_down_gives_way_to_the_company_fit(demo_warehouse):
    # On the 20,000-seller demo Germany's own BG/NBD reached a flat gradient at a = 47,269,
    # b = 727,772 (below the 1e6 bound, so "converged"), with a singular information matrix;
    # its 12-month purchases were NaN for all 12,910 German customers, and every value KPI of
    # Germany read "no data". Such a fit is not trusted: the company's scores Germany.
    with duckdb.connect(str(demo_warehouse), read_only=True) as c:
        scored = c.sql("SELECT * FROM fact_customer_value").pl()
        used = dict(c.execute("SELECT used_for, fitted_for FROM clv_fits").fetchall())
    for column in ("p_alive", "purchases_12m", "expected_spend", "clv_12m"):
        assert scored[column].is_finite().all(), column
    assert used["DE"] == value.COMPANY


def test_a_fit_without_standard_errors_or_with_scores_that_are_no_numbers_is_not_trusted():
    from cxm.metrics import clv

    # Germany's pair from the demo above, and three customers: (x, t_x, T, m) in weeks.
    bg = clv.BgNbdFit(r=0.5092, alpha=3.5998, a=47269.05, b=727772.1,
                      standard_errors={"r": 0.01, "alpha": 0.1, "a": None, "b": None})  # fmt: skip
    gg = clv.GammaGammaFit(p=3.54, q=51.59, gamma=1241.66,
                           standard_errors={"p": 0.1, "q": 3.2, "gamma": 109.5})  # fmt: skip
    customers = pl.DataFrame(
        {"frequency": [0.0, 2.0, 5.0], "recency": [0.0, 30.0, 80.0], "T": [40.0, 60.0, 90.0],
         "monetary": [0.0, 80.0, 95.0]}
    )  # fmt: skip
    assert not value._trusted("DE", (bg, gg), customers)
    # With its standard errors, it is still not trusted: its purchases ahead are no numbers.
    import dataclasses

    sure = dataclasses.replace(bg, standard_errors={k: 1.0 for k in ("r", "alpha", "a", "b")})
    assert not value._trusted("DE", (sure, gg), customers)
    # The company's own pair from the same demo scores them all.
    company = clv.BgNbdFit(r=0.5267, alpha=3.6908, a=12.355, b=185.18,
                           standard_errors={k: 1.0 for k in ("r", "alpha", "a", "b")})  # fmt: skip
    assert value._trusted("DE", (company, gg), customers)
