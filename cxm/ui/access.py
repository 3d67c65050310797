"""Login and the current user, for the app. Roles and scope come from the server's file.

streamlit-authenticator checks the password and keeps the login cookie; `current_user` then
reads the user's role and market scope from the credentials file on every run, never from the
cookie (a JWT the browser can read and the server cannot revoke). The library's own reading of
the cookie (``CookieModel.get_cookie`` in 0.4.2) lets a token it did not expect through as an
exception (``alg: none``, no expiry, a user it does not know); here every cookie is verified
first (`cxm.access.verify_login_token`), and one that does not verify reads as "signed out":
the form is shown, with why, and the cookie is deleted in the browser.

Every password is checked here too, through the server's log of failed sign-ins
(`cxm.access.SigninLog`): a user name from a client that failed too often waits, then is
locked out there for a while; a client that failed with many names waits; a user name that
failed from everywhere only makes each attempt wait a few seconds, so nobody can lock a user
out from a computer that is not theirs. The client is the connection's address, or what a
proxy in ``CXM_TRUSTED_PROXIES`` forwarded, or "local" (`cxm.access.client_address`). An
unknown name costs the same bcrypt check as a known one.

Everything this module changes or reads inside streamlit-authenticator goes through
`cxm.ui._authenticator`, which says why the library's version is pinned.

Every sign-in attempt, sign-out and refused session is written to the audit trail
(`cxm.warehouse.audit`), never with a password. Signing out ends every session of the user
(`cxm.access.revoke_sessions`): a copy of the login cookie no longer signs in, and another
browser's open session is signed out on its next run.
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
    Standing,
    User,
    authenticator_credentials,
    client_address,
    cookie_key,
    hash_cost,
    load_users,
    password_matches,
    read_accounts,
    revoke_sessions,
    sessions_valid_after,
    signin_log_path,
    trusted_proxies,
    verify_login_token,
)
from cxm.logs import access_event
from cxm.ui import _authenticator as library
from cxm.warehouse import audit

COOKIE_NAME = "cxm_login"
#: The login cookie's life: half a day (a copy taken from a browser is good for no longer,
#: and signing out ends it at once).
COOKIE_DAYS = 0.5
#: While a user is active, their login cookie is signed again this often, so that reloading
#: the page after a long working day does not ask for the password; an idle cookie still ends
#: `COOKIE_DAYS` after the last renewal.
RENEW_AFTER_SECONDS = 3600.0
#: Session keys: why the visitor was signed out; a cookie to delete; the one deleted.
_SIGNED_OUT_BECAUSE = "_cxm_signed_out_because"
_CLEAR_COOKIE = "_cxm_clear_cookie"
_CLEARED_TOKEN = "_cxm_cleared_token"
_REFUSED = "_cxm_signin_refused"
#: When this session signed in (seconds since the epoch); the cookie audited as refused.
_SIGNED_IN_AT = "_cxm_signed_in_at"
#: When this session's login cookie was last signed (at sign-in, then by `_renew_cookie`).
_COOKIE_SIGNED_AT = "_cxm_cookie_signed_at"
_AUDITED_TOKEN = "_cxm_audited_token"
#: A user name typed into the form is audited up to this many characters.
MAX_AUDITED_NAME = 100
#: An audit of a name under attack lists at most this many of its clients.
MAX_AUDITED_CLIENTS = 5

log = logging.getLogger(__name__)
#: The clock (seconds since the epoch) and the wait; tests set them.
_now = time.time
_sleep = time.sleep


def _authenticator() -> stauth.Authenticate:
    credentials = authenticator_credentials()
    return library.build(
        credentials,
        cookie_name=COOKIE_NAME,
        cookie_key=cookie_key(),
        cookie_days=COOKIE_DAYS,
        read_cookie=_verified_cookie,
        check_password=_throttled_check(library.password_hashes(credentials)),
    )


@st.cache_resource
def _signin_log(path: str) -> SigninLog:
    return SigninLog(path)


def _client() -> str:
    """Return the client to count and audit: an address, or "local" for the server's host.

    Streamlit gives no address for a connection from the server's own host (nor in AppTest):
    every such connection is the one client "local". ``X-Forwarded-For`` names the client only
    when the connection comes from a proxy in ``CXM_TRUSTED_PROXIES``.
    """
    peer = st.context.ip_address
    forwarded = st.context.headers.get("X-Forwarded-For")
    proxies = trusted_proxies()
    if forwarded and not proxies and not st.session_state.get("_cxm_warned_forwarded"):
        st.session_state["_cxm_warned_forwarded"] = True
        log.warning(
            "X-Forwarded-For ignored: CXM_TRUSTED_PROXIES is not set, so every client "
            "behind the proxy counts as the proxy's address"
        )
    return client_address(peer if isinstance(peer, str) and peer else None, forwarded, proxies)


def _audit(action: str, username: str, why: str) -> None:
    """Write a sign-in event to the audit trail: who (as typed), the client, and why."""
    user = load_users().get(username)
    access_event(log, action, username[:MAX_AUDITED_NAME], client=_client(), why=why)
    audit.record(
        audit.Entry(
            username=username[:MAX_AUDITED_NAME],
            role=user.role.value if user else "",
            action=action,
            what=f"{why}, from {_client()}",
            filters="",
            scope=user.scope.describe() if user else "",
        )
    )


def _throttled_check(hashes: dict[str, str]):
    """Return the library's password check, done through the server's failed sign-ins log.

    The attempt is checked against its counts and counted in one step (`SigninLog.begin`),
    held as long as its user name's failures from every client ask (a few seconds at most),
    then its password checked and the attempt settled (`SigninLog.finish`).
    """
    cost = hash_cost(hashes.values())

    def check(username: str, password: str) -> bool:
        log_ = _signin_log(str(signin_log_path()))
        attempt = log_.begin(username, _client(), now=_now())
        if isinstance(attempt, Refusal):
            password_matches(password, hashes.get(username), cost=cost)  # the same work
            st.session_state[_REFUSED] = attempt
            why = "locked out" if attempt.locked else "throttled"
            _audit("sign-in failed", username, f"{why} ({attempt.wait_seconds:.0f} s to wait)")
            return False
        if attempt.hold_seconds > 0:
            _sleep(attempt.hold_seconds)
        ok = password_matches(password, hashes.get(username), cost=cost)
        under_attack = log_.finish(attempt, ok=ok)
        if ok:
            _audit("sign-in", username, "password")
        else:
            _audit("sign-in failed", username, _why_failed(username, known=username in hashes))
        if under_attack is not None:
            _audit("name under attack", username, _attack(under_attack))
        return ok

    return check


def _attack(standing: Standing) -> str:
    """Return a name under attack in words, for the audit: its failures and their clients."""
    clients = standing.others
    shown = ", ".join(clients[:MAX_AUDITED_CLIENTS])
    more = ", ..." if len(clients) > MAX_AUDITED_CLIENTS else ""
    return (
        f"{standing.failures} failed sign-ins in the last hour from {len(clients)} "
        f"client{'s' if len(clients) != 1 else ''} ({shown}{more})"
    )


def _why_failed(username: str, *, known: bool) -> str:
    """Return why a password was refused, for the audit (the form says the same for all)."""
    if known:
        return "wrong password"
    return "disabled user" if username in read_accounts() else "unknown user"


def _refusal_message(refusal: Refusal) -> str:
    """Return why a sign-in was refused and for how long, the same for every user name."""
    if refusal.locked:
        minutes = max(1, round(refusal.wait_seconds / 60))
        how = f"locked for {minutes} minute{'s' if minutes != 1 else ''}"
    else:
        seconds = max(1, round(refusal.wait_seconds))
        how = f"paused for {seconds} second{'s' if seconds != 1 else ''}"
    return (
        "Too many failed sign-ins from this computer: signing in is "
        f"{how}. An admin can lift a lockout."
    )


def _verified_cookie() -> dict | None:
    """Return ``{"username": ...}`` when the login cookie verifies, else None.

    A cookie that does not verify is logged with its code and marked for deletion; the same
    token is not looked at again once the browser has deleted it (the request headers the
    session started with still carry it until the page is reloaded).
    """
    if library.signed_out_here():
        return None
    token = st.context.cookies.get(COOKIE_NAME)
    if not isinstance(token, str) or not token or token == st.session_state.get(_CLEARED_TOKEN):
        return None
    try:
        username = verify_login_token(
            token,
            key=cookie_key(),
            usernames=load_users().keys(),
            now=_now(),
            lifetime_seconds=COOKIE_DAYS * 86_400,
            valid_after=sessions_valid_after,
        )
    except LoginTokenRejected as exc:
        log.warning("login cookie rejected [%s]", exc.code)
        if st.session_state.get(_AUDITED_TOKEN) != token:  # once per cookie and session
            st.session_state[_AUDITED_TOKEN] = token
            _audit("session refused", exc.username or "", f"login cookie: {TOKEN_CODES[exc.code]}")
        st.session_state[_CLEAR_COOKIE] = True
        st.session_state.setdefault(
            _SIGNED_OUT_BECAUSE,
            f"Your saved sign-in was not accepted ({TOKEN_CODES[exc.code]}). Please sign in.",
        )
        return None
    return {"username": username}


def _end_stale_session() -> None:
    """Sign out a session whose user is no longer in the credentials file, or whose sessions
    were ended (`cxm.access.revoke_sessions`) after it signed in."""
    username = st.session_state.get("username")
    if not st.session_state.get("authentication_status") or not username:
        return
    if username not in load_users():
        because = "your user was removed or disabled on this server."
        why = "user removed or disabled"
    else:
        ended, signed_in = sessions_valid_after(username), st.session_state.get(_SIGNED_IN_AT)
        if ended is None or signed_in is None or signed_in > ended:
            return
        because = "your sessions were ended (you signed out elsewhere, or an admin changed you)."
        why = "sessions ended after this one signed in"
    log.warning("signed out a session: %s", why)
    _audit("session refused", username, why)
    library.forget_user()
    st.session_state.pop(_SIGNED_IN_AT, None)
    st.session_state.pop(_COOKIE_SIGNED_AT, None)
    st.session_state[_CLEAR_COOKIE] = True  # the browser may hold a cookie set in this session
    st.session_state[_SIGNED_OUT_BECAUSE] = f"You were signed out: {because}"


def _clear_cookie(auth: stauth.Authenticate) -> None:
    """Delete the login cookie in the browser, once asked to, until the browser confirms.

    Drawn after the form, and only while nobody is signed in, so that it never deletes the
    cookie of a login made in the same run.
    """
    if not st.session_state.get(_CLEAR_COOKIE):
        return
    if library.delete_cookie(auth, key="cxm_clear_cookie"):
        st.session_state[_CLEAR_COOKIE] = False
        st.session_state[_CLEARED_TOKEN] = st.context.cookies.get(COOKIE_NAME)


def login() -> User | None:
    """Draw the login form when nobody is signed in; return the signed-in user or None.

    Never reruns the script after a login: the cookie component does that itself, and an
    explicit rerun loses the cookie (seen in 4 of 6 logins). Its reruns (two: the cookie
    written, then read back) cut short the page's first run and drop its messages to the
    browser, so a page gives its widgets their values on every run (`cxm.ui.filters.hold`),
    never on the first one only: that is how a deep link survives the login. A cookie that
    does not verify, and a session whose user was removed from the credentials file or whose
    sessions were ended, show the form with why.
    """
    auth = _authenticator()
    st.session_state["_cxm_auth"] = auth
    _end_stale_session()
    library.login_form(auth, key="login", title="Sign in to cxm")
    status = st.session_state.get("authentication_status")
    if status:
        # Signed in (perhaps in this very run): nothing to explain, no cookie to delete.
        st.session_state.setdefault(_SIGNED_IN_AT, _now())
        st.session_state.pop(_SIGNED_OUT_BECAUSE, None)
        st.session_state.pop(_CLEAR_COOKIE, None)
        _renew_cookie(auth)
        return current_user()
    if status is False and (refusal := st.session_state.pop(_REFUSED, None)):
        st.error(_refusal_message(refusal), icon=":material/lock_clock:")
    elif status is False:
        st.error("Username or password is incorrect.")
    elif because := st.session_state.get(_SIGNED_OUT_BECAUSE):
        st.info(because, icon=":material/logout:")
    _clear_cookie(auth)
    return None


def _renew_cookie(auth: stauth.Authenticate) -> None:
    """Sign the login cookie again when it was signed over `RENEW_AFTER_SECONDS` ago.

    A renewed cookie carries a new issue time, so `revoke_sessions` ends it like any other.
    """
    now = _now()
    signed = st.session_state.setdefault(_COOKIE_SIGNED_AT, st.session_state[_SIGNED_IN_AT])
    if now - signed < RENEW_AFTER_SECONDS:
        return
    library.write_cookie(auth, expires_at=now + COOKIE_DAYS * 86_400, key="cxm_renew_cookie")
    st.session_state[_COOKIE_SIGNED_AT] = now
    log.info("renewed the login cookie of an active session")


def current_user() -> User | None:
    """Return the signed-in user as the server's credentials file describes them, or None.

    A user removed from the file since they signed in is treated as signed out.
    """
    username = st.session_state.get("username")
    if not st.session_state.get("authentication_status") or not username:
        return None
    return load_users().get(username)


def _signed_out(details: dict) -> None:
    """End every session of the user signing out (their cookie too, wherever it was copied)."""
    username = details.get("username")
    st.session_state.pop(_SIGNED_IN_AT, None)
    st.session_state.pop(_COOKIE_SIGNED_AT, None)
    if username:
        revoke_sessions(username, now=_now())
        _audit("sign-out", username, "signed out")


def logout_button() -> None:
    """Draw the sign-out button in the sidebar."""
    auth = st.session_state.get("_cxm_auth")
    if auth is not None:
        library.logout_button(auth, "Sign out", key="cxm_sign_out", callback=_signed_out)
