"""The one place cxm reaches into streamlit-authenticator: what it replaces there, and what it
reads and calls that is not the library's documented API.

The library draws the sign-in form, signs users in and out, and keeps the login cookie; cxm
checks every cookie and password itself (`cxm.ui.access`). It does that through these seams of
streamlit-authenticator 0.4.2, which is why ``pyproject.toml`` pins it to exactly ``==0.4.2``
(none of them is public API; a release may rename or change any of them, and only the tests of
``tests/test_authenticator_seam.py`` would tell before a user did):

1. ``Authenticate(credentials, cookie_name, cookie_key, cookie_expiry_days, auto_hash=,
   login_sleep_time=)`` with a credentials dict ``{"usernames": {name: {"name", "email",
   "password"}}}`` of bcrypt hashes. Its ``cookie_controller.cookie_model`` is a
   ``CookieModel``; its ``authentication_controller.authentication_model`` an
   ``AuthenticationModel`` holding that dict as ``credentials``.
2. ``CookieModel.get_cookie()``, which ``Authenticate.login`` calls while nobody is signed in,
   before it draws the form: a dict with a ``username`` signs that user in without a password.
   **Replaced** by cxm's reader, which verifies the token first.
3. ``CookieModel._token_encode()``, which ``set_cookie()`` calls after a password sign-in to
   make the cookie's token from ``cookie_key``, ``exp_date`` and ``cookie_expiry_days``.
   **Replaced** by `signed_token`, which adds the issue time that ending sessions needs.
4. ``AuthenticationModel.check_credentials(username, password)``, which its ``login`` calls
   for a password sign-in and trusts for the answer. **Replaced** by cxm's throttled check.
5. ``CookieModel.cookie_manager``: extra-streamlit-components' ``CookieManager``, whose
   ``set(cookie, val, key=, expires_at=)`` renews the cookie and whose own ``cookie_manager``
   (the component function) is called with ``method="delete"`` to delete it; it answers True
   once the browser has deleted it.
6. The session keys the library keeps: ``authentication_status``, ``username``, ``name``,
   ``email``, ``roles``, and ``logout`` (true once signed out in this session).
7. ``Authenticate.login(location=, key=, fields=)`` draws ``st.form(key)`` with a submit
   button labelled ``fields["Login"]`` ("Login" by default); ``Authenticate.logout(button_name,
   location, key=, callback=)`` calls ``callback`` with a dict holding the ``username``.

To upgrade: bump the pin, run ``tests/test_authenticator_seam.py``, and change only this module.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import jwt
import streamlit as st
import streamlit_authenticator as stauth

#: The release every seam above was read from.
PINNED_VERSION = "0.4.2"
#: The library's session keys of a signed-in user (6).
AUTH_KEYS = ("name", "username", "authentication_status", "email", "roles")
#: The algorithm the library signs and reads its tokens with.
TOKEN_ALGORITHM = "HS256"


def build(
    credentials: dict,
    *,
    cookie_name: str,
    cookie_key: str,
    cookie_days: float,
    read_cookie: Callable[[], dict | None],
    check_password: Callable[[str, str], bool],
) -> stauth.Authenticate:
    """Return the library's authenticator with cxm's cookie reader, token and password check.

    ``read_cookie()`` returns ``{"username": ...}`` for a verified login cookie, else None;
    ``check_password(username, password)`` answers for every password sign-in.
    """
    auth = stauth.Authenticate(
        credentials, cookie_name, cookie_key, cookie_days, auto_hash=False, login_sleep_time=0
    )
    cookies = auth.cookie_controller.cookie_model
    cookies.get_cookie = read_cookie  # (2)
    cookies._token_encode = lambda: signed_token(auth)  # (3)
    auth.authentication_controller.authentication_model.check_credentials = check_password  # (4)
    return auth


def password_hashes(credentials: dict) -> dict[str, str]:
    """Return the bcrypt hash of each user name of a credentials dict (1)."""
    return {name: entry["password"] for name, entry in credentials["usernames"].items()}


def signed_token(auth: stauth.Authenticate) -> str:
    """Return the login token for the signed-in user: the library's claims and ``issued_at``.

    ``exp_date`` is the library's own (now + the cookie's life when it signs in, or what
    `write_cookie` set); the issue time is that minus the cookie's life.
    """
    cookies = auth.cookie_controller.cookie_model
    claims = {
        "username": st.session_state["username"],
        "exp_date": cookies.exp_date,
        "issued_at": cookies.exp_date - cookies.cookie_expiry_days * 86_400,
    }
    return jwt.encode(claims, cookies.cookie_key, algorithm=TOKEN_ALGORITHM)


def write_cookie(auth: stauth.Authenticate, *, expires_at: float, key: str) -> None:
    """Sign the login cookie again, to expire at ``expires_at`` (seconds since the epoch) (5)."""
    cookies = auth.cookie_controller.cookie_model
    cookies.exp_date = expires_at
    cookies.cookie_manager.set(
        cookies.cookie_name,
        signed_token(auth),
        key=key,
        expires_at=dt.datetime.fromtimestamp(expires_at),
    )


def delete_cookie(auth: stauth.Authenticate, *, key: str) -> bool:
    """Ask the browser to delete the login cookie; return True once it says it has (5)."""
    cookies = auth.cookie_controller.cookie_model
    component = cookies.cookie_manager.cookie_manager
    return bool(component(method="delete", cookie=cookies.cookie_name, key=key, default=False))


def signed_out_here() -> bool:
    """Return whether the user signed out in this session (the library's ``logout``) (6)."""
    return bool(st.session_state.get("logout"))


def forget_user() -> None:
    """Clear the library's record of the signed-in user in this session (6)."""
    for key in AUTH_KEYS:
        st.session_state[key] = None


def login_form(auth: stauth.Authenticate, *, key: str, title: str) -> None:
    """Draw the sign-in form (or sign in from the cookie) in the page's main area (7)."""
    auth.login(location="main", key=key, fields={"Form name": title})


def logout_button(
    auth: stauth.Authenticate, label: str, *, key: str, callback: Callable[[dict], None]
) -> None:
    """Draw the sign-out button in the sidebar; ``callback`` gets ``{"username": ...}`` (7)."""
    auth.logout(label, "sidebar", key=key, callback=callback)
