"""Data (admins): every load and import, and each warehouse table's row count."""

import streamlit as st

from cxm.access import Role, require_role
from cxm.metrics import value
from cxm.ui import access, data_admin, fmt, queries
from cxm.warehouse import store

admin = require_role(access.current_user(), Role.ADMIN)

st.title("Data")
con = data_admin.cursor_or_import(admin)  # none yet, or damaged: the uploader, then stop
history = store.load_history(con)
if history:
    newest = history[0]
    st.caption(
        f"Data as of {fmt.date(newest['data_as_of'])} · last {fmt.md_escape(newest['kind'])} "
        f"{fmt.date(newest['loaded_at'])}"
    )

data_admin.import_section(admin)

st.subheader("Tables")
st.dataframe(
    [{"table": t, "rows": n} for t, n in store.table_counts(con).items()],
    hide_index=True,
    column_config={
        "table": "Table",
        "rows": st.column_config.NumberColumn("Rows", format="localized"),
    },
)
st.subheader("Loads")
st.dataframe(
    history,
    hide_index=True,
    column_order=("loaded_at", "kind", "data_as_of", "source", "tables"),
    column_config={
        "loaded_at": st.column_config.DatetimeColumn("Loaded", format="D MMM YYYY, HH:mm"),
        "kind": "Kind",
        "source": "Source",
        "tables": "Tables",
        "data_as_of": st.column_config.DateColumn("Data as of", format="D MMM YYYY"),
    },
)

st.subheader("Customer value models")
fits = queries.value_fits(scope=access.current_user().scope)
if fits.is_empty():
    st.info(
        "No customer value model was fitted at the last load: too few customers or repeat "
        "buyers, or the fit did not converge. The customer value KPIs show no data until one "
        "can be fitted."
    )
else:
    st.caption(
        "Refitted at every load on purchase days up to the data's as-of date: BG/NBD (Fader, "
        "Hardie and Lee 2005) for purchases and dropout, Gamma-Gamma (Fader and Hardie 2013) "
        "for spend. A market with too few customers is scored with the company-wide fit; a "
        "fit reads a fixed sample of at most "
        f"{value.FIT_SAMPLE:,} customers, and every customer is scored."
    )
    st.dataframe(
        fits,
        hide_index=True,
        column_config={
            "fitted_for": "Fitted on",
            "used_for": "Scores markets",
            "model": "Model",
            "parameter": "Parameter",
            "estimate": st.column_config.NumberColumn("Estimate", format="%.4g"),
            "standard_error": st.column_config.NumberColumn("Standard error", format="%.3g"),
            "log_likelihood": st.column_config.NumberColumn("Log-likelihood", format="%.1f"),
            "customers": st.column_config.NumberColumn("Customers", format="localized"),
            "converged": "Converged",
        },
    )

data_admin.audit_section()
