"""Signing in, deep links, scope and signing out, in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import settle, sign_in

pytestmark = pytest.mark.browser


def test_a_deep_link_shows_only_the_login_then_lands_on_its_page(page: Page, app_url):
    page.goto(f"{app_url}/data")
    expect(page.get_by_role("textbox", name="Username")).to_be_visible(timeout=30_000)
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
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=30_000)
    settle(page)
    expect(page.get_by_role("textbox", name="Username")).to_have_count(0)


def test_signing_out_returns_to_the_login_form(page: Page, app_url):
    page.goto(app_url)
    sign_in(page, "exec", "exec-demo-2026")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("textbox", name="Username")).to_be_visible(timeout=30_000)
    expect(page).to_have_title(re.compile("cxm"))
