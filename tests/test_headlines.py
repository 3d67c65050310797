"""Headlines computed from the rows they summarise, one test per direction (issue 19, finding 3).

Each frame is built here with its 95% intervals, so which side of the company a segment is on
(or whether it is level within the noise) is read straight off the numbers in the test.
"""

from __future__ import annotations

import polars as pl
import pytest

from cxm.config import load_config
from cxm.metrics.kpis import BY_ID
from cxm.ui import headlines

CFG = load_config()
ACTIVE = BY_ID["active_rate"]  # "Active rate", higher is better
CHURN = BY_ID["seller_churn_rate"]  # "Seller churn", lower is better


def _plain(markdown: str) -> str:
    return markdown.replace("\\", "")


def _bars(kpi_id: str, company: float, rows: list[tuple], dim: str = "market") -> pl.DataFrame:
    """rows: (segment, value, ci_low, ci_high, small)."""
    f = pl.DataFrame(rows, schema=[dim, "value", "ci_low", "ci_high", "small"], orient="row")
    return f.with_columns(
        pl.lit(kpi_id).alias("kpi_id"), pl.lit(company).alias("company"), pl.lit(500).alias("n")
    )


@pytest.mark.parametrize(
    ("kpi", "company", "rows", "title"),
    [
        # The case: the lowest bar, BR 48.2% (45-51%), is far ABOVE the company's
        # 21.5%, as is US: every market is ahead; US furthest.
        (
            ACTIVE,
            0.215,
            [("BR", 0.482, 0.45, 0.51, False), ("US", 0.60, 0.57, 0.63, False)],
            "Active rate: every market is ahead of the company's 21.5%; US furthest at 60.0%",
        ),
        # BR 15.0% (13-17%) is below 21.5% beyond its interval: it trails.
        (
            ACTIVE,
            0.215,
            [("BR", 0.15, 0.13, 0.17, False), ("US", 0.22, 0.21, 0.23, False)],
            "Active rate: BR trails at 15.0% (company 21.5%)",
        ),
        # BR 21.0% (19-23%) holds the company's 21.5%: level. US 30.0% (28-32%) is above: leads.
        (
            ACTIVE,
            0.215,
            [("BR", 0.21, 0.19, 0.23, False), ("US", 0.30, 0.28, 0.32, False)],
            "Active rate: US leads at 30.0% (company 21.5%)",
        ),
        # Both intervals hold 21.5%: level, whatever the order of the bars.
        (
            ACTIVE,
            0.215,
            [("BR", 0.21, 0.19, 0.23, False), ("US", 0.22, 0.20, 0.24, False)],
            "Active rate: every market level with the company's 21.5% within the noise",
        ),
        # Lower is better: BR's 8.0% churn (7-9%) is worse than 4.0%: BR trails, US (3.0%,
        # 2.5-3.5%) is better but the worse side is named first.
        (
            CHURN,
            0.04,
            [("BR", 0.08, 0.07, 0.09, False), ("US", 0.03, 0.025, 0.035, False)],
            "Seller churn: BR trails at 8.0% (company 4.0%)",
        ),
        # Lower is better and both are lower than the company: both ahead.
        (
            CHURN,
            0.04,
            [("BR", 0.02, 0.015, 0.025, False), ("US", 0.03, 0.025, 0.035, False)],
            "Seller churn: every market is ahead of the company's 4.0%; BR furthest at 2.0%",
        ),
        # One market selected: where it stands, plainly. MX 20.8% (19-23%) holds 21.8%.
        (
            ACTIVE,
            0.218,
            [("MX", 0.208, 0.19, 0.23, False)],
            "Active rate: MX at 20.8%, level with the company's 21.8% within the noise",
        ),
        (
            ACTIVE,
            0.218,
            [("MX", 0.30, 0.28, 0.32, False)],
            "Active rate: MX at 30.0%, ahead of the company's 21.8%",
        ),
        # Nothing to say: the only segment is under the minimum n.
        (ACTIVE, 0.218, [("MX", 0.9, 0.5, 1.0, True)], "Active rate by market"),
    ],
    ids=[
        "all-ahead",
        "trails",
        "leads",
        "level",
        "lower-better-trails",
        "lower-better-all-ahead",
        "one-level",
        "one-ahead",
        "nothing",
    ],
)
def test_the_bars_title_says_how_the_segments_stand_against_the_company(kpi, company, rows, title):
    report = _bars(kpi.id, company, rows)
    assert _plain(headlines.bars_headline(report, kpi, "market", CFG)) == title


