"""KPIs by segment, in three views: chosen KPIs by rank x market, by one dimension and by
month; cohort retention, the fast start and the downline at risk; predicted customer value with
the check of its model. Only the view shown is computed and drawn."""

import streamlit as st

from cxm.metrics import holdout, value
from cxm.metrics.report import comparison
from cxm.segments import Dimension
from cxm.segments.filter import SELLER_DIMENSIONS
from cxm.ui import charts, fmt, queries, shell, tables, tiles, widgets

#: The page's views (URL parameter ``view``), the first shown by default.
VIEWS = {
    "segments": "By segment",
    "cohorts": "Cohorts and downline",
    "value": "Customer value",
}


def breakdown() -> str:
    """The dimension the bars break down by (URL parameter ``by``), in the two views that
    have bars."""
    return widgets.dimension_picker(
        "Break down by", list(SELLER_DIMENSIONS), Dimension.MARKET, key="by"
    )


ctx = shell.page("KPIs by segment", page_params=("view", "kpis", "by"))
view = widgets.one_of("View", VIEWS, "segments", key="view")
if view == "segments":
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
        kpi = shell.kpi(kpi_id)
        with cols[i % len(cols)]:
            st.subheader(tiles.bars_headline(report, kpi, by, ctx.cfg))
            company = report.filter(report["kpi_id"] == kpi_id)["company"].first()
            st.plotly_chart(
                charts.kpi_bars(report, kpi, by, ctx.cfg, company), key=f"bars_{kpi_id}"
            )
    tables.behind(report, ctx.cfg, key="bars_table")
    st.caption(f"Previous and change: {comparison(ctx.where, queries.data(ctx.scope)).sentence()}.")

    st.subheader(f"{first.label} by month")
    trend = queries.trend(
        [first.id],
        months=12,
        by=[by] if by in ("market", "rank") else [],
        where=ctx.where,
        scope=ctx.scope,
    )
    target = grid.filter(grid["kpi_id"] == first.id)["target"].drop_nulls().first()
    st.plotly_chart(
        charts.trend(trend, first, ctx.cfg, by if by in ("market", "rank") else None, target),
        key="trend",
    )
    tables.behind(trend.drop("month"), ctx.cfg, key="trend_table")

elif view == "cohorts":
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

else:  # "value"
    by = breakdown()
    value_kpis = ["clv_12m_per_customer", "customers_at_risk_share", "clv_12m_total"]
    valued = queries.segment_report(value_kpis, by=[by], where=ctx.where, scope=ctx.scope)
    data_as_of = queries.data(ctx.scope).as_of
    if tables.base_of(valued, "clv_12m_per_customer") == 0 and ctx.where.period.end < data_as_of:
        st.info(
            f"Predicted customer value is modelled for the data's as-of date, "
            f"{fmt.date(data_as_of)}, only: choose a period that ends there to see it."
        )
    elif tables.base_of(valued, "clv_12m_per_customer") == 0:
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
        value_cols = st.columns(2)
        for col, kpi_id in zip(value_cols, value_kpis[:2], strict=False):
            kpi = shell.kpi(kpi_id)
            with col:
                st.subheader(tiles.bars_headline(valued, kpi, by, ctx.cfg))
                company = valued.filter(valued["kpi_id"] == kpi_id)["company"].first()
                st.plotly_chart(
                    charts.kpi_bars(valued, kpi, by, ctx.cfg, company), key=f"value_{kpi_id}"
                )
        tables.behind(valued, ctx.cfg, key="value_table")

    by_frequency, weekly = queries.value_calibration(where=ctx.where, scope=ctx.scope)
    if by_frequency.is_empty():
        st.info(
            "The model has not been checked on this data: no customer bought twice before the "
            "holdout."
        )
    else:
        st.subheader(tiles.tracking_headline(weekly, holdout.HOLDOUT_WEEKS))
        check_cols = st.columns(2, gap="large")
        with check_cols[0]:
            st.plotly_chart(charts.value_tracking(weekly), key="value_tracking")
            tables.plain(
                weekly,
                key="tracking_table",
                labels={
                    "week": "Week",
                    "actual": "Actual (cumulative)",
                    "predicted": "Model (cumulative)",
                },
            )
        with check_cols[1]:
            st.plotly_chart(charts.value_calibration(by_frequency), key="value_calibration")
            tables.plain(
                by_frequency,
                key="calibration_table",
                labels={
                    "bucket": "Repeat purchases in calibration (7: 7 or more)",
                    "customers": "Customers",
                    "actual": "Actual mean in holdout",
                    "predicted": "Model mean in holdout",
                },
            )
