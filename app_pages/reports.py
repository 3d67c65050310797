"""Segment reports: KPIs by up to three dimensions, previewed with suppressed cells marked, and
downloaded as CSV, Excel or Parquet, each file stamped with what it holds."""

import dataclasses
import datetime as dt

import streamlit as st

from cxm.reports import (
    EXPORT_ROLES,
    ExportFormat,
    at_risk_file,
    audit_export,
    export_for,
    left_out_text,
)
from cxm.segments import Dimension
from cxm.segments.filter import SELLER_DIMENSIONS
from cxm.ui import fmt, queries, shell, tables, warehouse, widgets
from cxm.ui.board_pack import audit_pack, board_pack
from cxm.whatif import scenarios

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
table = queries.segment_table(kpis, by=dims, where=ctx.where, scope=ctx.scope)
table = dataclasses.replace(
    table,
    stamp=dataclasses.replace(
        table.stamp,
        generated_by=f"{ctx.user.name} ({ctx.user.username}, {ctx.user.role.value})",
        generated_at=dt.datetime.now().replace(microsecond=0),
    ),
)
stamp = table.stamp
st.subheader(fmt.md_escape(stamp.title))
st.caption(
    f"{stamp.rows:,} rows · {stamp.suppressed:,} suppressed (n under {stamp.min_n}: value, "
    f"previous, change and interval left empty) · {fmt.md_escape(stamp.filters)} · as of "
    f"{fmt.date(stamp.as_of)} · {fmt.md_escape(stamp.scope)}"
)
if table.frame.is_empty():
    st.info(f"No sellers match {fmt.md_escape(ctx.where.describe())} in your markets.")
    st.stop()
PREVIEW_ROWS = 2_000
shown = table.frame.head(PREVIEW_ROWS).rename({"suppressed": "small"}).drop("kpi", "unit")
st.dataframe(
    tables.report_table(shown, ctx.cfg),
    hide_index=True,
    key="report_preview",
    column_config={"n": st.column_config.NumberColumn("n", format="localized")},
)
if table.frame.height > PREVIEW_ROWS:
    st.caption(
        f"The preview shows the first {PREVIEW_ROWS:,} of {table.frame.height:,} rows; "
        "the download holds every row."
    )

if ctx.user.role in EXPORT_ROLES:
    choice = (
        st.segmented_control(
            "Format",
            [f.value for f in ExportFormat],
            format_func={"csv": "CSV (Excel reads it)", "xlsx": "Excel", "parquet": "Parquet"}.get,
            default="csv",
            key="report_format",
        )
        or "csv"
    )
    data = export_for(ctx.user, table, choice)
    name = f"cxm-{ctx.where.period.label()}-{'-'.join(dims) or 'company'}.{choice}"
    st.download_button(
        f"Download {name}",
        data,
        file_name=name,
        mime={
            "csv": "text/csv",
            "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "parquet": "application/octet-stream",
        }[choice],
        on_click=audit_export,
        args=(ctx.user, table, choice, data),
        icon=":material/download:",
        key="report_download",
    )
    st.subheader("At-risk customers of these sellers")
    counts = queries.at_risk_counts(where=ctx.where, scope=ctx.scope)
    st.caption(
        f"{counts.rows:,} customers whose probability of still buying is under 50%, most "
        f"valuable first, for a reorder campaign. Left out: "
        f"{fmt.md_escape(left_out_text(counts.left_out))}."
    )

    st.download_button(
        "Download the at-risk customers (CSV)",
        # Made and audited when pressed (a deferred download, on a cursor of its own), not
        # on every run: at 1,000,000 sellers it is half a million rows few runs are for.
        lambda: at_risk_file(
            warehouse.company(ctx.scope),
            user=ctx.user,
            where=ctx.where,
            cfg=ctx.cfg,
            generated_by=stamp.generated_by,
        ),
        file_name=f"cxm-at-risk-{ctx.where.period.label()}.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
        key="at_risk_download",
        disabled=counts.rows == 0,
    )
else:
    st.info("Files of the report's rows are for analysts and admins; take the board pack below.")

st.subheader("Board pack")
st.caption(
    "What changed and the targets, the headline KPIs with their 12-month lines, the experience "
    "gap, a what-if scenario's gains and costs (the last published one unless you pick "
    "another) and an appendix by market and rank, as a PDF whose every page states its "
    "filters, period, comparison, as-of date and scope."
)
saved = {s.id: s for s in scenarios.list_all()}
last = scenarios.last_publication()
published = last[0] if last else None
chosen = st.selectbox(
    "What-if scenario to include",
    list(saved),
    format_func=lambda i: saved[i].describe(),
    index=None if published is None else list(saved).index(published.id),
    placeholder="None" if saved else "No scenario saved yet",
    key="pack_scenario",
)
if st.button("Prepare the board pack", icon=":material/picture_as_pdf:", key="pack_prepare"):
    with st.spinner("Drawing the charts and laying out the pages..."):
        st.session_state["pack"] = (
            (ctx.where, ctx.scope, chosen),
            board_pack(
                warehouse.company(ctx.scope),
                user=ctx.user,
                where=ctx.where,
                cfg=ctx.cfg,
                scenario=saved.get(chosen),
            ),
        )
pack = st.session_state.get("pack")
if pack and pack[0] == (ctx.where, ctx.scope, chosen):
    st.download_button(
        "Download the board pack (PDF)",
        pack[1],
        file_name=f"cxm-board-pack-{ctx.where.period.label()}.pdf",
        mime="application/pdf",
        on_click=audit_pack,
        args=(ctx.user, ctx.where, ctx.scope, pack[1]),
        icon=":material/download:",
        key="pack_download",
    )
