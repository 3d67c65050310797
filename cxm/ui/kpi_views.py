"""The KPIs by segment page's three views, each drawn from a `PageContext` (what the page's
filters chose): chosen KPIs by segment and month, cohorts and the downline, customer value.
The page computes and draws only the view shown (`VIEWS`, the URL parameter ``view``)."""

from __future__ import annotations

import polars as pl
import streamlit as st
from plotly.graph_objects import Figure

from cxm.metrics import holdout, value
from cxm.metrics.report import comparison
from cxm.segments import Dimension
from cxm.segments.filter import SELLER_DIMENSIONS
from cxm.ui import charts, fmt, queries, shell, tables, tiles, widgets
from cxm.ui.shell import PageContext

#: The page's views (URL parameter ``view``), the first shown by default.
VIEWS = {
    "segments": "By segment",
    "cohorts": "Cohorts and downline",
    "value": "Customer value",
}
#: The customer value view's KPIs: the first two drawn as bars, all three in the table.
VALUE_KPIS = ["clv_12m_per_customer", "customers_at_risk_share", "clv_12m_total"]


def breakdown() -> str:
    """The dimension the bars break down by (URL parameter ``by``), in the two views that
    have bars."""
    return widgets.dimension_picker(
        "Break down by", list(SELLER_DIMENSIONS), Dimension.MARKET, key="by"
    )


def draw(view: str, ctx: PageContext) -> None:
    """Draw view ``view`` (a key of `VIEWS`)."""
    {"segments": by_segment, "cohorts": cohorts, "value": customer_value}[view](ctx)


def _bars(report: pl.DataFrame, kpi_id: str, by: str, ctx: PageContext, key: str) -> None:
    kpi = shell.kpi(kpi_id)
    st.subheader(tiles.bars_headline(report, kpi, by, ctx.cfg))
    company = report.filter(report["kpi_id"] == kpi_id)["company"].first()
    st.plotly_chart(charts.kpi_bars(report, kpi, by, ctx.cfg, company), key=key)


def by_segment(ctx: PageContext) -> None:
    """The chosen KPIs: the first by rank x market (heatmap), each by the breakdown (bars),
    the first by month (trend), each with the table behind it."""
    kpis = widgets.kpi_picker(default=("active_rate", "avg_order_amount"))
    by = breakdown()
    first = shell.kpi(kpis[0])
    grid = queries.segment_report(kpis, by=["rank", "market"], where=ctx.where, scope=ctx.scope)
    if grid["n"].sum() == 0:
        st.info(
            f"No data for {fmt.md_escape(ctx.where.describe())} in "
            f"{fmt.md_escape(ctx.scope.describe())}."
        )
        st.stop()
    st.subheader(tiles.heatmap_headline(grid, first, ctx.cfg))
    st.plotly_chart(
        charts.heatmap(grid, first, "rank", "market", ctx.cfg, order={"rank": list(ctx.cfg.ranks)}),
        key="heatmap",
    )
    tables.behind(grid.filter(grid["kpi_id"] == first.id), ctx.cfg, key="heatmap_table")

    report = queries.segment_report(kpis, by=[by], where=ctx.where, scope=ctx.scope)
    cols = st.columns(min(2, len(kpis)))
    for i, kpi_id in enumerate(kpis):
        with cols[i % len(cols)]:
            _bars(report, kpi_id, by, ctx, key=f"bars_{kpi_id}")
    tables.behind(report, ctx.cfg, key="bars_table")
    st.caption(f"Previous and change: {comparison(ctx.where, queries.data(ctx.scope)).sentence()}.")

    st.subheader(f"{first.label} by month")
    lines = by if by in ("market", "rank") else None
    trend = queries.trend(
        [first.id], months=12, by=[lines] if lines else [], where=ctx.where, scope=ctx.scope
    )
    target = grid.filter(grid["kpi_id"] == first.id)["target"].drop_nulls().first()
    st.plotly_chart(charts.trend(trend, first, ctx.cfg, lines, target), key="trend")
    tables.behind(trend.drop("month"), ctx.cfg, key="trend_table")


