"""Numbers for people, at the edges where naive formatting goes wrong (issue 11)."""

from __future__ import annotations

import pytest

from cxm.ui import fmt


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (999_950, "1.0M"),  # was "1000.0k": rounding carries into the next unit
        (999_949, "999.9k"),
        (999.96, "1.0k"),
        (-1_500, "−1.5k"),
        (0.0, "0"),
        (None, "–"),
        (float("nan"), "–"),
    ],
)
def test_compact_numbers(value, shown):
    assert fmt.number(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (-5, "−$5.00"),  # was "$-5.00"
        (-0.001, "$0.00"),  # rounds to zero: no sign
        (999_999, "$1.0M"),
        (1_250.5, "$1.3k"),
        (85.5, "$85.50"),
    ],
)
def test_money(value, shown):
    assert fmt.money(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (-0.04, "0.0 pp"),  # was "−0.0 pp"
        (0.04, "0.0 pp"),
        (-0.06, "−0.1 pp"),
        (2.14, "+2.1 pp"),
    ],
)
def test_points_changes(value, shown):
    assert fmt.pp(value) == shown


def test_a_share_that_rounds_to_zero_has_no_sign_and_a_negative_one_a_true_minus():
    assert fmt.share(-0.0001) == "0.0%"
    assert fmt.share(-0.02) == "−2.0%"


def test_a_kpi_change_reads_in_points_for_shares_and_percent_for_amounts():
    assert fmt.kpi_change("share", 0.195, 0.2) == "−0.5 pp"
    assert fmt.kpi_change("amount", 82.13, 83.38) == "−1.5%"
    assert fmt.kpi_change("count", 10, 0) == "–"  # no change from nothing


# --- Issue 19: one unit per quantity, no arrow for no change, "–" with its reason ---------


def test_a_gap_and_its_change_read_in_one_unit_pp():
    # The experience gap is a difference of shares, shown "51.3 pp"; its change from 49.2 to
    # 51.3 is 51.3 - 49.2 = 2.1, also in pp (it read "+2.1 pts" beside the "51.3 pp" value).
    assert fmt.kpi_value("pp", 51.3) == "51.3 pp"
    assert fmt.kpi_change("pp", 51.3, 49.2) == "+2.1 pp"
    # A score (NPS) moves in whole points, as it is shown: 23.4 - 20.1 = 3.3 -> "+3 pts".
    assert fmt.kpi_change("score", 23.4, 20.1) == "+3 pts"
    # A 1-5 mean moves in points with its two decimals: 3.62 - 3.50 = 0.12.
    assert fmt.kpi_change("points", 3.62, 3.5) == "+0.12 pts"


@pytest.mark.parametrize(
    ("unit", "value", "previous", "text"),
    [
        ("share", 0.2104, 0.2100, "0.0 pp"),  # 0.04 pp rounds to 0.0 at one decimal
        ("score", 23.2, 22.9, "0 pts"),  # 0.3 rounds to 0 at whole points
        ("amount", 100.04, 100.0, "0.0%"),  # 0.04% rounds to 0.0%
    ],
)
def test_a_change_that_rounds_to_zero_has_no_arrow(unit, value, previous, text):
    moved = fmt.change(unit, value, previous)
    assert (moved.text, moved.direction) == (text, 0)
    delta = fmt.metric_delta(unit, value, previous, "higher")
    assert delta == {"delta": f"{text} vs previous", "delta_color": "off", "delta_arrow": "off"}


def test_a_change_inside_the_noise_has_no_arrow_and_says_so():
    # 25% against 21% is +4.0 pp, but the report's clear_change is false: no arrow.
    moved = fmt.change("share", 0.25, 0.21, clear=False)
    assert (str(moved), moved.direction) == ("no clear change (+4.0 pp)", 0)
    noisy = fmt.metric_delta("share", 0.25, 0.21, "higher", clear=False)
    # The tile's pill says it in full (it cut "no clear change (+1.8…" at its width); the
    # change itself moves to the caption.
    assert (noisy["delta"], noisy["delta_arrow"]) == ("no clear change", "off")
    assert fmt.noisy_change(moved) == "+4.0 pp"
    clear = fmt.metric_delta("share", 0.25, 0.21, "higher", clear=True)
    assert (clear["delta"], clear["delta_arrow"]) == ("+4.0 pp vs previous", "auto")


def test_the_tile_of_a_0_0_pp_change_draws_no_arrow():
    from streamlit.proto.Metric_pb2 import Metric
    from streamlit.testing.v1 import AppTest

    def tile():
        import streamlit as st

        from cxm.ui import fmt

        # Active rate 21.04% against 21.00%: +0.04 pp, shown "0.0 pp".
        st.metric("Active rate", "21.0%", **fmt.metric_delta("share", 0.2104, 0.21, "higher"))
        # 23.0% against 21.0%: +2.0 pp, an up arrow.
        st.metric("Active rate", "23.0%", **fmt.metric_delta("share", 0.23, 0.21, "higher"))

    at = AppTest.from_function(tile).run()
    flat, up = at.metric
    assert (flat.proto.delta, flat.proto.direction) == ("0.0 pp vs previous", Metric.NONE)
    assert (up.proto.delta, up.proto.direction) == ("+2.0 pp vs previous", Metric.UP)


