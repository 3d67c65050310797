"""Acquisition: what a new customer and a new seller cost, what they are worth, the funnel.

A page of its own, not a section of KPIs by segment: marketing spend is known by market and
acquisition channel only, so these KPIs split by those two, not by the seller segments that
page is built on (its rank x market grid would be refused for every one of them).
"""

import streamlit as st

from cxm.metrics.report import comparison
from cxm.ui import charts, headlines, queries, shell, tables, tiles

ctx = shell.page("Acquisition")
COSTS = ("cac", "clv_cac_ratio", "payback_months", "new_customer_value", "seller_cac")
FUNNEL = ("leads", "cost_per_lead", "lead_conversion_30d", "lead_conversion_90d")

costs = queries.segment_reports(
    [*COSTS, *FUNNEL],
    bys=[(), ("channel",), ("market",), ("market", "channel")],
    where=ctx.where,
    scope=ctx.scope,
)
won = queries.segment_report(["seller_won_share"], by=["market"], where=ctx.where, scope=ctx.scope)
total = costs[()]
if total.filter(total["kpi_id"] == "cac")["n"].sum() == 0:
    st.info("No new customers in this period and scope, so nothing to divide the spend by.")
    st.stop()

trend = queries.trend(list(COSTS), months=12, where=ctx.where, scope=ctx.scope)
tiles.kpi_tiles(
    total.filter(total["kpi_id"].is_in(COSTS)),
    trend,
    ctx.cfg,
    ctx.where.period.describe(),
    queries.data(ctx.scope).as_of,
    comparison=comparison(ctx.where, queries.data(ctx.scope)),
)

by_channel, by_market, grid = costs[("channel",)], costs[("market",)], costs[("market", "channel")]
st.subheader(headlines.payback_headline(by_channel, ctx.cfg))
left, right = st.columns(2, gap="large")
for col, kpi_id in ((left, "clv_cac_ratio"), (right, "cac")):
    kpi = shell.kpi(kpi_id)
    with col:
        st.markdown(f"**{tiles.bars_headline(by_channel, kpi, 'channel', ctx.cfg)}**")
        st.plotly_chart(charts.kpi_bars(by_channel, kpi, "channel", ctx.cfg), key=f"ch_{kpi_id}")
clv_cac = shell.kpi("clv_cac_ratio")
st.subheader(tiles.heatmap_headline(grid, clv_cac, ctx.cfg, dims=("channel", "market")))
st.plotly_chart(charts.heatmap(grid, clv_cac, "channel", "market", ctx.cfg), key="grid")
tables.behind(grid, ctx.cfg, key="grid_table")

left, right = st.columns(2, gap="large")
for col, (frame, kpi_id, dim) in zip(
    (left, right),
    ((by_market, "payback_months", "market"), (won, "seller_won_share", "market")),
    strict=True,
):
    kpi = shell.kpi(kpi_id)
    with col:
        st.markdown(f"**{tiles.bars_headline(frame, kpi, dim, ctx.cfg)}**")
        st.plotly_chart(charts.kpi_bars(frame, kpi, dim, ctx.cfg), key=f"m_{kpi_id}")

st.subheader(tiles.bars_headline(by_channel, shell.kpi("cost_per_lead"), "channel", ctx.cfg))
cols = st.columns(len(FUNNEL) - 1)
for col, kpi_id in zip(cols, FUNNEL[1:], strict=True):
    kpi = shell.kpi(kpi_id)
    with col:
        st.markdown(f"**{tiles.bars_headline(by_channel, kpi, 'channel', ctx.cfg)}**")
        st.plotly_chart(charts.kpi_bars(by_channel, kpi, "channel", ctx.cfg), key=f"f_{kpi_id}")
tables.behind(by_channel.filter(by_channel["kpi_id"].is_in(FUNNEL)), ctx.cfg, key="funnel")
st.caption(
    "Spend is known by month, market and channel; customers whose channel is not recorded count "
    "in their market's CAC and in no channel's. CLV / CAC and payback read the customer value "
    f"predicted at this load, times the gross margin {ctx.cfg.gross_margin:.0%} (company.yaml)."
)
