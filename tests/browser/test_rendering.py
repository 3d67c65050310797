"""Markdown, HTML and remote images in the data, the users file and links reach the browser as
text: the page fetches nothing from outside (issue 15)."""

from __future__ import annotations

import shutil
from urllib.parse import quote, urlparse

import duckdb
import pytest
import yaml
from playwright.sync_api import Page, Route, expect

from cxm import access
from tests.browser.conftest import _serve, settle, sign_in

pytestmark = pytest.mark.browser

PAYLOAD = (
    '![x](http://example.invalid/a.png) <img src="http://example.invalid/b.png"> '
    "**bold** [link](javascript:alert(1))"
)


@pytest.fixture(scope="module")
def payload_app_url(tiny_warehouse_template, tmp_path_factory):
    """The tiny company whose last load's kind and source, and the admin's name, are PAYLOAD."""
    folder = tmp_path_factory.mktemp("payload-server")
    warehouse = folder / "cxm.duckdb"
    shutil.copyfile(tiny_warehouse_template, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("UPDATE cxm_loads SET kind = ?, source = ?", [PAYLOAD, PAYLOAD])
    credentials = access.write_demo_credentials(folder / "credentials.yaml")
    raw = yaml.safe_load(credentials.read_text())
    raw["credentials"]["usernames"]["admin"]["name"] = PAYLOAD
    credentials.write_text(yaml.safe_dump(raw))
    yield from _serve(warehouse, folder, credentials=credentials)


def test_values_with_markdown_and_html_make_the_page_fetch_nothing_from_outside(
    page: Page, payload_app_url
):
    outside: list[str] = []

    def only_this_server(route: Route) -> None:
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.context.route("**/*", only_this_server)
    page.goto(payload_app_url)
    sign_in(page, "admin", "admin-demo-2026")
    link = quote(PAYLOAD)
    for path in (
        f"?colour={link}",
        f"?markets={link}",
        f"kpis?kpis={link}",
        f"kpis?view={link}",
        f"experience-gap?by={link}",
        "data",
    ):
        page.goto(f"{payload_app_url}/{path}")
        settle(page)
        expect(
            page.get_by_text("Link parameter").or_(page.get_by_text("Data as of")).first
        ).to_be_visible()
        # The value is shown as the text it is, and nothing in it became an image or a link.
        expect(page.get_by_text("**bold**").first).to_be_visible()
        expect(page.locator('img[src*="example.invalid"]')).to_have_count(0)
        expect(page.locator('a[href^="javascript"]')).to_have_count(0)
    assert outside == [], outside
