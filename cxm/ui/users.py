"""The Users page's parts (admins): the user list, add, change, reset a password, lockouts.

Every action goes through `cxm.admin.users`, which checks the role, validates, writes and
audits; this module only draws forms and says what happened. A refused change is shown under
its form with the fields as typed; a done one is said at the top of the page after a rerun.
"""

from __future__ import annotations

import streamlit as st

from cxm.access import Account, Role, Standing, User
from cxm.admin import users
from cxm.admin.users import UserRefused
from cxm.config import CompanyConfig
from cxm.ui import fmt

_DONE = "_cxm_users_done"
#: A counter per form: a done action bumps it, so the form comes back empty (no password
#: left in a field) while a refused one keeps what was typed.
_GENERATION = "_cxm_users_form_{}"


def _generation(form: str) -> int:
    return st.session_state.setdefault(_GENERATION.format(form), 0)


def _done(message: str, form: str | None = None) -> None:
    st.session_state[_DONE] = message
    if form is not None:
        st.session_state[_GENERATION.format(form)] = _generation(form) + 1
    st.rerun()


def said() -> None:
    """Show what the last action did (kept over the rerun that redraws the list)."""
    if message := st.session_state.pop(_DONE, None):
        st.success(fmt.md_escape(message), icon=":material/check_circle:")


def _refused(exc: UserRefused) -> None:
    st.error(fmt.md_escape(exc, keep_lines=True), icon=":material/error:")  # a problem a line


def _sign_in_state(account: Account, standing: dict[str, Standing]) -> str:
    if account.disabled:
        return "disabled"
    s = standing.get(account.username)
    if s is None:
        return "active"
    if s.locked:  # from the client(s) it failed from; elsewhere it may sign in
        return f"locked where it failed ({max(1, round(s.wait_seconds / 60))} min left)"
    return f"{s.failures} failed sign-in{'s' if s.failures != 1 else ''}"


def under_attack(standing: list[Standing]) -> None:
    """Draw the user names under attack (many failed sign-ins, or from several clients)."""
    attacked = [s for s in standing if s.under_attack]
    if not attacked:
        return
    st.warning(
        "Names under attack: many failed sign-ins in the last hour. The user can still sign "
        "in from their own computer (each attempt may wait a few seconds); the computers "
        "that failed are locked out for that name.",
        icon=":material/shield:",
    )
    st.dataframe(
        [
            {
                "name": s.name,
                "failures": s.failures,
                "clients": len(s.others),
                "from": ", ".join(s.others[:5]) + (", ..." if len(s.others) > 5 else ""),
            }
            for s in attacked
        ],
        hide_index=True,
        column_config={
            "name": "User name (as typed)",
            "failures": st.column_config.NumberColumn("Failed sign-ins", format="localized"),
            "clients": st.column_config.NumberColumn("Clients", format="localized"),
            "from": "From",
        },
    )


def user_list(admin: User, accounts: list[Account], standing: list[Standing]) -> None:
    """Draw the names under attack, then every account with its role, markets and sign-in
    state."""
    under_attack(standing)
    by_user = {s.name: s for s in standing if s.kind == "user"}
    st.dataframe(
        [
            {
                "username": a.username,
                "name": a.name,
                "email": a.email,
                "role": a.role,
                "markets": users.describe_markets(a.markets),
                "state": _sign_in_state(a, by_user),
            }
            for a in accounts
        ],
        hide_index=True,
        column_config={
            "username": "User name",
            "name": "Name",
            "email": "Email",
            "role": "Role",
            "markets": "Markets",
            "state": "Sign-in",
        },
    )
    admins = sum(a.role == Role.ADMIN and not a.disabled for a in accounts)
    st.caption(
        f"{len(accounts):,} users, {admins:,} enabled admin{'s' if admins != 1 else ''}. "
        "A change to a user signs out every session they have open, at their next click."
    )


def _markets_input(cfg: CompanyConfig, key: str, current: tuple[str, ...] | None = None):
    """Draw the markets choice; return None (all markets), the chosen codes, or a problem."""
    names = {m.code: m.name for m in cfg.markets}
    every = st.checkbox("All markets", value=current is None, key=f"{key}_all")
    chosen = st.multiselect(
        "Or only these markets",
        list(cfg.market_codes),
        default=list(current or ()),
        format_func=lambda m: f"{names[m]} ({m})",
        placeholder="Choose markets",
        key=f"{key}_markets",
    )
    if every and chosen:
        return "Tick 'All markets' or choose markets, not both."
    return None if every else chosen


def _password_pair(label: str) -> tuple[str, str]:
    """Draw a password field and its repetition side by side; return both as typed."""
    left, right = st.columns(2)
    password = left.text_input(label, type="password", help=users.USER_CODES["weak_password"])
    return password, right.text_input(f"{label} again", type="password")