def cohorts(ctx: PageContext) -> None:
    """Retention curves by enrolment year and the fast-start funnel side by side, then the
    downline at risk."""
    curves_col, funnel_col = st.columns(2, gap="large")
    with curves_col:
        curves = queries.retention_curves(grain="year", where=ctx.where, scope=ctx.scope)
        st.subheader(tiles.curves_headline(curves))
        if curves.is_empty():
            ranked = ctx.where.rank_at_least or ctx.where.ranks
            st.info(
                "No seller in this segment held the chosen rank when they enrolled."
                if ranked
                else "No seller in this segment."
            )
        else:
            st.plotly_chart(charts.retention_curves(curves), key="curves")
            tables.plain(curves, key="curves_table", labels=tables.CURVE_LABELS)
    with funnel_col:
        funnel = queries.fast_start_funnel(where=ctx.where, scope=ctx.scope)
        st.subheader(tiles.funnel_headline(funnel))
        if steps := tiles.funnel_steps(funnel):
            st.plotly_chart(charts.funnel(steps), key="funnel")
            tables.plain(tables.funnel_frame(steps), key="funnel_table", labels={})
    st.caption(tiles.WINDOWS_NOTE)

    st.subheader("Downline at risk")
    tiles.downline_at_risk(queries.downline_at_risk(where=ctx.where, scope=ctx.scope), ctx.cfg)


def customer_value(ctx: PageContext) -> None:
    """Predicted customer value by the breakdown, then the check of its model on the holdout."""
    by = breakdown()
    valued = queries.segment_report(VALUE_KPIS, by=[by], where=ctx.where, scope=ctx.scope)
    data_as_of = queries.data(ctx.scope).as_of
    if tables.base_of(valued, VALUE_KPIS[0]) == 0 and ctx.where.period.end < data_as_of:
        st.info(
            f"Predicted customer value is modelled for the data's as-of date, "
            f"{fmt.date(data_as_of)}, only: choose a period that ends there to see it."
        )
    elif tables.base_of(valued, VALUE_KPIS[0]) == 0:
        st.info(
            "No customer value model could be fitted at the last load (too few customers or "
            "repeat buyers in these markets, or the fit did not converge); the Data page lists "
            "the fits."
        )
    else:
        st.caption(
            f"BG/NBD purchases x Gamma-Gamma spend over the next {value.HORIZON_MONTHS} months, "
            f"discounted {value.MONTHLY_DISCOUNT:.0%} a month, fitted per market at each load "
            f"(docs/metrics.md). At risk: probability still active under {value.AT_RISK:.0%}."
        )
        for col, kpi_id in zip(st.columns(2), VALUE_KPIS[:2], strict=False):
            with col:
                _bars(valued, kpi_id, by, ctx, key=f"value_{kpi_id}")
        tables.behind(valued, ctx.cfg, key="value_table")
    _model_check(ctx)


#: The column labels of the model check's two tables: weekly tracking, then calibration.
_TRACKING_LABELS = {
    "week": "Week",
    "actual": "Actual (cumulative)",
    "predicted": "Model (cumulative)",
}
_CALIBRATION_LABELS = {
    "bucket": "Repeat purchases in calibration (7: 7 or more)",
    "customers": "Customers",
    "actual": "Actual mean in holdout",
    "predicted": "Model mean in holdout",
}


def _model_check(ctx: PageContext) -> None:
    # The holdout check: cumulative repeat purchases week by week, and the mean by how often
    # the customer bought in calibration, each a chart with its table.
    by_frequency, weekly = queries.value_calibration(where=ctx.where, scope=ctx.scope)
    if by_frequency.is_empty():
        st.info(
            "The model has not been checked on this data: no customer bought twice before the "
            "holdout."
        )
        return
    st.subheader(tiles.tracking_headline(weekly, holdout.HOLDOUT_WEEKS))
    parts: list[tuple[Figure, str, pl.DataFrame, str, dict[str, str]]] = [
        (charts.value_tracking(weekly), "value_tracking", weekly, "tracking_table",
         _TRACKING_LABELS),
        (charts.value_calibration(by_frequency), "value_calibration", by_frequency,
         "calibration_table", _CALIBRATION_LABELS),
    ]  # fmt: skip
    for col, (figure, key, frame, table_key, labels) in zip(
        st.columns(2, gap="large"), parts, strict=True
    ):
        with col:
            st.plotly_chart(figure, key=key)
            tables.plain(frame, key=table_key, labels=labels)
