"""A login cookie that does not verify means "signed out": the form, the cookie deleted, no crash;
a user removed from the credentials file while signed in gets the form too (issue 15)."""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import shutil
import time

import jwt
import polars as pl
import pytest
import yaml
from playwright.sync_api import BrowserContext, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from cxm import access
from cxm.ui.access import COOKIE_NAME
from cxm.warehouse import audit
from tests.browser.conftest import _serve, settle, sign_in, until

pytestmark = pytest.mark.browser

KEY = secrets.token_urlsafe(48)


@pytest.fixture(scope="module")
def keyed(tiny_warehouse_template, tmp_path_factory):
    """Return (base URL, credentials file) of an app whose cookie key the test knows."""
    folder = tmp_path_factory.mktemp("keyed-server")
    warehouse = folder / "cxm.duckdb"
    shutil.copyfile(tiny_warehouse_template, warehouse)
    credentials = access.write_demo_credentials(folder / "credentials.yaml")
    for url in _serve(warehouse, folder, credentials=credentials, cookie_key=KEY):
        yield url, credentials


def _b64(part: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def _signed(claims: dict, key: str = KEY) -> str:
    return jwt.encode(claims, key, algorithm="HS256")


def _soon() -> float:
    return time.time() + 3600


BAD_COOKIES = {
    "alg-none": lambda: (
        f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({'username': 'admin', 'exp_date': _soon()})}."
    ),
    "other-key": lambda: _signed({"username": "admin", "exp_date": _soon()}, "x" * 48),
    "unknown-user": lambda: _signed({"username": "mallory", "exp_date": _soon()}),
    "no-expiry": lambda: _signed({"username": "admin"}),
    "expiry-not-a-number": lambda: _signed({"username": "admin", "exp_date": "tomorrow"}),
    "expired": lambda: _signed({"username": "admin", "exp_date": time.time() - 60}),
    "expired-exp-claim": lambda: _signed(
        {"username": "admin", "exp_date": _soon(), "exp": int(time.time()) - 60}
    ),
    "a-year-ahead": lambda: _signed({"username": "admin", "exp_date": time.time() + 3e7}),
    "garbage": lambda: "not-a-token",
}


def _set_cookie(context: BrowserContext, url: str, value: str) -> None:
    context.add_cookies([{"name": COOKIE_NAME, "value": value, "url": url}])


def _wait_until_cookie_gone(context: BrowserContext, page: Page) -> None:
    until(
        lambda: not any(c["name"] == COOKIE_NAME for c in context.cookies()),
        "deleting the login cookie",
    )


def test_a_cookie_signed_with_the_servers_key_signs_the_user_in(page: Page, keyed):
    # The control: the cookies below fail for what is wrong with them, not for how they are set.
    url, _ = keyed
    _set_cookie(page.context, url, _signed({"username": "admin", "exp_date": _soon()}))
    page.goto(url)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


@pytest.mark.parametrize("make", BAD_COOKIES.values(), ids=BAD_COOKIES.keys())
def test_a_cookie_that_does_not_verify_shows_the_login_form_and_is_deleted(page: Page, keyed, make):
    url, _ = keyed
    _set_cookie(page.context, url, make())
    page.goto(f"{url}/data")
    expect(page.get_by_role("textbox", name="Username")).to_be_visible()
    settle(page)
    expect(page.get_by_text("Your saved sign-in was not accepted")).to_be_visible()
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    expect(page.get_by_text("This app has encountered an error")).to_have_count(0)
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    _wait_until_cookie_gone(page.context, page)
    settle(page)
    # And the form works: the right password signs in on the same page. (Not waiting for the
    # new cookie: the library's cookie writer can lose a race with the deleting component's
    # last run when the password is typed within a moment of the page loading.)
    page.get_by_role("textbox", name="Username").fill("admin")
    page.get_by_role("textbox", name="Password").fill("admin-demo-2026")
    page.get_by_role("button", name="Login").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("heading", name="Data", exact=True)).to_have_count(
        1
    )  # one page, drawn once


