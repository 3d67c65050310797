"""Signing in, deep links, scope and signing out, in a real browser; and an attacker's wrong
passwords, which lock the admin's name only on the attacker's client (issue 20)."""

from __future__ import annotations

import re
import shutil
import time

import pytest
from playwright.sync_api import Browser, Page, expect

from cxm import access
from cxm.warehouse import audit
from tests.browser.conftest import _serve, settle, sign_in, until

pytestmark = pytest.mark.browser


def test_a_deep_link_shows_only_the_login_then_lands_on_its_page(page: Page, app_url):
    page.goto(f"{app_url}/data")
    expect(page.get_by_role("textbox", name="Username")).to_be_visible()
    settle(page)
    expect(page.get_by_text("Tables")).to_have_count(0)
    expect(page.get_by_text("Page not found")).to_have_count(0)
    sign_in(page, "admin", "admin-demo-2026")
    assert page.url.endswith("/data")
    expect(page.get_by_role("heading", name="Data", exact=True)).to_be_visible()
    # The tiny company's row counts, drawn by the grid: 15 orders.
    grid = page.locator('[data-testid="stDataFrame"]').first
    expect(grid).to_be_visible()
    expect(grid).to_contain_text("15")


def test_a_scoped_analyst_sees_only_brazil_and_keeps_the_session_on_reload(page: Page, app_url):
    page.goto(app_url)
    sign_in(page, "analyst", "analyst-demo-2026")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_text("showing BR, MX").first).to_be_visible()
    # The tiny company in Brazil (no Mexican sellers) on 2026-03-02: 4 live sellers, one of
    # them active (S07 enrolled S11 on 2026-02-20) -> the first two tiles read 4 and 25.0%.
    metrics = page.locator('[data-testid="stMetricValue"]')
    expect(metrics.nth(0)).to_have_text("4")
    expect(metrics.nth(1)).to_have_text("25.0%")
    expect(page.get_by_role("link", name="Data")).to_have_count(0)
    page.reload()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    settle(page)
    expect(page.get_by_role("textbox", name="Username")).to_have_count(0)


def test_signing_out_returns_to_the_login_form(page: Page, app_url):
    page.goto(app_url)
    sign_in(page, "exec", "exec-demo-2026")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("textbox", name="Username")).to_be_visible()
    expect(page).to_have_title(re.compile("cxm"))


ATTACKER, ELSEWHERE = "203.0.113.9", "203.0.113.10"


@pytest.fixture
def behind_proxy(tiny_warehouse_template, tmp_path):
    """Return (base URL, sign-in log, audit file) of a server of this test's own that believes
    X-Forwarded-For from 127.0.0.1: the browser's connections play a proxy on the same host."""
    warehouse = tmp_path / "cxm.duckdb"
    shutil.copyfile(tiny_warehouse_template, warehouse)
    credentials = access.write_demo_credentials(tmp_path / "credentials.yaml")
    env = {"CXM_TRUSTED_PROXIES": "127.0.0.1"}
    for url in _serve(warehouse, tmp_path, credentials=credentials, env=env):
        log = access.SigninLog(credentials.with_name("credentials.signins.sqlite"))
        yield url, log, warehouse.with_suffix(".audit.sqlite")


def counted(log: access.SigninLog, kind: str, name: str, failures: int) -> None:
    """Wait until the server's sign-in log holds ``failures`` for a user name or a client.

    The server's own state, not the page: the page shows the same error after every failure,
    and a wait measured from a click can begin before the server has counted it.
    """

    def found() -> dict:
        return {(s.kind, s.name): s.failures for s in log.standing(now=time.time())}

    until(lambda: found().get((kind, name), 0) >= failures, f"{failures} failures of {kind} {name}")
    assert found()[kind, name] == failures, found()


def fail(page: Page, username: str, password: str = "wrong-password") -> None:
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Login").click()


def test_an_attackers_wrong_passwords_for_the_admin_do_not_stop_the_admin_from_another_client(
    behind_proxy, browser: Browser
):
    # Issue 20 finding 3: ten wrong passwords for a known admin name, from anyone, locked that
    # name for 15 minutes in every browser.
    url, log, trail_file = behind_proxy
    attacker = browser.new_context(extra_http_headers={"X-Forwarded-For": ATTACKER})
    admin = browser.new_context(extra_http_headers={"X-Forwarded-For": ELSEWHERE})
    try:
        page = attacker.new_page()
        page.goto(url)
        settle(page)
        for i in range(1, 4):  # the 3 free failures, typed in the attacker's browser
            fail(page, "admin")
            counted(log, "user", "admin", i)
        expect(page.get_by_text("Username or password is incorrect")).to_be_visible()
        # The next ones would wait 1, 2, 4, ... 60 s each (two minutes for these nine): they
        # are counted on the library's path instead, as the server counts a failure.
        for _ in range(9):
            log.record("admin", ATTACKER, ok=False, now=time.time())
        counted(log, "user", "admin", 12)  # 12 > 10: the name is locked on that client
        fail(page, "admin", "admin-demo-2026")  # even the right password, from there
        expect(page.get_by_text("Too many failed sign-ins")).to_be_visible()
        expect(page.get_by_text("signing in is locked for 15 minutes")).to_be_visible()
        expect(page.get_by_role("button", name="Sign out")).to_have_count(0)

        mine = admin.new_page()  # the admin, from their own computer, at once
        mine.goto(f"{url}/users")
        sign_in(mine, "admin", "admin-demo-2026")
        expect(mine.get_by_role("heading", name="Users")).to_be_visible()
        expect(mine.get_by_text("Names under attack")).to_be_visible()
        under_attack = mine.locator('[data-testid="stDataFrame"]').first
        expect(under_attack).to_contain_text(ATTACKER)
    finally:
        attacker.close()
        admin.close()
    trail = audit.entries(path=trail_file)
    whats = list(zip(trail["action"], trail["what"], strict=True))[::-1]  # oldest first
    assert whats[:3] == [("sign-in failed", f"wrong password, from {ATTACKER}")] * 3
    assert any(
        action == "sign-in failed" and what.startswith("locked out (")
        for action, what in whats
        if what.endswith(f"from {ATTACKER}")
    )
    assert whats[-1] == ("sign-in", f"password, from {ELSEWHERE}")
