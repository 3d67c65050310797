"""Overview: what the company's data holds, inside the user's market scope."""

import streamlit as st

from cxm.access import Role, require_role
from cxm.ui import access, fmt, warehouse
from cxm.warehouse import store
from cxm.warehouse.summary import market_summary

user = require_role(access.current_user(), *Role)  # any role, but someone signed in
con = warehouse.cursor()
load = store.last_load(con)
summary = market_summary(con, scope=user.scope)

st.title("Overview")
if load:
    st.caption(
        f"Data as of {fmt.date(load['data_as_of'])} · loaded {fmt.date(load['loaded_at'])} "
        f"from {load['source']} · showing {user.scope.describe()}"
    )
if summary.is_empty():
    st.info(f"No sellers are loaded for {user.scope.describe()} yet.")
    st.stop()

cols = st.columns(4)
cols[0].metric("Sellers ever enrolled", fmt.number(summary["sellers"].sum()))
cols[1].metric("Customers", fmt.number(summary["customers"].sum()))
cols[2].metric("Orders", fmt.number(summary["orders"].sum()))
cols[3].metric("Revenue", fmt.money(summary["revenue_amount"].sum()))

st.subheader("By market")
st.dataframe(
    summary,
    hide_index=True,
    column_config={
        "market": "Market",
        "sellers": st.column_config.NumberColumn("Sellers", format="localized"),
        "terminated_sellers": st.column_config.NumberColumn("Terminated", format="localized"),
        "customers": st.column_config.NumberColumn("Customers", format="localized"),
        "orders": st.column_config.NumberColumn("Orders", format="localized"),
        "revenue_amount": st.column_config.NumberColumn("Revenue (USD)", format="compact"),
        "last_order_at": st.column_config.DatetimeColumn("Last order", format="D MMM YYYY"),
    },
)
