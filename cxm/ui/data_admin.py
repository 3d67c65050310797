"""The Data page's admin parts: importing uploaded files, and the audit trail with filters.

The import goes through `cxm.admin.uploads` (role check, staging, the all-or-nothing import,
the audit); this module draws the uploader, the progress and the report. A refused import's
report stays on the page until the next import, and so does a failed one, shown by its name
and code; a written one reruns the page, so every section (and every other page, whose
caches follow the warehouse file) shows the new data. Without a usable warehouse (none yet,
or a damaged one) the page still offers the uploader: importing every table replaces it.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from cxm.access import User
from cxm.admin import uploads
from cxm.errors import CxmError, ImportRejected, WarehouseMissing
from cxm.ui import fmt, warehouse
from cxm.warehouse import audit
from cxm.warehouse.failures import WarehouseCorrupt, WarehouseUnreadable, title_of

_UPLOADER = "_cxm_import_uploader"  # a counter: a new key empties the uploader after a load
_REPORT = "_cxm_import_report"


def cursor_or_import(admin: User):
    """Return a cursor on the warehouse; without a usable one, say why, draw the uploader
    and the audit trail (what an admin can still do), and stop the page."""
    try:
        return warehouse.cursor()
    except WarehouseMissing:
        # A new server: nothing to show yet, but the admin can load the company's files here.
        st.info(
            "No data is loaded yet. Upload the company's table files below, or build the demo "
            "company on the server with `cxm demo`.",
            icon=":material/database:",
        )
    except (WarehouseCorrupt, WarehouseUnreadable) as exc:
        st.error(fmt.md_escape(exc, keep_lines=True), icon=":material/error:")
    import_section(admin)
    audit_section()
    st.stop()


def import_section(admin: User) -> None:
    """Draw the uploader, run an import when asked, and show its report."""
    st.subheader("Import company data")
    st.caption(
        "Upload table files named after their tables (sellers.csv, orders.parquet, ...) or one "
        "zip of them. Each file replaces its table; tables you do not upload are kept. "
        "Everything is checked first, and on any problem nothing is written. Timestamps are "
        "the market's local time, written without a time zone (2026-10-01 23:30:00). Loads of "
        f"millions of orders are faster with `cxm import` on the server; an upload takes files "
        f"of up to {st.get_option('server.maxUploadSize'):,} MB."
    )
    generation = st.session_state.setdefault(_UPLOADER, 0)
    files = st.file_uploader(
        "Table files, or one zip of them",
        type=["csv", "parquet", "zip"],
        accept_multiple_files=True,
        key=f"import_files_{generation}",
    )
    check_only = st.checkbox("Only check the files; write nothing", key="import_check_only")
    label = "Check files" if check_only else "Check and import"
    if st.button(label, type="primary", disabled=not files, key="import_run"):
        _run(admin, files, check_only=check_only)
    _report()


def _run(admin: User, files, *, check_only: bool) -> None:
    st.session_state.pop(_REPORT, None)
    given = [uploads.Upload(name=f.name, data=f.getvalue()) for f in files]
    with st.status("Checking the files...", expanded=True) as status:
        try:
            done = uploads.import_uploads(
                admin,
                given,
                check_only=check_only,
                on_step=lambda text: status.write(fmt.md_escape(text)),
            )
        except ImportRejected as exc:
            status.update(label="Refused: nothing was written", state="error", expanded=False)
            st.session_state[_REPORT] = ("refused", exc)
            return
        except CxmError as exc:  # a full disk, another load running, a damaged warehouse, ...
            status.update(label=f"Not imported: {title_of(exc)}", state="error", expanded=False)
            st.session_state[_REPORT] = ("failed", exc)
            return
    rows = ", ".join(f"{t} ({n:,} rows)" for t, n in done.result.rows.items())
    skipped = f" Left out the system files {', '.join(done.skipped)}." if done.skipped else ""
    # Orders outside their seller's membership load, but the report says so (issue 19).
    warned = (done.result.warning_summary(), [w.model_dump() for w in done.result.warnings])
    if check_only:
        st.session_state[_REPORT] = (
            "checked",
            f"Checked {rows}: no problems. Nothing was written.{skipped}",
            *warned,
        )
        return
    st.session_state[_REPORT] = (
        "imported",
        f"Imported {rows}. Every page now shows the new data.{skipped}",
        *warned,
    )
    st.session_state[_UPLOADER] += 1
    st.rerun()


def _report() -> None:
    report = st.session_state.get(_REPORT)
    if report is None:
        return
    kind, what, *warned = report
    if kind in ("checked", "imported"):
        st.success(fmt.md_escape(what), icon=":material/check_circle:")
        if warned and warned[0]:
            st.warning(fmt.md_escape(warned[0]), icon=":material/warning:")
            _issue_table(warned[1])
        return
    elif kind == "failed":
        body = f"**{fmt.md_escape(title_of(what))}.** {fmt.md_escape(what, keep_lines=True)}"
        st.error(body, icon=":material/error:")
    else:
        head = str(what).splitlines()[0]
        st.error(fmt.md_escape(head), icon=":material/error:")
        shown = len(what.issues)
        if what.total > shown:
            st.caption(
                f"The first {shown:,} of {what.total:,} problems (a few of each kind); fix "
                "those and check again for the rest."
            )
        _issue_table([i.model_dump() for i in what.issues])
        if what.waiting:
            st.caption(fmt.md_escape(" ".join(["Not checked yet:", *what.waiting])))


def _issue_table(issues: list[dict]) -> None:
    st.dataframe(
        pl.DataFrame(issues),
        hide_index=True,
        column_order=("file", "row", "column", "value", "message", "code"),
        column_config={
            "file": "File",
            "row": st.column_config.NumberColumn("Row", format="%d"),
            "column": "Column",
            "value": "Value",
            "message": st.column_config.TextColumn("Problem", width="large"),
            "code": "Code",
        },
    )


def audit_section() -> None:
    """Draw the audit trail with filters by action, user and days."""
    st.subheader("Audit trail")
    actions, names = audit.distinct("action"), audit.distinct("username")
    if not actions:
        st.info(
            "Nothing audited yet: sign-ins, user changes, imports and exports are listed "
            "here as they happen."
        )
        return
    left, middle, right = st.columns([2, 2, 2])
    chosen = left.multiselect("Actions", actions, placeholder="All actions", key="audit_actions")
    who = middle.multiselect("Users", names, placeholder="All users", key="audit_users")
    days = right.date_input("Days", value=(), format="YYYY-MM-DD", key="audit_days")
    since, until = _days(days)
    trail = audit.entries(actions=chosen, usernames=who, since=since, until=until)
    if trail.is_empty():
        st.info("No audited event matches these filters.")
        return
    shown = f"The newest {trail.height:,} matching events" if trail.height > 1 else "One event"
    st.caption(
        f"{shown}: sign-ins (failed ones too, with the "
        "client and why), sign-outs, refused sessions, user changes, imports and exports (the "
        "filters and scope each was cut to, its rows and the file's SHA-256). Kept beside the "
        "warehouse; loads never replace it."
    )
    st.dataframe(
        # Blank, not "None", where an event has no rows or file (a sign-in, a user change).
        trail.with_columns(
            pl.col("rows").map_elements(lambda n: f"{n:,}", return_dtype=pl.String).fill_null(""),
            pl.col("sha256").fill_null(""),
        ),
        hide_index=True,
        column_config={
            "at": "When",
            "username": "User",
            "role": "Role",
            "action": "Action",
            "what": "What",
            "filters": "Filters",
            "scope": "Scope",
            "rows": "Rows",
            "sha256": "SHA-256",
        },
    )


def _days(value) -> tuple[dt.date | None, dt.date | None]:
    """Return (since, until) from the date input: nothing, one day, or a range."""
    if isinstance(value, dt.date):
        return value, value
    picked = [d for d in (value or ()) if d is not None]
    if not picked:
        return None, None
    return picked[0], picked[-1]
