"""KPI tiles and findings in words: what the Overview shows above its charts."""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from cxm.config import CompanyConfig
from cxm.metrics.kpis import BY_ID, Kpi
from cxm.metrics.report import Comparison, movers
from cxm.ui import charts, fmt

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
                delta = fmt.kpi_change(kpi.unit, r["value"], r["previous"])
                flat = delta == fmt.DASH or not delta.startswith(("+", fmt.MINUS))
                st.metric(
                    kpi.short or kpi.label,
                    fmt.kpi_value(kpi.unit, r["value"], cfg.currency),
                    # st.metric reads the direction from an ASCII minus sign.
                    delta=None
                    if delta == fmt.DASH
                    else f"{delta.replace(fmt.MINUS, '-', 1)} vs previous",
                    delta_color="off"
                    if flat
                    else "normal"
                    if kpi.better == "higher"
                    else "inverse",
                    help=f"{kpi.label}: {kpi.definition}"
                    + (f" Change: {comparison.sentence()}." if comparison else ""),
                )
                target = (
                    f"target {fmt.kpi_value(kpi.unit, r['target'], cfg.currency)}"
                    if r["target"] is not None
                    else "no target set"
                )
                small = " · small n" if r["small"] else ""
                st.caption(
                    f"{_counts(kpi, period_words, as_of)} · n = {fmt.number(r['n'])}"
                    f"{small} · {target}{_versus(kpi, comparison)}"
                )
                if len(history) > 1:
                    # An SVG line drawn as an image: ten Plotly figures made the page slow.
                    st.image(charts.sparkline_svg(values.to_list(), kpi.better))


def mover_sentences(
    report: pl.DataFrame, dim: str, cfg: CompanyConfig, limit: int = 3
) -> list[str]:
    """Return the segments that moved most, each as a Markdown sentence with its reason (every
    value in it escaped: a market or rank name is shown as text, and $ amounts are not math)."""
    names = {m.code: m.name for m in cfg.markets}
    md = fmt.md_escape
    out = []
    for r in movers(report, dim, limit=limit, min_n=cfg.min_n).iter_rows(named=True):
        kpi = BY_ID[r["kpi_id"]]
        where = (
            f"in {md(names.get(r[dim], r[dim]))}"
            if dim == "market"
            else f"among {md(r[dim])} sellers"
        )
        direction = "rose" if (r["change"] or 0) > 0 else "fell"
        good = (direction == "rose") == (kpi.better == "higher")
        out.append(
            f"{':green' if good else ':red'}[**{md(kpi.label)}** {direction} "
            f"{md(fmt.kpi_change(kpi.unit, r['value'], r['previous']).lstrip('+−'))}] {where}, "
            f"to {md(fmt.kpi_value(kpi.unit, r['value'], cfg.currency))} "
            f"(company {md(fmt.kpi_value(kpi.unit, r['company'], cfg.currency))}; "
            f"n = {md(fmt.number(r['n']))})."
        )
    return out


def widest_gap_headline(gaps: pl.DataFrame, cfg: CompanyConfig) -> str:
    """Return a title (Markdown, values escaped) stating where the experience gap is widest."""
    names = {m.code: m.name for m in cfg.markets}
    rows = gaps.filter(
        pl.col("kpi_id") == "experience_gap_pp", ~pl.col("small"), pl.col("value").is_not_null()
    ).sort("value", descending=True)
    if rows.is_empty():
        return "Not enough survey answers to measure the experience gap"
    top = rows.row(0, named=True)
    text = (
        f"The experience gap is widest in {names.get(top['market'], top['market'])}: "
        f"{fmt.kpi_value('pp', top['value'])}"
    )
    if rows.height > 1:
        text += f", {fmt.pp(top['value'] - rows['value'][1]).lstrip('+')} wider than next"
    return fmt.md_escape(text)


