"""The Experiments page in Chromium on the 20,000-seller demo company: the finished experiment
reads with its decision and forest plot, the running one says to keep testing, and the MDE
follows the share slider (issue 23)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import after, charts_drawn, settle, sign_in

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).parents[2] / "docs" / "screenshots"


def test_the_experiments_read_and_the_mde_follows_the_share_slider(page: Page, demo_app_url):
    page.set_viewport_size({"width": 1440, "height": 1400})
    page.goto(f"{demo_app_url}/experiments?experiment=EXP-REMIND")
    sign_in(page, "strategist", "strategist-demo-2026")
    expect(page.get_by_role("heading", name="Experiments", exact=True)).to_be_visible()
    settle(page)
    # the planted reorders: better on the primary KPI (docs/demo-data.md)
    expect(
        page.get_by_role(
            "heading", name=re.compile(r"^Treatment better on 90-day customer retention")
        )
    ).to_be_visible()
    charts_drawn(page)
    # the link's choice reached the browser too, not only the server (issue 19)
    picked = page.get_by_role("combobox", name="Experiment", exact=True)
    expect(picked).to_have_value("Reorder reminders (EXP-REMIND)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "experiments.png"))
    page.goto(f"{demo_app_url}/experiments?experiment=EXP-COACH")
    settle(page)
    keep = page.get_by_role("heading", name=re.compile(r"^Keep testing: Active rate"))
    expect(keep).to_be_visible()
    mde = page.get_by_role("heading", name=re.compile(r"^Smallest effect this test could see"))
    at_half = mde.inner_text()
    thumb = page.get_by_role("slider", name="Share of sellers in treatment")
    thumb.focus()
    after(page, lambda: [thumb.press("ArrowLeft") for _ in range(8)])  # 0.50 -> 0.10
    expect(mde).not_to_have_text(at_half)
    # at 10% in treatment the MDE is 1.67 times the half-half one (docs/experiments.md)
    half, tenth = (
        float(re.search(r"([\d.]+) pp", t).group(1)) for t in (at_half, mde.inner_text())
    )
    assert tenth / half == pytest.approx(1.667, abs=0.08)  # both rounded to 0.1 pp
