"""Users (admins): who may sign in, with what role and markets; lockouts."""

import streamlit as st

from cxm.access import Role, require_role
from cxm.admin import users
from cxm.ui import access, queries
from cxm.ui import users as page

admin = require_role(access.current_user(), Role.ADMIN)
cfg = queries.config()

st.title("Users")
page.said()
accounts = users.accounts(admin)
standing = users.lockouts(admin)
page.user_list(admin, accounts, standing)

# A key keeps the chosen tab over the reruns its own widgets start.
add, change, password, locks = st.tabs(
    ["Add a user", "Change or remove a user", "Reset a password", "Lockouts"], key="users_tab"
)
with add:
    page.add_form(admin, cfg)
with change:
    page.change_form(admin, cfg, accounts)
with password:
    page.password_form(admin, accounts)
with locks:
    page.lockouts(admin, standing)
