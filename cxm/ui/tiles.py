"""KPI tiles and findings in words: what the Overview shows above its charts."""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from cxm.config import CompanyConfig
from cxm.metrics.cohorts import DownlineAtRisk
from cxm.metrics.kpis import BY_ID, Kpi
from cxm.metrics.report import Comparison
from cxm.ui import charts, fmt
from cxm.ui.headlines import (  # noqa: F401  (the pages call them as tiles.*)
    bars_headline,
    gap_headline,
    heatmap_headline,
    interval_help,
    mover_sentences,
    widest_gap_headline,
)

#: How old the data may be before the pages warn that it is stale.
STALE_AFTER_DAYS = 7


def stale_warning(as_of: dt.date, today: dt.date | None = None) -> None:
    """Warn when the data's as-of date is more than a week before today."""
    today = today or dt.date.today()
    age = (today - as_of).days
    if age > STALE_AFTER_DAYS:
        st.warning(
            f"The data is {age} days old: it runs to {fmt.date(as_of)}. Numbers for later "
            "days are not in yet; load newer data on the Data page.",
            icon=":material/history:",
        )


def _counts(kpi: Kpi, period_words: str, as_of: dt.date) -> str:
    """Return when a tile's number is taken: on the as-of date, or over the period."""
    return f"on {fmt.date(as_of)}" if kpi.snapshot else f"in {period_words}"


def _to_date(trend: pl.DataFrame) -> bool:
    """Return whether a trend's last month is one the data stops inside."""
    if "partial" not in trend.columns or trend.is_empty():
        return False
    return bool(trend.sort("month")["partial"][-1])


def _versus(kpi: Kpi, comparison: Comparison | None) -> str:
    """Return what a tile's change is against: the compared days, or its day for a snapshot."""
    if comparison is None:
        return ""
    if comparison.previous is None:
        return " · no comparison"
    if kpi.snapshot:
        return f" · vs {fmt.date(comparison.previous.end)}"
    return f" · vs {comparison.previous_label}"


def kpi_tiles(
    report: pl.DataFrame,
    trend: pl.DataFrame,
    cfg: CompanyConfig,
    period_words: str,
    as_of: dt.date,
    per_row: int = 5,
    comparison: Comparison | None = None,
) -> None:
    """Draw one tile per KPI: value, change against the previous period, target, 12 months.

    With ``comparison`` (`cxm.metrics.report.comparison`) each caption names what the change
    is against ("vs Q3 2026 (1–31 Jul)"; a snapshot's day) and the help says it in full.
    """
    rows = list(report.iter_rows(named=True))
    for start in range(0, len(rows), per_row):
        cols = st.columns(per_row)
        for col, r in zip(cols, rows[start : start + per_row], strict=False):
            kpi = BY_ID[r["kpi_id"]]
            values = trend.filter(pl.col("kpi_id") == kpi.id).sort("month")["value"]
            history = [v for v in values.to_list() if v is not None]
            with col.container(border=True):
                st.metric(
                    kpi.short or kpi.label,
                    fmt.kpi_value(kpi.unit, r["value"], cfg.currency),
                    # No arrow for no change, an unknown one, or one inside the noise.
                    **fmt.metric_delta(
                        kpi.unit, r["value"], r["previous"], kpi.better, r.get("clear_change")
                    ),
                    help=f"{kpi.label}: {kpi.definition}"
                    + (f" Change: {comparison.sentence()}." if comparison else "")
                    + interval_help(kpi, r, cfg),
                )
                target = (
                    f"target {fmt.kpi_value(kpi.unit, r['target'], cfg.currency)}"
                    if r["target"] is not None
                    else "no target set"
                )
                small = " · small n" if r["small"] else ""
                noisy = fmt.noisy_change(
                    fmt.change(kpi.unit, r["value"], r["previous"], r.get("clear_change"))
                )
                st.caption(
                    f"{_counts(kpi, period_words, as_of)} · n = {fmt.number(r['n'])}"
                    f"{small}{open_note(kpi, r)} · {target}{_versus(kpi, comparison)}"
                    + (f" ({noisy}, inside the noise)" if noisy else "")
                )
                if len(history) > 1:
                    # An SVG line drawn as an image: ten Plotly figures made the page slow.
                    st.image(
                        charts.sparkline_svg(
                            values.to_list(), kpi.better, partial_last=_to_date(trend)
                        )
                    )


