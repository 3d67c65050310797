"""Experiments: a saved what-if scenario tried on a random part of the field against a
control, read as it runs; strategists design and start them, everyone reads them in scope."""

import streamlit as st

from cxm.access import Role, require_role
from cxm.ui import access, fmt, queries, warehouse
from cxm.ui import experiments as ui

user = require_role(access.current_user(), *Role)
if user.scope.markets is not None:
    with st.spinner(f"Preparing the data of {user.scope.describe()}…"):
        warehouse.prepare(user.scope)
st.title("Experiments")
st.caption(
    f"Read on the sellers of {user.scope.describe()}, data as of "
    f"{fmt.date(queries.data(user.scope).as_of)}. The statistics: docs/experiments.md."
)
found = ui.listing(user)
chosen = ui.pick(found)
if chosen is not None:
    ui.show_readout(user, chosen)
ui.design(user)
