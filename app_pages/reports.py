"""Segment reports: KPIs by up to three dimensions, previewed with suppressed cells marked, and
downloaded as CSV, Excel or Parquet, each file stamped with what it holds; the board pack."""

import streamlit as st

from cxm.reports import EXPORT_ROLES
from cxm.segments import Dimension
from cxm.segments.filter import SELLER_DIMENSIONS
from cxm.ui import fmt, shell, widgets
from cxm.ui import report_sections as sections

ctx = shell.page("Segment reports", page_params=("kpis", "dims"))
kpis = widgets.kpi_picker(
    default=("active_rate", "revenue", "customer_nps"), max_selections=44, acquisition=True
)
dims = widgets.dimensions_picker(
    "Break down by (up to three)",
    [*SELLER_DIMENSIONS, Dimension.CHANNEL],
    (Dimension.MARKET, Dimension.RANK),
    key="dims",
)
# A KPI asked by a breakdown it cannot take is named with that breakdown: not a crash, not a
# report quietly without it (the library refuses the pair too). A seller filter a spend KPI
# cannot follow is refused by the library (not_split_by) and shown in its words.
refused = widgets.refused_breakdown(kpis, dims)
if refused:
    st.error(fmt.md_escape(refused), icon=":material/block:")
    st.stop()
table = sections.report(ctx, kpis, dims)
sections.preview(ctx, table)
if ctx.user.role in EXPORT_ROLES:
    sections.files(ctx, table, dims)
else:
    st.info("Files of the report's rows are for analysts and admins; take the board pack below.")
sections.pack(ctx)