def drivers_method(focus: pl.DataFrame) -> str:
    """Return the one-line method note under the focus-areas chart."""
    n = int(focus["importance"].is_not_null().sum())
    return (
        "Importance: correlation of each attribute's 1-5 score with the same customer's 0-10 "
        "recommend score on the same day, as a share of all positive correlations "
        f"({n} attributes). Quadrants split at the mean importance and the mean gap."
    )


def curves_headline(curves: pl.DataFrame) -> str:
    """Return a title (Markdown, values escaped) with the newest cohort's 12-month retention
    against the oldest."""
    at12 = curves.filter(pl.col("month") == 12, pl.col("sellers") >= 10).sort("cohort_start")
    if at12.height < 2:
        return "Seller retention by enrolment cohort"
    old, new = at12.row(0, named=True), at12.row(at12.height - 1, named=True)
    return fmt.md_escape(
        f"{fmt.share(new['retained_share'])} of the {str(new['cohort_start'])[:4]} cohort "
        f"were still in after 12 months ({str(old['cohort_start'])[:4]}: "
        f"{fmt.share(old['retained_share'])})"
    )


def open_note(kpi: Kpi, row: dict) -> str:
    """Return " · N sellers' windows still open" for a window KPI with open windows, else "".

    >>> open_note(BY_ID["churn_after_sponsor_left"], {"value": None, "open": 156})
    " · no value yet: 156 sellers' windows still open"
    >>> open_note(BY_ID["customer_retention_90d"], {"value": 0.62, "open": 9053})
    " · 9,053 customers' windows still open"
    >>> open_note(BY_ID["active_rate"], {"value": 0.2, "open": None})
    ''
    """
    still = row.get("open")
    if not kpi.open or not still:
        return ""
    who = "customers" if kpi.open.startswith("customers") else "sellers"
    text = f"{_count(still)} {who}' windows still open"
    return f" · no value yet: {text}" if row.get("value") is None else f" · {text}"


#: What the cohort curves and the funnel count, said under them on the KPIs page.
WINDOWS_NOTE = (
    "Curves and funnel count a seller only once their window has closed by the as-of date "
    "(a curve stops at the months a cohort has reached; a funnel step waits for day 30 or 90). "
    "A rank filter here uses the rank each seller held when they enrolled: the first rank "
    "unless the rank history says otherwise, so those who left stay in. Status, tenure and "
    "training tier are as of the as-of date."
)


def _count(n: int) -> str:
    """Return a count of people exactly, with thousands separators: 5,963."""
    return f"{int(n):,}"


def funnel_steps(funnel: dict) -> list[tuple[str, int]]:
    """Return the funnel's steps, in order, over ONE group of sellers whose windows are closed.

    The sellers past day 90 when there are any (sold in the first 30 days, and still in at day
    90 too), else those past day 30, else no steps: a seller whose day 30 is still to come
    is open, not a drop-off (`cxm.metrics.cohorts.fast_start_funnel`).

    >>> funnel_steps({"enrolled": 497, "reached_30d": 13, "first_sale_30d": 5,
    ...     "open_30d": 484, "reached_90d": 0, "first_sale_30d_of_90d": 0,
    ...     "sold_and_in_at_90d": 0, "open_90d": 497})
    [('Past day 30', 13), ('Sold in first 30 days', 5)]
    """
    if funnel["reached_90d"]:
        return [
            ("Past day 90", funnel["reached_90d"]),
            ("Sold in first 30 days", funnel["first_sale_30d_of_90d"]),
            ("Sold early and still in at day 90", funnel["sold_and_in_at_90d"]),
        ]
    if funnel["reached_30d"]:
        return [
            ("Past day 30", funnel["reached_30d"]),
            ("Sold in first 30 days", funnel["first_sale_30d"]),
        ]
    return []


