"""Data (admins): every load and import, and each warehouse table's row count."""

import streamlit as st

from cxm.access import Role, require_role
from cxm.ui import access, fmt, warehouse
from cxm.warehouse import store

require_role(access.current_user(), Role.ADMIN)
con = warehouse.cursor()

st.title("Data")
history = store.load_history(con)
if history:
    newest = history[0]
    st.caption(
        f"Data as of {fmt.date(newest['data_as_of'])} · last {newest['kind']} "
        f"{fmt.date(newest['loaded_at'])}"
    )

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