def gap_headline(gaps: pl.DataFrame) -> str:
    """Return a title (Markdown, values escaped) naming the attribute where belief and
    customers differ most."""
    rows = gaps.filter(
        pl.col("customer_gap_pp").is_not_null(),
        pl.col("n_customer") >= 10,
        pl.col("n_corporate") >= 10,
    ).sort("customer_gap_pp", descending=True)
    if rows.is_empty():
        return "Not enough corporate and customer answers to compare"
    top = rows.row(0, named=True)
    return fmt.md_escape(
        f"On {top['attribute']}, {fmt.share(top['corporate_share'])} of corporate answers "
        f"say superior; {fmt.share(top['customer_share'])} of customers do, a "
        f"{fmt.kpi_value('pp', top['customer_gap_pp'])} gap"
    )


def drivers_method(focus: pl.DataFrame) -> str:
    """Return the one-line method note under the focus-areas chart."""
    n = int(focus["importance"].is_not_null().sum())
    return (
        "Importance: correlation of each attribute's 1-5 score with the same customer's 0-10 "
        "recommend score on the same day, as a share of all positive correlations "
        f"({n} attributes). Quadrants split at the mean importance and the mean gap."
    )


def heatmap_headline(grid: pl.DataFrame, kpi: Kpi, cfg: CompanyConfig) -> str:
    """Return a title (Markdown, values escaped) naming the best and the worst rank x market
    cell of one KPI."""
    rows = grid.filter(
        pl.col("kpi_id") == kpi.id, ~pl.col("small"), pl.col("value").is_not_null()
    ).sort("value")
    if rows.height < 2:
        return fmt.md_escape(f"{kpi.label} by rank and market")
    lo, hi = rows.row(0, named=True), rows.row(rows.height - 1, named=True)
    best, worst = (hi, lo) if kpi.better == "higher" else (lo, hi)
    return fmt.md_escape(
        f"{kpi.label}: best {best['rank']} in {best['market']} "
        f"({fmt.kpi_value(kpi.unit, best['value'], cfg.currency)}), worst {worst['rank']} "
        f"in {worst['market']} ({fmt.kpi_value(kpi.unit, worst['value'], cfg.currency)})"
    )


def bars_headline(report: pl.DataFrame, kpi: Kpi, dim: str, cfg: CompanyConfig) -> str:
    """Return a title (Markdown, values escaped) naming the segment furthest below the company
    on one KPI."""
    rows = report.filter(
        pl.col("kpi_id") == kpi.id, ~pl.col("small"), pl.col("value").is_not_null()
    )
    if rows.is_empty():
        return fmt.md_escape(f"{kpi.label} by {dim}")
    sign = 1 if kpi.better == "higher" else -1
    worst = rows.sort(pl.col("value") * sign).row(0, named=True)
    return fmt.md_escape(
        f"{kpi.label}: {worst[dim]} trails at "
        f"{fmt.kpi_value(kpi.unit, worst['value'], cfg.currency)} "
        f"(company {fmt.kpi_value(kpi.unit, worst['company'], cfg.currency)})"
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


def funnel_steps(funnel: dict) -> list[tuple[str, int]]:
    """Return the funnel's steps with their labels, in order."""
    return [
        ("Enrolled", funnel["enrolled"]),
        ("Past day 30", funnel["reached_30d"]),
        ("Sold in first 30 days", funnel["first_sale_30d"]),
        ("Sold early and still in at day 90", funnel["sold_and_in_at_90d"]),
    ]


def downline_at_risk(orphaned: pl.DataFrame, lapsed: pl.DataFrame, cfg: CompanyConfig) -> None:
    """Draw the sellers whose sponsor just left, and the lapsed leaders with their teams."""
    left, right = st.columns(2, gap="large")
    with left:
        total = int(orphaned["sellers_whose_sponsor_left"].sum()) if orphaned.height else 0
        st.markdown(
            f"**{fmt.number(total)} live sellers lost their sponsor in the last 90 "
            "days**, by market, language and rank:"
        )
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
        team = int(lapsed["live_team"].sum()) if lapsed.height else 0
        st.markdown(
            f"**{fmt.number(lapsed.height)} leaders have lapsed** (no sale, enrolment "
            f"or app use in 60 days), with {fmt.number(team)} live sellers below them:"
        )
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
