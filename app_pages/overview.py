"""Overview: headline KPIs against target and last period, the widest gap, what moved most."""

import streamlit as st

from cxm.metrics import headline
from cxm.metrics.report import comparison
from cxm.ui import charts, fmt, queries, shell, tables, tiles

ctx = shell.page("Overview")
kpis = [k.id for k in headline()]
reports = queries.segment_reports(
    kpis, bys=[(), ("market",), ("rank",)], where=ctx.where, scope=ctx.scope
)
report = reports[()]
if report.filter(report["kpi_id"] == "live_sellers")["n"].sum() == 0:
    st.info(fmt.md_escape(f"No sellers match {ctx.where.describe()} in {ctx.scope.describe()}."))
    st.stop()
trend = queries.trend(kpis, months=12, where=ctx.where, scope=ctx.scope)
compared = comparison(ctx.where, queries.data(ctx.scope))
tiles.kpi_tiles(report, trend, ctx.cfg, compared.current_label, ctx.as_of, comparison=compared)

gap_col, moved_col = st.columns(2, gap="large")
with gap_col:
    by_market = reports[("market",)]
    gaps = by_market.filter(by_market["kpi_id"] == "experience_gap_pp")
    st.subheader(tiles.widest_gap_headline(gaps, ctx.cfg))
    st.plotly_chart(
        charts.kpi_bars(gaps, shell.kpi("experience_gap_pp"), "market", ctx.cfg), key="gap_bars"
    )
    tables.behind(gaps, ctx.cfg, key="gap_table")
with moved_col:
    st.subheader("Segments that moved most")
    sentences, note = tiles.mover_sentences(
        {dim: reports[(dim,)] for dim in ("market", "rank")}, ctx.cfg
    )
    for sentence in sentences:
        st.markdown(f"- {sentence}")
    st.caption(note)
