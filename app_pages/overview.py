"""Overview: headline KPIs against target and last period, the widest gap, what moved most."""

import streamlit as st

from cxm.metrics import headline
from cxm.ui import charts, queries, shell, tables, tiles

ctx = shell.page("Overview")
kpis = [k.id for k in headline()]
report = queries.segment_report(kpis, where=ctx.where, scope=ctx.scope)
if report.filter(report["kpi_id"] == "live_sellers")["n"].sum() == 0:
    st.info(f"No sellers match {ctx.where.describe()} in {ctx.scope.describe()}.")
    st.stop()
trend = queries.trend(kpis, months=12, where=ctx.where, scope=ctx.scope)
tiles.kpi_tiles(report, trend, ctx.cfg, ctx.where.period.describe(), ctx.as_of)

gap_col, moved_col = st.columns(2, gap="large")
with gap_col:
    gaps = queries.segment_report(
        ["experience_gap_pp"], by=["market"], where=ctx.where, scope=ctx.scope
    )
    st.subheader(tiles.widest_gap_headline(gaps, ctx.cfg))
    st.plotly_chart(
        charts.kpi_bars(gaps, shell.kpi("experience_gap_pp"), "market", ctx.cfg), key="gap_bars"
    )
    tables.behind(gaps, ctx.cfg, key="gap_table")
with moved_col:
    st.subheader("Segments that moved most")
    for dim in ("market", "rank"):
        moved = queries.segment_report(kpis, by=[dim], where=ctx.where, scope=ctx.scope)
        sentences = tiles.mover_sentences(moved, dim, ctx.cfg)
        for sentence in sentences or [f"No {dim} moved enough to stand out."]:
            st.markdown(f"- {sentence}")
