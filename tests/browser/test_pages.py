"""Every page in Chromium on the 20,000-seller demo company, with a screenshot of each.

The screenshots (1440 x 900, whole page) land in docs/screenshots/ and the README links them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import after, charts_drawn, settle, sign_in

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).parents[2] / "docs" / "screenshots"


@pytest.fixture
def admin(page: Page, demo_app_url) -> Page:
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(demo_app_url)
    sign_in(page, "admin", "admin-demo-2026")
    return page


@pytest.mark.parametrize(
    ("path", "title", "shot"),
    [
        ("", "Overview", "overview.png"),  # the default page lives at the root
        ("experience-gap", "Experience gap", "experience-gap.png"),
        ("kpis", "KPIs by segment", "kpis.png"),
        ("acquisition", "Acquisition", "acquisition.png"),
        ("data", "Data", "data.png"),
    ],
)
def test_each_page_draws_its_charts_and_is_photographed(admin, demo_app_url, path, title, shot):
    admin.goto(f"{demo_app_url}/{path}")
    settle(admin)
    expect(admin.get_by_role("heading", name=title, exact=True)).to_be_visible()
    expect(admin.get_by_text("Page not found")).to_have_count(0)
    expect(admin.locator('[data-testid="stException"]')).to_have_count(0)
    if path != "data":
        expect(admin.locator(".js-plotly-plot").first).to_be_visible()
    charts_drawn(admin)
    SHOTS.mkdir(parents=True, exist_ok=True)
    admin.screenshot(path=str(SHOTS / shot), full_page=True)


def test_a_filter_chosen_on_one_page_carries_over_and_lives_in_the_url(admin, demo_app_url):
    admin.goto(f"{demo_app_url}/?markets=BR&period=2026-09")
    settle(admin)
    expect(admin.get_by_text("Brazil (BR)")).to_be_visible()
    after(admin, admin.get_by_role("link", name="KPIs by segment").click)
    expect(admin.get_by_role("heading", name="KPIs by segment", exact=True)).to_be_visible()
    expect(admin).to_have_url(re.compile(r"markets=BR.*period=2026-09|period=2026-09.*markets=BR"))
    expect(admin.get_by_text("Brazil (BR)")).to_be_visible()


def test_the_customer_value_view_shows_its_model_check_and_is_photographed(admin, demo_app_url):
    admin.goto(f"{demo_app_url}/kpis")
    settle(admin)
    views = admin.get_by_role("radiogroup", name="View")
    expect(views.get_by_role("radio", name="By segment")).to_be_checked()
    expect(admin.get_by_role("heading", name="Downline at risk")).to_have_count(0)
    after(admin, views.get_by_role("radio", name="Cohorts and downline").click)
    expect(admin.get_by_role("heading", name="Downline at risk")).to_be_visible()
    expect(admin).to_have_url(re.compile(r"view=cohorts"))
    after(admin, views.get_by_role("radio", name="Customer value").click)
    expect(admin).to_have_url(re.compile(r"view=value"))
    expect(admin.locator('[data-testid="stException"]')).to_have_count(0)
    check = admin.get_by_role("heading", name="The model predicted")
    expect(check).to_be_visible()
    check.scroll_into_view_if_needed()
    expect(check).to_contain_text("repeat purchases in the 26-week holdout")
    expect(
        admin.get_by_role("heading", name="Predicted 12-month value per customer")
    ).to_be_visible()
    charts_drawn(admin)
    admin.screenshot(path=str(SHOTS / "customer-value.png"))