@pytest.mark.parametrize(
    ("n", "open_windows", "reason"),
    [
        (0, None, "no answers"),
        (6, None, "under 10: too small to read"),
        (0, 13, "window still open for 13 sellers"),
        (1, 1, "window still open for 1 seller"),
        (40, None, ""),
    ],
)
def test_a_missing_value_says_why(n, open_windows, reason):
    assert fmt.missing_reason(n, 10, open_windows=open_windows, noun="answers") == reason


def test_an_interval_reads_in_the_kpis_unit():
    # Wilson 95% for 231 of 1,090: about 18.9% to 23.7%, shown as the value is.
    assert fmt.interval("share", 0.1889, 0.2366) == "18.9% to 23.7%"
    assert fmt.interval("amount", 81.5, 86.904) == "$81.50 to $86.90"
    assert fmt.interval("share", None, None) == "–"


def test_a_change_that_rounds_to_zero_reads_as_it_is_even_inside_the_noise():
    # 21.01% against 21.00%: 0.01 pp shows "0.0 pp"; "no clear change (0.0 pp)" says nothing more.
    assert str(fmt.change("share", 0.2101, 0.21, clear=False)) == "0.0 pp"
    # One NPS point is a point: 9 - 8 = 1.
    assert fmt.kpi_change("score", 9, 8) == "+1 pt"


def test_the_table_behind_a_chart_shows_the_interval_the_month_and_the_ladder():
    import datetime as dt

    import polars as pl

    from cxm.config import load_config
    from cxm.ui import tables

    cfg = load_config()
    trend = pl.DataFrame(
        {
            "rank": ["Director", "Member", "Member"],
            "kpi_id": ["active_rate"] * 3,
            "month": [dt.date(2026, 10, 1), dt.date(2026, 9, 1), dt.date(2026, 10, 1)],
            # Member in October: 231 of 1,090 active = 21.2%, Wilson 95% 18.9% to 23.7%.
            "value": [0.5, 0.2, 231 / 1090],
            "n": [40, 1000, 1090],
            "small": [False, False, False],
            "ci_low": [0.352, 0.176, 0.1889],
            "ci_high": [0.648, 0.226, 0.2366],
        }
    )
    shown = tables.report_table(trend, cfg)
    assert shown.columns == ["Rank", "Month", "KPI", "Value", "95% interval", "n", "Base"]
    assert shown.select("Rank", "Month", "Value", "95% interval").rows() == [
        ("Member", "Sep 2026", "20.0%", "17.6% to 22.6%"),
        ("Member", "Oct 2026", "21.2%", "18.9% to 23.7%"),
        ("Director", "Oct 2026", "50.0%", "35.2% to 64.8%"),
    ]


def test_an_overview_tile_draws_no_arrow_beside_0_0_pp():
    from streamlit.proto.Metric_pb2 import Metric
    from streamlit.testing.v1 import AppTest

    def overview_tiles():
        import datetime as dt

        import polars as pl

        from cxm.config import load_config
        from cxm.ui import tiles

        # Active rate 21.04% against 21.00% (+0.04 pp: "0.0 pp"); revenue 110 against 100
        # (+10.0%, an up arrow).
        report = pl.DataFrame(
            {
                "kpi_id": ["active_rate", "revenue"],
                "value": [0.2104, 110.0],
                "n": [5000, 40],
                "small": [False, False],
                "previous": [0.21, 100.0],
                "target": [None, None],
            },
            schema_overrides={"target": pl.Float64},
        )
        trend = pl.DataFrame(
            schema={"kpi_id": pl.String, "month": pl.Date, "value": pl.Float64, "n": pl.Int64}
        )
        tiles.kpi_tiles(report, trend, load_config(), "Q3 2026", dt.date(2026, 9, 30))

    at = AppTest.from_function(overview_tiles).run()
    assert not at.exception, at.exception
    flat, up = at.metric
    assert flat.proto.delta.startswith("0.0 pp") and flat.proto.direction == Metric.NONE
    assert up.proto.delta.startswith("+10.0%") and up.proto.direction == Metric.UP


def test_a_small_table_behind_a_chart_shows_a_dash_for_a_missing_share():
    import datetime as dt

    import polars as pl

    from cxm.ui import tables

    # The 2026 cohort: 40 enrolled, 30 still in at month 6; month 12 has not come for them
    # (its share is missing, not 0%).
    curves = pl.DataFrame(
        {
            "cohort_start": [dt.date(2026, 1, 1)] * 2,
            "month": [6, 12],
            "sellers": [40, None],
            "retained": [30, None],
            "retained_share": [30 / 40, None],
        }
    )
    shown = tables.shown(curves, tables.CURVE_LABELS)
    assert shown.select("Months since enrolling", "Share still enrolled").rows() == [
        (6, "75.0%"),
        (12, "–"),
    ]
    assert shown["Still enrolled"].to_list() == ["30", "–"]
