"""Login and the current user, for the app. Roles and scope come from the server's file.

streamlit-authenticator checks the password and keeps the login cookie; `current_user` then
reads the user's role and market scope from the credentials file on every run, never from the
cookie (a JWT the browser can read and the server cannot revoke). The library's own reading of
the cookie (``CookieModel.get_cookie`` in 0.4.2) lets a token it did not expect through as an
exception (``alg: none``, no expiry, a user it does not know); here every cookie is verified
first (`cxm.access.verify_login_token`), and one that does not verify reads as "signed out":
the form is shown, with why, and the cookie is deleted in the browser.

Every password is checked here too, through the server's log of failed sign-ins
(`cxm.access.SigninLog`): a user name or a client that failed too often waits, then is locked
out for a while, and an unknown name costs the same bcrypt check as a known one.
"""

from __future__ import annotations

import logging
import time

import streamlit as st
import streamlit_authenticator as stauth

from cxm.access import (
    TOKEN_CODES,
    LoginTokenRejected,
    Refusal,
    SigninLog,
    User,
    authenticator_credentials,
    cookie_key,
    hash_cost,
    load_users,
    password_matches,
    signin_log_path,
    verify_login_token,
)

COOKIE_NAME = "cxm_login"
COOKIE_DAYS = 1.0
#: Session keys: why the visitor was signed out; a cookie to delete; the one deleted.
_SIGNED_OUT_BECAUSE = "_cxm_signed_out_because"
_CLEAR_COOKIE = "_cxm_clear_cookie"
_CLEARED_TOKEN = "_cxm_cleared_token"
_REFUSED = "_cxm_signin_refused"
#: The library's session keys of a signed-in user.
_AUTH_KEYS = ("name", "username", "authentication_status", "email", "roles")

log = logging.getLogger(__name__)
#: The clock (seconds since the epoch); tests set it.
_now = time.time


def _authenticator() -> stauth.Authenticate:
    auth = stauth.Authenticate(
        authenticator_credentials(),
        COOKIE_NAME,
        cookie_key(),
        COOKIE_DAYS,
        auto_hash=False,
        login_sleep_time=0,
    )
    # The library reads the cookie through this one method; it now reads only verified ones.
    auth.cookie_controller.cookie_model.get_cookie = _verified_cookie
    # ... and checks a password through this one; it now goes through the sign-in log.
    model = auth.authentication_controller.authentication_model
    model.check_credentials = _throttled_check(model.credentials["usernames"])
    return auth


@st.cache_resource
def _signin_log(path: str) -> SigninLog:
    return SigninLog(path)


def _throttled_check(entries: dict):
    """Return the library's password check, done through the server's failed sign-ins log."""
    hashes = {username: entry["password"] for username, entry in entries.items()}
    cost = hash_cost(hashes.values())

    def check(username: str, password: str) -> bool:
        log_ = _signin_log(str(signin_log_path()))
        client, now = st.context.ip_address or "unknown", _now()
        refusal = log_.refusal(username, client, now=now)
        ok = password_matches(password, hashes.get(username), cost=cost)  # always one check
        if refusal is not None:
            st.session_state[_REFUSED] = refusal
            return False
        log_.record(username, client, ok=ok, now=now)
        return ok

    return check


def _refusal_message(refusal: Refusal) -> str:
    """Return why a sign-in was refused and for how long, the same for every user name."""
    if refusal.locked:
        minutes = max(1, round(refusal.wait_seconds / 60))
        how = f"locked for {minutes} minute{'s' if minutes != 1 else ''}"
    else:
        seconds = max(1, round(refusal.wait_seconds))
        how = f"paused for {seconds} second{'s' if seconds != 1 else ''}"
    return (
        "Too many failed sign-ins with this user name or from this computer: signing in is "
        f"{how}. An admin can lift a lockout."
    )


def _verified_cookie() -> dict | None:
    """Return ``{"username": ...}`` when the login cookie verifies, else None.

    A cookie that does not verify is logged with its code and marked for deletion; the same
    token is not looked at again once the browser has deleted it (the request headers the
    session started with still carry it until the page is reloaded).
    """
    if st.session_state.get("logout"):  # the library's flag: signed out in this session
        return None
    token = st.context.cookies.get(COOKIE_NAME)
    if not token or token == st.session_state.get(_CLEARED_TOKEN):
        return None
    try:
        username = verify_login_token(
            token,
            key=cookie_key(),
            usernames=load_users().keys(),
            now=_now(),
            lifetime_seconds=COOKIE_DAYS * 86_400,
        )
    except LoginTokenRejected as exc:
        log.warning("login cookie rejected [%s]", exc.code)
        st.session_state[_CLEAR_COOKIE] = True
        st.session_state.setdefault(
            _SIGNED_OUT_BECAUSE,
            f"Your saved sign-in was not accepted ({TOKEN_CODES[exc.code]}). Please sign in.",
        )
        return None
    return {"username": username}


def _sign_out_removed_user() -> None:
    """Sign out a session whose user is no longer in the credentials file."""
    username = st.session_state.get("username")
    if not st.session_state.get("authentication_status") or username in load_users():
        return
    log.warning("signed out a session of a user no longer in the credentials file")
    for key in _AUTH_KEYS:
        st.session_state[key] = None
    st.session_state[_CLEAR_COOKIE] = True  # the browser may hold a cookie set in this session
    st.session_state[_SIGNED_OUT_BECAUSE] = (
        "You were signed out: your user is no longer in this server's credentials file."
    )


def _clear_cookie(auth: stauth.Authenticate) -> None:
    """Delete the login cookie in the browser, once asked to, until the browser confirms.

    Drawn after the form, and only while nobody is signed in, so that it never deletes the
    cookie of a login made in the same run.
    """
    if not st.session_state.get(_CLEAR_COOKIE):
        return
    # extra-streamlit-components' cookie component: it answers True once it has deleted.
    component = auth.cookie_controller.cookie_model.cookie_manager.cookie_manager
    if component(method="delete", cookie=COOKIE_NAME, key="cxm_clear_cookie", default=False):
        st.session_state[_CLEAR_COOKIE] = False
        st.session_state[_CLEARED_TOKEN] = st.context.cookies.get(COOKIE_NAME)


def login() -> User | None:
    """Draw the login form when nobody is signed in; return the signed-in user or None.

    Never reruns the script after a login: the cookie component does that itself, and an
    explicit rerun loses the cookie (DESIGN.md section 10). A cookie that does not verify, and
    a session whose user was removed from the credentials file, show the form with why.
    """
    auth = _authenticator()
    st.session_state["_cxm_auth"] = auth
    _sign_out_removed_user()
    auth.login(location="main", key="login", fields={"Form name": "Sign in to cxm"})
    status = st.session_state.get("authentication_status")
    if status:
        # Signed in (perhaps in this very run): nothing to explain, no cookie to delete.
        st.session_state.pop(_SIGNED_OUT_BECAUSE, None)
        st.session_state.pop(_CLEAR_COOKIE, None)
        return current_user()
    if status is False and (refusal := st.session_state.pop(_REFUSED, None)):
        st.error(_refusal_message(refusal), icon=":material/lock_clock:")
    elif status is False:
        st.error("Username or password is incorrect.")
    elif because := st.session_state.get(_SIGNED_OUT_BECAUSE):
        st.info(because, icon=":material/logout:")
    _clear_cookie(auth)
    return None


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