def _gaps(rows: list[tuple]) -> pl.DataFrame:
    """rows: (market, value in points, se)."""
    f = pl.DataFrame(rows, schema=["market", "value", "se"], orient="row")
    return f.with_columns(pl.lit("experience_gap_pp").alias("kpi_id"), pl.lit(False).alias("small"))


def test_the_gap_title_with_one_market_shown_names_that_market_plainly():
    # Mexico alone is selected: the title is about Mexico, and "widest" of one is no finding.
    title = _plain(headlines.widest_gap_headline(_gaps([("MX", 50.54, 2.0)]), CFG))
    assert title == "The experience gap in Mexico: 50.5 pp"


def test_the_gap_title_says_when_the_widest_is_not_clearly_wider_than_the_next():
    # BR 71.7 (se 5) vs CA 61.3 (se 6): difference 10.4, its se sqrt(25 + 36) = 7.81,
    # 1.96 x 7.81 = 15.3 > 10.4 -> not clearly wider.
    title = _plain(
        headlines.widest_gap_headline(_gaps([("CA", 61.3, 6.0), ("BR", 71.7, 5.0)]), CFG)
    )
    assert title == (
        "The experience gap is widest in Brazil (71.7 pp), but not clearly wider than in "
        "Canada (61.3 pp)"
    )
    # With se 2 each: 1.96 x 2.83 = 5.5 < 10.4 -> clearly wider, by 10.4 pp.
    title = _plain(
        headlines.widest_gap_headline(_gaps([("CA", 61.3, 2.0), ("BR", 71.7, 2.0)]), CFG)
    )
    assert title == "The experience gap is widest in Brazil: 71.7 pp, 10.4 pp wider than Canada"


def test_the_attribute_gap_title_names_the_largest_gap_either_way():
    # Service: corporate 50% vs customers 40% (+10 pp); Price: 30% vs 60% (-30 pp). Belief and
    # customers differ most on Price, though its gap is negative.
    gaps = pl.DataFrame(
        {
            "attribute": ["Service", "Price"],
            "customer_gap_pp": [10.0, -30.0],
            "corporate_share": [0.5, 0.3],
            "customer_share": [0.4, 0.6],
            "n_customer": [50, 50],
            "n_corporate": [40, 40],
        }
    )
    title = _plain(headlines.gap_headline(gaps))
    assert title.startswith("On Price, 30.0% of corporate answers say superior; 60.0%")


def _grid(rows: list[tuple]) -> pl.DataFrame:
    """rows: (rank, market, value, se)."""
    f = pl.DataFrame(rows, schema=["rank", "market", "value", "se"], orient="row")
    return f.with_columns(pl.lit("active_rate").alias("kpi_id"), pl.lit(False).alias("small"))


def test_the_heatmap_title_names_no_best_cell_when_the_cells_are_level_within_the_noise():
    # 20% (se 5 pp) vs 22% (se 5 pp): difference 2 pp, noise 1.96 x 7.07 = 13.9 pp -> level.
    grid = _grid([("Member", "BR", 0.20, 0.05), ("Manager", "US", 0.22, 0.05)])
    title = _plain(headlines.heatmap_headline(grid, ACTIVE, CFG))
    assert (
        title
        == "Active rate by rank and market: every cell from 20.0% to 22.0%, level within the noise"
    )
    # 10% (se 1 pp) vs 30% (se 1 pp): 20 pp against 2.8 pp of noise -> best and worst.
    grid = _grid([("Member", "BR", 0.10, 0.01), ("Manager", "US", 0.30, 0.01)])
    title = _plain(headlines.heatmap_headline(grid, ACTIVE, CFG))
    assert title == "Active rate: best Manager in US (30.0%), worst Member in BR (10.0%)"


def test_a_tile_help_gives_the_value_interval_and_its_n():
    # The wording: "95% interval 20.1%–22.9%, n = 9,581" (range written with "to").
    row = {"ci_low": 0.2012, "ci_high": 0.2291, "n": 9581}
    assert headlines.interval_help(ACTIVE, row, CFG) == " 95% interval 20.1% to 22.9%, n = 9,581."
    assert headlines.interval_help(ACTIVE, {"ci_low": None, "ci_high": None, "n": 0}, CFG) == ""