def funnel_headline(funnel: dict) -> str:
    """Return the funnel's title: whom its steps count, and how many are still open.

    >>> funnel_headline({"enrolled": 497, "reached_30d": 13, "reached_90d": 0,
    ...     "open_30d": 484, "open_90d": 497})
    'Fast start of the 13 of 497 sellers enrolled in the period who are past day 30 (484 not yet)'
    >>> funnel_headline({"enrolled": 4, "reached_30d": 0, "reached_90d": 0,
    ...     "open_30d": 4, "open_90d": 4})
    'Fast start: none of the 4 sellers enrolled in the period is past day 30 yet'
    """
    enrolled = _count(funnel["enrolled"])
    for day in (90, 30):
        if funnel[f"reached_{day}d"]:
            waiting = funnel[f"open_{day}d"]
            return (
                f"Fast start of the {_count(funnel[f'reached_{day}d'])} of {enrolled} "
                f"sellers enrolled in the period who are past day {day}"
                + (f" ({_count(waiting)} not yet)" if waiting else "")
            )
    if not funnel["enrolled"]:
        return "Fast start: no seller enrolled in the period"
    return f"Fast start: none of the {enrolled} sellers enrolled in the period is past day 30 yet"


def downline_at_risk(risk: DownlineAtRisk, cfg: CompanyConfig) -> None:
    """Draw the sellers whose sponsor just left, and the lapsed leaders with their teams.

    The sentences give distinct totals (`DownlineAtRisk`): a sponsor whose downline spans
    several rows, or a seller below two lapsed leaders, counts once there; the rows count
    per row, and the tables say so.
    """
    orphaned, lapsed = risk.orphaned, risk.lapsed
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown(downline_sentences(risk)[0])
        st.dataframe(
            orphaned.rename(
                {
                    "market": "Market",
                    "language": "Language",
                    "rank": "Rank",
                    "sellers_whose_sponsor_left": "Sellers whose sponsor left",
                    "sponsors_who_left": "Sponsors who left",
                }
            ),
            hide_index=True,
            key="orphaned",
        )
    with right:
        st.markdown(downline_sentences(risk)[1])
        st.dataframe(
            lapsed.head(200).rename(
                {
                    "seller_id": "Leader",
                    "market": "Market",
                    "language": "Language",
                    "rank": "Rank",
                    "live_team": "Live sellers below",
                }
            ),
            hide_index=True,
            key="lapsed",
        )


def downline_sentences(risk: DownlineAtRisk) -> tuple[str, str]:
    """Return the two headline sentences (Markdown) of the downline at risk, distinct counts."""
    sponsors = risk.sponsors_who_left
    orphans = (
        f"**{_count(risk.orphaned_sellers)} live sellers lost their sponsor in the last "
        f"90 days**: {_count(sponsors)} distinct sponsor{'s' if sponsors != 1 else ''} "
        "left. By market, language and rank (a sponsor whose downline spans rows is in each):"
    )
    leaders = risk.lapsed.height
    lapsed = (
        f"**{_count(leaders)} leader{'s have' if leaders != 1 else ' has'} lapsed** (no "
        f"sale, enrolment or app use in 60 days), with "
        f"{_count(risk.live_below_lapsed)} of {_count(risk.live_sellers)} live sellers "
        "below at least one of them (each counted once; the rows overlap where one lapsed "
        "leader is below another):"
    )
    return orphans, lapsed


def tracking_headline(weekly: pl.DataFrame, weeks: int) -> str:
    """Return a title (Markdown, values escaped) comparing the model's holdout repeat purchases
    with the actual ones."""
    last = weekly.row(weekly.height - 1, named=True)
    actual, predicted = last["actual"], last["predicted"]
    if not actual:
        return f"Repeat purchases in the {weeks}-week holdout, actual and predicted"
    off = predicted / actual - 1
    return fmt.md_escape(
        f"The model predicted {fmt.number(predicted)} repeat purchases in the {weeks}-week "
        f"holdout; customers made {fmt.number(actual)} ({fmt.signed(100 * off, 1, '%')})"
    )
