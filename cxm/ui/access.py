"""Login and the current user, for the app. Roles and scope come from the server's file.

streamlit-authenticator checks the password and keeps the login cookie; `current_user` then
reads the user's role and market scope from the credentials file on every run, never from the
cookie (a JWT the browser can read and the server cannot revoke).
"""

from __future__ import annotations

import streamlit as st
import streamlit_authenticator as stauth

from cxm.access import User, authenticator_credentials, cookie_key, load_users

COOKIE_NAME = "cxm_login"
COOKIE_DAYS = 1.0


def _authenticator() -> stauth.Authenticate:
    return stauth.Authenticate(
        authenticator_credentials(),
        COOKIE_NAME,
        cookie_key(),
        COOKIE_DAYS,
        auto_hash=False,
        login_sleep_time=0,
    )


def login() -> User | None:
    """Draw the login form when nobody is signed in; return the signed-in user or None.

    Never reruns the script after a login: the cookie component does that itself, and an
    explicit rerun loses the cookie (DESIGN.md section 10).
    """
    auth = _authenticator()
    st.session_state["_cxm_auth"] = auth
    auth.login(location="main", key="login", fields={"Form name": "Sign in to cxm"})
    status = st.session_state.get("authentication_status")
    if status is False:
        st.error("Username or password is incorrect.")
    if not status:
        return None
    return current_user()


def current_user() -> User | None:
    """Return the signed-in user as the server's credentials file describes them, or None.

    A user removed from the file since they signed in is treated as signed out.
    """
    username = st.session_state.get("username")
    if not st.session_state.get("authentication_status") or not username:
        return None
    return load_users().get(username)


def logout_button() -> None:
    """Draw the sign-out button in the sidebar."""
    auth = st.session_state.get("_cxm_auth")
    if auth is not None:
        auth.logout(
            "Sign out", "sidebar", key="cxm_sign_out"
        )  # "logout" is the library's own state key
