"""KPIs by segment: chosen KPIs by rank x market, by one dimension, by month, by cohort."""

import streamlit as st

from cxm.segments import Dimension
from cxm.segments.filter import SELLER_DIMENSIONS
from cxm.ui import charts, queries, shell, tables, tiles, widgets

ctx = shell.page("KPIs by segment", page_params=("kpis", "by"))
kpis = widgets.kpi_picker(default=("active_rate", "avg_order_amount"))
by = widgets.dimension_picker("Break down by", list(SELLER_DIMENSIONS), Dimension.MARKET, key="by")
first = shell.kpi(kpis[0])

grid = queries.segment_report(kpis, by=["rank", "market"], where=ctx.where, scope=ctx.scope)
if grid["n"].sum() == 0:
    st.info(f"No data for {ctx.where.describe()} in {ctx.scope.describe()}.")
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
        st.plotly_chart(charts.kpi_bars(report, kpi, by, ctx.cfg, company), key=f"bars_{kpi_id}")
tables.behind(report, ctx.cfg, key="bars_table")

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

curves_col, funnel_col = st.columns(2, gap="large")
with curves_col:
    curves = queries.retention_curves(grain="year", where=ctx.where, scope=ctx.scope)
    st.subheader(tiles.curves_headline(curves))
    st.plotly_chart(charts.retention_curves(curves), key="curves")
    tables.plain(curves, key="curves_table", labels=tables.CURVE_LABELS)
with funnel_col:
    funnel = queries.fast_start_funnel(where=ctx.where, scope=ctx.scope)
    st.subheader(f"Fast start of the {funnel['enrolled']:,} sellers enrolled in the period")
    st.plotly_chart(charts.funnel(tiles.funnel_steps(funnel)), key="funnel")
    tables.plain(tables.funnel_frame(tiles.funnel_steps(funnel)), key="funnel_table", labels={})

st.subheader("Downline at risk")
orphaned, lapsed = queries.downline_at_risk(where=ctx.where, scope=ctx.scope)
tiles.downline_at_risk(orphaned, lapsed, ctx.cfg)