def add_form(admin: User, cfg: CompanyConfig) -> None:
    """Draw the form that adds a user."""
    generation = _generation("add")
    with st.form(f"add_user_{generation}", enter_to_submit=False):
        left, right = st.columns(2)
        username = left.text_input("User name", help=users.USER_CODES["bad_username"])
        name = right.text_input("Name")
        email = left.text_input("Email")
        role = right.selectbox(
            "Role", [r.value for r in Role], index=None, placeholder="Choose a role"
        )
        markets = _markets_input(cfg, f"add{generation}")
        password, repeated = _password_pair("Password")
        if not st.form_submit_button("Add user", type="primary"):
            return
    if isinstance(markets, str):
        st.error(markets, icon=":material/error:")
        return
    try:
        users.add_user(
            admin,
            username=username,
            name=name,
            email=email,
            role=role,
            markets=markets,
            password=password,
            repeated=repeated,
        )
    except UserRefused as exc:
        _refused(exc)
        return
    _done(f"Added {username} ({role}, {users.describe_markets(markets)}).", "add")


def change_form(admin: User, cfg: CompanyConfig, accounts: list[Account]) -> None:
    """Draw the form that changes a user's role, markets and status, and the remove button."""
    by_name = {a.username: a for a in accounts}
    username = st.selectbox(
        "User", list(by_name), index=None, placeholder="Choose a user", key="change_user"
    )
    if username is None:
        return
    account = by_name[username]
    key = f"change_{username}"  # a fresh form per user, filled with what they have
    with st.form(key, enter_to_submit=False):
        roles = [r.value for r in Role]
        role = st.selectbox("Role", roles, index=roles.index(account.role), key=f"{key}_role")
        markets = _markets_input(cfg, key, account.markets)
        disabled = st.checkbox(
            "Disabled: cannot sign in", value=account.disabled, key=f"{key}_disabled"
        )
        if st.form_submit_button("Save changes", type="primary"):
            if isinstance(markets, str):
                st.error(markets, icon=":material/error:")
            else:
                try:
                    users.change_user(
                        admin, username, role=role, markets=markets, disabled=disabled
                    )
                except UserRefused as exc:
                    _refused(exc)
                else:
                    _done(f"Changed {username}; their open sessions are signed out.")
    shown = fmt.md_escape(username)  # a hand-edited file may hold any name; labels are Markdown
    with st.expander(f"Remove {shown}"):
        sure = st.checkbox(
            f"{shown} will no longer be able to sign in, and the entry is deleted "
            "(disabling keeps it).",
            key=f"{key}_sure",
        )
        if st.button("Remove user", disabled=not sure, key=f"{key}_remove"):
            try:
                users.remove_user(admin, username)
            except UserRefused as exc:
                _refused(exc)
            else:
                _done(f"Removed {username}; their open sessions are signed out.")


def password_form(admin: User, accounts: list[Account]) -> None:
    """Draw the form that sets a new password for a user."""
    with st.form(f"reset_password_{_generation('password')}", enter_to_submit=False):
        username = st.selectbox(
            "User", [a.username for a in accounts], index=None, placeholder="Choose a user"
        )
        password, repeated = _password_pair("New password")
        if not st.form_submit_button("Set password", type="primary"):
            return
    if username is None:
        st.error("Choose the user whose password to set.", icon=":material/error:")
        return
    try:
        users.reset_password(admin, username, password=password, repeated=repeated)
    except UserRefused as exc:
        _refused(exc)
        return
    _done(f"Set a new password for {username}; their open sessions are signed out.", "password")


def lockouts(admin: User, standing: list[Standing]) -> None:
    """Draw the user names and clients with recent failed sign-ins, and the lift button."""
    if not standing:
        st.info("No failed sign-ins in the last hour.", icon=":material/lock_open:")
        return
    st.dataframe(
        [
            {
                "who": f"{s.kind} {s.name}",
                "failures": s.failures,
                "state": "locked" if s.locked else ("waiting" if s.wait_seconds > 0 else "free"),
                "wait": fmt.number(s.wait_seconds / 60, 0) + " min" if s.wait_seconds else "",
            }
            for s in standing
        ],
        hide_index=True,
        column_config={
            "who": "User name or client",
            "failures": st.column_config.NumberColumn("Failed sign-ins", format="localized"),
            "state": "State",
            "wait": "Wait left",
        },
    )
    labels = {f"{s.kind} {s.name}": s for s in standing}
    chosen = st.selectbox("Lift the lockout of", list(labels), index=None, placeholder="Choose")
    if st.button("Lift lockout", disabled=chosen is None):
        users.lift_lockout(admin, labels[chosen])
        _done(f"Lifted the lockout of {chosen}: it may sign in again now.")