def test_a_user_removed_from_the_credentials_file_while_signed_in_gets_the_form(page: Page, keyed):
    url, credentials = keyed
    before = credentials.read_text()
    page.goto(url)
    sign_in(page, "exec", "exec-demo-2026")
    raw = yaml.safe_load(before)
    del raw["credentials"]["usernames"]["exec"]
    try:
        credentials.write_text(yaml.safe_dump(raw))
        # The next run of the same session shows the form: the click's, or one the login
        # cookie's component started by itself (under load one came after the file changed,
        # and the link then went away under the click).
        form = page.get_by_role("textbox", name="Username")
        link = page.get_by_role("link", name="Experience gap")

        def next_run_shows_the_form() -> bool:
            if not form.is_visible():
                with contextlib.suppress(PlaywrightTimeoutError):
                    link.click(timeout=5_000)
            return form.is_visible()

        until(next_run_shows_the_form, "the login form after the user's removal")
        settle(page)
        expect(page.get_by_text("your user was removed or disabled on this server")).to_be_visible()
        expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
        _wait_until_cookie_gone(page.context, page)
        page.reload()  # a new session: nothing left that signs exec in
        expect(page.get_by_role("textbox", name="Username")).to_be_visible()
        settle(page)
        expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    finally:
        credentials.write_text(before)


def test_signing_out_ends_the_session_for_a_copied_cookie_and_other_open_browsers(
    page: Page, keyed, browser
):
    # Issue 15: the login cookie, copied before signing out, opened the app for its 24 hours.
    url, credentials = keyed
    page.goto(url)
    sign_in(page, "strategist", "strategist-demo-2026")
    (cookie,) = [c for c in page.context.cookies() if c["name"] == COOKIE_NAME]
    other = browser.new_context()  # another browser, signed in with the copy
    thief = browser.new_context()  # and one that will try the copy after the sign-out
    try:
        _set_cookie(other, url, cookie["value"])
        open_elsewhere = other.new_page()
        open_elsewhere.goto(url)
        expect(open_elsewhere.get_by_role("button", name="Sign out")).to_be_visible()
        settle(open_elsewhere)

        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("textbox", name="Username")).to_be_visible()
        settle(page)

        _set_cookie(thief, url, cookie["value"])
        stolen = thief.new_page()
        stolen.goto(f"{url}/data")
        expect(stolen.get_by_role("textbox", name="Username")).to_be_visible()
        settle(stolen)
        expect(stolen.get_by_text("Your saved sign-in was not accepted")).to_be_visible()
        expect(stolen.get_by_role("button", name="Sign out")).to_have_count(0)

        # The browser that was already open is signed out on its next run: a click starts
        # one, unless a run of its own (its cookie component reporting back) came first and
        # the link is gone (so the click is made in the page, at once, if the link is there).
        open_elsewhere.evaluate(
            """() => document.querySelector('a[href*="experience-gap"]')?.click()"""
        )
        elsewhere_login = open_elsewhere.get_by_role("textbox", name="Username")
        expect(elsewhere_login).to_be_visible()
        settle(open_elsewhere)
        expect(open_elsewhere.get_by_text("your sessions were ended")).to_be_visible()
        expect(open_elsewhere.get_by_role("button", name="Sign out")).to_have_count(0)

        # Signing in again works, and that new cookie opens the app. (From a fresh load: the
        # library's cookie writer can lose a race with the sign-out's deleting component.)
        page.reload()
        expect(page.get_by_role("textbox", name="Username")).to_be_visible()
        settle(page)
        sign_in(page, "strategist", "strategist-demo-2026")
        page.reload()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        # The audit trail beside the warehouse has it all (Streamlit gives no address for a
        # client on the server's own machine: the one client "local").
        trail = audit.entries(path=credentials.parent / "cxm.audit.sqlite")
        mine = trail.filter(pl.col("username") == "strategist")["action", "what"].rows()[::-1]
        assert mine[:2] == [("sign-in", "password, from local")] + [
            ("sign-out", "signed out, from local")
        ]
        assert (
            "session refused",
            f"login cookie: {access.TOKEN_CODES['revoked']}, from local",
        ) in mine
        assert (
            "session refused",
            "sessions ended after this one signed in, from local",
        ) in mine
    finally:
        other.close()
        thief.close()
