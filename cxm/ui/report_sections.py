"""The Segment reports page's sections: the report previewed with what it holds, its files
(the report in three formats, the at-risk customers) and the board pack. Every file is made
and audited by the library, which checks the user's role (`cxm.reports`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

import streamlit as st

from cxm.reports import (
    ExportFormat,
    SegmentTable,
    at_risk_file,
    audit_export,
    export_for,
    left_out_text,
)
from cxm.ui import fmt, queries, tables, warehouse
from cxm.ui.board_pack import audit_pack, board_pack
from cxm.ui.shell import PageContext
from cxm.whatif import scenarios

#: Rows the preview shows; the files hold every row.
PREVIEW_ROWS = 2_000
_MIME = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/octet-stream",
}


def report(ctx: PageContext, kpis: Sequence[str], dims: Sequence[str]) -> SegmentTable:
    """The report of ``kpis`` by ``dims``, stamped with who made it and when."""
    table = queries.segment_table(kpis, by=dims, where=ctx.where, scope=ctx.scope)
    stamp = dataclasses.replace(
        table.stamp,
        generated_by=f"{ctx.user.name} ({ctx.user.username}, {ctx.user.role.value})",
        generated_at=dt.datetime.now().replace(microsecond=0),
    )
    return dataclasses.replace(table, stamp=stamp)


def preview(ctx: PageContext, table: SegmentTable) -> None:
    """The report's title, what it holds, and its first `PREVIEW_ROWS` rows (stops the page
    when no seller matches)."""
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


def files(ctx: PageContext, table: SegmentTable, dims: Sequence[str]) -> None:
    """The report as CSV, Excel or Parquet, and the at-risk customers of its sellers (for the
    roles that take files: `cxm.reports.EXPORT_ROLES`)."""
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
        mime=_MIME[choice],
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
            generated_by=table.stamp.generated_by,
        ),
        file_name=f"cxm-at-risk-{ctx.where.period.label()}.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
        key="at_risk_download",
        disabled=counts.rows == 0,
    )


def pack(ctx: PageContext) -> None:
    """The board pack: a scenario to include (the last published by default), prepared on
    request, downloaded (and audited) while the filters it was made for are unchanged."""
    st.subheader("Board pack")
    st.caption(
        "What changed and the targets, the headline KPIs with their 12-month lines, the "
        "experience gap, a what-if scenario's gains and costs (the last published one unless "
        "you pick another) and an appendix by market and rank, as a PDF whose every page states "
        "its filters, period, comparison, as-of date and scope."
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
    made = st.session_state.get("pack")
    if made and made[0] == (ctx.where, ctx.scope, chosen):
        st.download_button(
            "Download the board pack (PDF)",
            made[1],
            file_name=f"cxm-board-pack-{ctx.where.period.label()}.pdf",
            mime="application/pdf",
            on_click=audit_pack,
            args=(ctx.user, ctx.where, ctx.scope, made[1]),
            icon=":material/download:",
            key="pack_download",
        )
