"""95% intervals, the change test, Benjamini-Hochberg and the segments that moved (issue 19).

Intervals are worked out by hand here, on small frames and on tests/fixtures/kpi_company
(US and BR, 2026-Q1 as of 2026-03-31; its numbers are worked out in tests/test_metrics.py).
z = 1.959964 throughout (z^2 = 3.841459).
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxm.config import load_config
from cxm.metrics import stats
from cxm.metrics.compute import compute
from cxm.metrics.kpis import BY_ID
from cxm.metrics.movers import moved
from cxm.metrics.report import segment_report
from cxm.pipeline import import_dir
from cxm.segments import Period, SegmentFilter
from cxm.warehouse import store
from cxm.warehouse.scoped import Scoped

from .conftest import FIXTURES

CFG = load_config()
AS_OF = dt.date(2026, 3, 31)


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    path = tmp_path_factory.mktemp("kpi_company_ci") / "w.duckdb"
    import_dir(FIXTURES / "kpi_company", path=path, today=AS_OF)
    with store.open_readonly(path) as c:
        yield c


def _us(con, kpi_id: str, period: str = "2026-Q1") -> dict:
    out = compute(
        Scoped.everywhere(con),
        [kpi_id],
        where=SegmentFilter(period=Period.parse(period), markets=("US",)),
        cfg=CFG,
    )
    return out.row(0, named=True)


# --- the methods, by hand -------------------------------------------------------------------


def test_the_wilson_interval_of_5_of_11_is_21_to_72_percent():
    # p = 5/11 = 0.454545, n = 11. se = sqrt(0.454545 x 0.545455 / 11) = sqrt(0.022539) = 0.150131.
    # Wilson: 1 + z^2/n = 1 + 3.841459/11 = 1.349224; centre = (0.454545 + 3.841459/22) /
    # 1.349224 = (0.454545 + 0.174612) / 1.349224 = 0.466313; half = z / 1.349224 x
    # sqrt(0.022539 + 3.841459/484) = 1.452662 x sqrt(0.030476) = 1.452662 x 0.174574 = 0.253597.
    # -> 0.212716 to 0.719910.
    se, lo, hi = stats.wilson([5], [11])
    assert se[0] == pytest.approx(0.150131, abs=1e-6)
    assert lo[0] == pytest.approx(0.212716, abs=1e-5)
    assert hi[0] == pytest.approx(0.719910, abs=1e-5)


def test_a_share_from_the_warehouse_carries_its_wilson_interval(con):
    # US active rate in Q1: 3 of 5 live sellers (test_metrics). p = 0.6, se = sqrt(0.24/5) =
    # 0.219089. 1 + z^2/5 = 1.768292; centre = (0.6 + 3.841459/10) / 1.768292 = 0.556544;
    # half = z / 1.768292 x sqrt(0.048 + 3.841459/100) = 1.108394 x 0.293963 = 0.325827
    # -> 0.230717 to 0.882371.
    row = _us(con, "active_rate")
    assert (row["value"], row["n"]) == (pytest.approx(0.6), 5)
    assert row["se"] == pytest.approx(0.219089, abs=1e-6)
    assert row["ci_low"] == pytest.approx(0.230717, abs=1e-4)
    assert row["ci_high"] == pytest.approx(0.882371, abs=1e-4)


def test_the_nps_interval_uses_the_promoter_and_detractor_shares(con):
    # US customer answers in Q1: 9 10 7 6 9 -> 3 promoters, 1 detractor of 5: NPS 40.
    # var = (0.6 + 0.2 - 0.4^2) / 5 = 0.128, se = 100 x 0.357771 = 35.7771 points;
    # 40 -/+ 1.959964 x 35.7771 = 40 -/+ 70.1218 -> -30.12 to 110.12, clipped to 100.
    row = _us(con, "customer_nps")
    assert row["value"] == pytest.approx(40.0)
    assert row["se"] == pytest.approx(35.7771, abs=1e-3)
    assert row["ci_low"] == pytest.approx(-30.1218, abs=1e-3)
    assert row["ci_high"] == 100.0


def test_the_average_order_amount_interval_treats_sellers_as_clusters(con):
    # US Q1 orders per seller (test_metrics): US1 4 for 900, US2 3 for 270, US4 2 for 90,
    # US5 1 for 70, US6 2 for 90; US3 and US7 none. R = 1420 / 12 = 118.3333.
    # Residuals y - R x: 900 - 473.333 = 426.667; 270 - 355 = -85; 90 - 236.667 = -146.667;
    # 70 - 118.333 = -48.333; 90 - 236.667 = -146.667. Squares: 182044.4 + 7225 + 21511.1
    # + 2336.1 + 21511.1 = 234627.8. k = 7 US sellers: var = 7/6 x 234627.8 / 12^2 = 1900.90,
    # se = 43.5993; 118.333 -/+ 85.4531 -> 32.880 to 203.786.
    row = _us(con, "avg_order_amount")
    assert row["value"] == pytest.approx(1420 / 12)
    assert row["se"] == pytest.approx(43.5993, abs=1e-3)
    assert row["ci_low"] == pytest.approx(32.880, abs=1e-2)
    assert row["ci_high"] == pytest.approx(203.786, abs=1e-2)


def test_a_sum_is_compound_poisson_and_a_count_poisson(con):
    # Revenue: se = sqrt(900^2 + 270^2 + 90^2 + 70^2 + 90^2) = sqrt(904000) = 950.789;
    # 1420 - 1.959964 x 950.789 < 0, so the interval starts at 0; it ends at 3283.51.
    revenue = _us(con, "revenue")
    assert revenue["se"] == pytest.approx(950.789, abs=1e-3)
    assert (revenue["ci_low"], revenue["ci_high"]) == (0.0, pytest.approx(3283.51, abs=1e-2))
    # 5 live sellers: se = sqrt(5) = 2.2361; Garwood: chi2(0.025, 10)/2 = 3.24697/2 = 1.6235,
    # chi2(0.975, 12)/2 = 23.3367/2 = 11.6683.
    live = _us(con, "live_sellers")
    assert live["se"] == pytest.approx(2.2361, abs=1e-4)
    assert live["ci_low"] == pytest.approx(1.6235, abs=1e-4)
    assert live["ci_high"] == pytest.approx(11.6683, abs=1e-4)


def test_the_gap_interval_adds_the_two_shares_variances():
    # Corporate 8 of 10 top-box (0.8), customers 3 of 12 (0.25): gap 55 points.
    # var = 0.8 x 0.2 / 10 + 0.25 x 0.75 / 12 = 0.016 + 0.015625 = 0.031625;
    # se = 100 x 0.177834 = 17.7834; 55 -/+ 34.8548 -> 20.145 to 89.855.
    se, lo, hi = stats.gap([8], [10], [3], [12])
    assert se[0] == pytest.approx(17.7834, abs=1e-4)
    assert (lo[0], hi[0]) == (pytest.approx(20.145, abs=1e-3), pytest.approx(89.855, abs=1e-3))


def test_a_median_interval_is_read_at_order_statistic_ranks():
    # 20 values 1..20: half-width in ranks 0.979982 x sqrt(20) = 4.3826; lower rank
    # floor(10 - 4.3826) = 5, upper ceil(10 + 1 + 4.3826) = 16 -> 5 and 16.
    bounds = stats.median_bounds_sql("range(1, 21)")
    with duckdb.connect() as con:  # not the default connection, which every test shares
        assert con.sql(f"SELECT {bounds}").fetchall() == [([5, 16],)]


def test_the_median_response_time_carries_its_order_statistic_interval(con):
    # US tickets answered in Q1: T01 30, T03 45, T02 60, T04 1440 minutes -> median 52.5 min
    # = 0.875 h. n = 4: ranks floor(2 - 0.98 x 2) = 0 -> 1 and ceil(2 + 1 + 1.96) = 5 -> 4:
    # the shortest and the longest, 0.5 h to 24 h; se = 23.5 / 3.919928 = 5.9950.
    row = _us(con, "median_first_response_hours")
    assert (row["value"], row["n"]) == (pytest.approx(0.875), 4)
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(0.5), pytest.approx(24.0))
    assert row["se"] == pytest.approx(5.9950, abs=1e-4)


def test_no_interval_where_the_value_is_missing(con):
    # No US customer-value scores exist before the load's own date: value, se and interval null.
    row = _us(con, "clv_12m_per_customer", "2025-12")
    assert row["value"] is None
    assert (row["se"], row["ci_low"], row["ci_high"]) == (None, None, None)


# --- the change test and the false-discovery control ------------------------------------------


def test_the_change_test_compares_the_change_with_both_periods_noise():
    # Row 1: 0.30 vs 0.24, se 0.02 each: se of the change sqrt(0.0008) = 0.028284, z = 2.1213,
    # p = 2 x (1 - Phi(2.1213)) = 0.0339 -> clear. Row 2: 0.21 vs 0.20, se 0.01 each:
    # z = 0.01 / 0.014142 = 0.7071, p = 0.4795 -> no clear change. Row 3: no previous se ->
    # unknown (null), not "no change". Row 4: 0 -> 0 with se 0: p = 1.
    f = pl.DataFrame(
        {
            "value": [0.30, 0.21, 0.5, 0.0],
            "se": [0.02, 0.01, 0.01, 0.0],
            "previous": [0.24, 0.20, 0.4, 0.0],
            "previous_se": [0.02, 0.01, None, 0.0],
        }
    )
    out = f.select(stats.change_test("value", "se", "previous", "previous_se"))
    p = out["change_p"].to_list()
    assert p[0] == pytest.approx(0.0339, abs=1e-4)
    assert p[1] == pytest.approx(0.4795, abs=1e-4)
    assert p[2:] == [None, 1.0]
    assert out["clear_change"].to_list() == [True, False, None, False]


def test_benjamini_hochberg_holds_the_false_discovery_rate_across_every_test():
    # m = 5, sorted p 0.001 0.008 0.039 0.041 0.6: p m / rank = 0.005, 0.02, 0.065, 0.05125,
    # 0.6; q = the minimum from each rank on: 0.005, 0.02, 0.05125, 0.05125, 0.6. Under 0.05:
    # the first two only, though four p-values are under 0.05.
    q = stats.benjamini_hochberg([0.041, 0.001, 0.6, 0.039, 0.008])
    assert q.round(5).tolist() == [0.05125, 0.005, 0.6, 0.05125, 0.02]
    assert int((q < 0.05).sum()) == 2
    assert np.isnan(stats.benjamini_hochberg([np.nan, 0.01])[0])


def test_segment_reports_carry_the_change_test_of_their_own_numbers(con):
    where = SegmentFilter(period=Period.parse("2026-03"))
    rows = segment_report(
        Scoped.everywhere(con),
        ["active_rate", "revenue"],
        by=["market"],
        where=where,
        cfg=CFG,
    )
    assert {"se", "ci_low", "ci_high", "previous_se", "change_p", "clear_change"} <= set(
        rows.columns
    )
    from scipy.stats import norm

    for r in rows.iter_rows(named=True):
        if r["se"] is None or r["previous_se"] is None:
            assert r["change_p"] is None
            continue
        both = (r["se"] ** 2 + r["previous_se"] ** 2) ** 0.5
        expected = 2 * norm.sf(abs(r["value"] - r["previous"]) / both) if both else 1.0
        assert r["change_p"] == pytest.approx(expected)
        assert r["clear_change"] == (expected < 0.05)


# --- the segments that moved -----------------------------------------------------------------


def _plain(markdown: str) -> str:
    return markdown.replace("\\", "")


def _report(dim: str, rows: list[tuple]) -> pl.DataFrame:
    cols = ["segment", "kpi_id", "value", "previous", "n", "company", "change_p"]
    f = pl.DataFrame(rows, schema=cols, orient="row")
    return f.rename({"segment": dim}).with_columns(
        (pl.col("value") - pl.col("previous")).alias("change"), (pl.col("n") < 10).alias("small")
    )


def test_movers_never_lead_with_noise_from_a_small_segment():
    # The case: Executive Director (31 sellers, 400 orders) revenue +20.8%, which the
    # old ranking (move x sqrt(n), n = orders: 20.8 x 20 = 416 against 3.0 x 70.7 = 212 for
    # US) put first. Its change test gives p = 0.3: noise. Diamond: n = 8 < 10, p = 0.00001:
    # not tested at all. Tested: US 0.0004, ED 0.3, Member 0.7 -> q = 0.0012, 0.45, 0.7:
    # only US passes, and it leads.
    market = _report(
        "market",
        [("US", "active_rate", 0.23, 0.20, 5000, 0.21, 0.0004)],
    )
    rank = _report(
        "rank",
        [
            ("Executive Director", "revenue", 120_800.0, 100_000.0, 400, 3e6, 0.3),
            ("Diamond", "active_rate", 0.745, 0.40, 8, 0.21, 0.00001),
            ("Member", "active_rate", 0.185, 0.18, 6000, 0.21, 0.7),
        ],
    )
    found = moved({"market": market, "rank": rank}, min_n=10)
    assert found.rows["segment"].to_list() == ["US"]
    assert (found.tested, found.beyond) == (3, 1)
    from cxm.ui import tiles

    sentences, note = tiles.mover_sentences({"market": market, "rank": rank}, CFG)
    sentences = [_plain(s) for s in sentences]
    assert len(sentences) == 1 and "United States" in sentences[0]
    assert "rose 3.0 pp" in sentences[0] and "p < 0.001" in sentences[0]
    assert "Executive Director" not in " ".join(sentences)
    assert "Diamond" not in " ".join(sentences)
    assert "3 segment x KPI changes" in note and "under n = 10 in either period" in note


def test_movers_say_when_nothing_moved_beyond_noise():
    # Four changes tested, the smallest p 0.02: q = 0.02 x 4 / 1 = 0.08 >= 0.05 -> none.
    market = _report(
        "market",
        [
            ("US", "active_rate", 0.23, 0.20, 500, 0.21, 0.02),
            ("BR", "active_rate", 0.19, 0.20, 400, 0.21, 0.3),
        ],
    )
    rank = _report(
        "rank",
        [
            ("Manager", "active_rate", 0.40, 0.42, 480, 0.21, 0.4),
            ("Member", "active_rate", 0.185, 0.18, 6000, 0.21, 0.7),
        ],
    )
    from cxm.ui import tiles

    sentences, _ = tiles.mover_sentences({"market": market, "rank": rank}, CFG)
    assert sentences == [
        "No market or rank moved beyond noise this period (4 segments x KPIs tested)."
    ]


def test_a_mover_sentence_follows_the_direction_of_its_change():
    # Churn (lower is better) fell 2.0 pp: "fell", coloured green; revenue rose 10%: "rose",
    # green; active rate fell 5.0 pp: "fell", red. All three p < 0.001 of 3 tests.
    market = _report(
        "market",
        [
            ("US", "seller_churn_rate", 0.03, 0.05, 9000, 0.04, 0.00001),
            ("BR", "revenue", 1100.0, 1000.0, 9000, 5000.0, 0.00002),
            ("MX", "active_rate", 0.15, 0.20, 9000, 0.21, 0.00003),
        ],
    )
    from cxm.ui import tiles

    sentences = [_plain(s) for s in tiles.mover_sentences({"market": market}, CFG)[0]]
    assert sentences[0].startswith(":green[**Seller churn** fell 2.0 pp]")
    assert ":green[" in sentences[1] and "rose 10.0%" in sentences[1]
    assert ":red[" in sentences[2] and "fell 5.0 pp" in sentences[2]
    assert BY_ID["seller_churn_rate"].better == "lower"


def test_a_bar_and_a_trend_point_show_their_interval_on_hover():
    # Manager 25.0% with 95% interval 21.0% to 29.5%; Member has no interval (an old cube): "–".
    from cxm.ui import charts

    frame = pl.DataFrame(
        {
            "rank": ["Manager", "Member"],
            "kpi_id": ["active_rate"] * 2,
            "value": [0.25, 0.18],
            "n": [400, 300],
            "small": [False, False],
            "ci_low": [0.21, None],
            "ci_high": [0.295, None],
        }
    )
    bar = charts.kpi_bars(frame, BY_ID["active_rate"], "rank", CFG).data[0]
    assert [tuple(c) for c in bar.customdata] == [(300, "–"), (400, "21.0% to 29.5%")]
    assert "95% interval %{customdata[1]}" in bar.hovertemplate
    line = charts.trend(
        frame.with_columns(pl.lit(dt.date(2026, 3, 1)).alias("month")).head(1),
        BY_ID["active_rate"],
        CFG,
    ).data[0]
    assert [tuple(c)[:2] for c in line.customdata] == [(400, "21.0% to 29.5%")]


def test_a_segment_small_in_the_compared_period_is_not_tested_either():
    # Consultant: 15 answers now but 2 in the compared period (previous_n 2 < 10); its gap
    # "rose 84.7 pp" with p = 0.00001 from a near-zero previous se. Not tested: of the two
    # left (p 0.01 and 0.6), q = 0.02 and 0.6 -> only Member.
    rank = _report(
        "rank",
        [
            ("Consultant", "experience_gap_pp", 74.7, -10.0, 15, 56.5, 0.00001),
            ("Member", "active_rate", 0.20, 0.18, 6000, 0.21, 0.01),
            ("Manager", "active_rate", 0.40, 0.41, 480, 0.21, 0.6),
        ],
    ).with_columns(pl.Series("previous_n", [2, 5800, 470]))
    found = moved({"rank": rank}, min_n=10)
    assert found.rows["segment"].to_list() == ["Member"]
    assert found.tested == 2


def test_the_overview_tiles_give_the_interval_and_the_movers_say_what_they_tested(app_env):
    # The tiny company on 2026-03 (tests/test_app.py): 10 live sellers, 1 active (S07) ->
    # 10.0%. Wilson for 1 of 10: 1 + z^2/10 = 1.384146; centre (0.1 + 0.192073) / 1.384146 =
    # 0.211014; half 1.959964 / 1.384146 x sqrt(0.009 + 0.0096037) = 0.193136 -> 1.8% to 40.4%.
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file("../app.py", default_timeout=60)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = "exec"
    at.run()
    assert not at.exception, at.exception
    active = next(m for m in at.metric if m.label == "Active rate")
    assert active.value == "10.0%"
    assert "95% interval 1.8% to 40.4%, n = 10." in active.proto.help
    moved_note = [c.value for c in at.caption if "segment x KPI changes tested" in c.value]
    assert len(moved_note) == 1 and "under n = 10 in either period" in moved_note[0]


def test_a_change_beyond_noise_too_small_to_show_is_not_called_no_change():
    # 6,000,000 answers: 20.00% -> 20.04% is +0.04 pp, p = 0.0001 (clear) but "0.0 pp" shown.
    # The sentence may not say "rose 0.0 pp", nor that nothing moved beyond noise.
    from cxm.ui import tiles

    market = _report("market", [("US", "active_rate", 0.2004, 0.20, 6_000_000, 0.2, 0.0001)])
    sentences, _ = tiles.mover_sentences({"market": market}, CFG)
    assert sentences == [
        "No market moved visibly: the 1 change beyond noise rounds to zero at the precision "
        "shown (1 segment x KPI tested)."
    ]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(st.floats(0, 1), st.sampled_from([0.0, 0.01, 0.05, 1.0, float("nan")])),
        min_size=1,
        max_size=60,
    )
)
def test_the_fdr_and_count_intervals_are_scipy_stats_own_without_importing_it(p):
    # cxm.metrics.stats computes them with scipy.special (scipy.stats is a second of a fresh
    # server's first page): Benjamini-Hochberg as scipy's false_discovery_control, bit for
    # bit, nan left out; Garwood's interval as chi2.ppf, to the last bit or one ulp; the
    # normal tail as norm.sf.
    from scipy import stats as sps

    p = np.array(p)
    ok = np.isfinite(p)
    want = np.full_like(p, np.nan)
    if ok.any():
        want[ok] = sps.false_discovery_control(p[ok], method="bh")
    np.testing.assert_array_equal(stats.benjamini_hochberg(p), want)
    k = np.floor(np.nan_to_num(p) * 1e4)
    _, lo, hi = stats.poisson(k)
    with np.errstate(invalid="ignore"):
        want_lo = np.where(k > 0, sps.chi2.ppf(0.025, 2 * k) / 2, 0.0)
    np.testing.assert_allclose(lo, want_lo, rtol=4e-16, atol=0)
    np.testing.assert_allclose(hi, sps.chi2.ppf(0.975, 2 * k + 2) / 2, rtol=4e-16, atol=0)
    z = pl.Series("z", (np.nan_to_num(p) - 0.5) * 20)
    np.testing.assert_array_equal(stats._two_sided(z).to_numpy(), 2 * sps.norm.sf(z.to_numpy()))
    assert stats.Z == sps.norm.ppf(0.975)
