"""A real server and Debian's Chromium for the end-to-end tests (DESIGN.md section 10)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from cxm import access
from cxm.ui.access import COOKIE_NAME

ROOT = Path(__file__).parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(
    warehouse: Path,
    folder: Path,
    *,
    credentials: Path | None = None,
    cookie_key: str = "",
    env: dict[str, str] | None = None,
):
    """Start the app on ``warehouse``; yield its base URL; stop it afterwards.

    The users are the demo users unless ``credentials`` names another file; the login cookie
    is signed with a random key of the server's unless ``cookie_key`` is given; ``env`` adds
    settings to the server's environment.
    """
    extra, env = (
        env,
        {
            **os.environ,
            "CXM_WAREHOUSE": str(warehouse),
            "CXM_DEMO": "1",
            "CXM_CREDENTIALS": str(
                credentials or access.write_demo_credentials(folder / "credentials.yaml")
            ),
        },
    )
    env.pop("CXM_COOKIE_KEY", None)
    if cookie_key:
        env["CXM_COOKIE_KEY"] = cookie_key
    env.update(extra or {})
    port = _free_port()
    log = (folder / "server.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.fileWatcherType",
            "none",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((folder / "server.log").read_text()) from None
                time.sleep(0.3)
        yield url
    finally:  # also when the generator is closed early (benchmarks/metrics.py)
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="session", autouse=True)
def _kernels_compiled():
    """Compile the what-if kernels once, here, so no server spends a page view on it."""
    from cxm.whatif import score

    score.warm()


@pytest.fixture(scope="session")
def app_url(tiny_warehouse_template, tmp_path_factory):
    """Start the app on the tiny company and return its base URL."""
    folder = tmp_path_factory.mktemp("server")
    warehouse = folder / "cxm.duckdb"
    shutil.copyfile(tiny_warehouse_template, warehouse)
    yield from _serve(warehouse, folder)


@pytest.fixture(scope="session")
def demo_app_url(demo_warehouse, tmp_path_factory):
    """Start the app on the 20,000-seller demo company and return its base URL."""
    folder = tmp_path_factory.mktemp("demo-server")
    warehouse = folder / "cxm.duckdb"
    shutil.copyfile(demo_warehouse, warehouse)
    yield from _serve(warehouse, folder)


_COUNT_RUNS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (app && !window.__cxmRuns) {
        window.__cxmRuns = {n: 0};
        new MutationObserver(() => {
            if (app.getAttribute("data-test-script-state") === "running") window.__cxmRuns.n += 1;
        }).observe(app, {attributes: true, attributeFilter: ["data-test-script-state"]});
    }
    return window.__cxmRuns ? window.__cxmRuns.n : -1;
}"""
QUIET_MS = 750


def settle(page: Page, quiet_ms: int = QUIET_MS) -> None:
    """Wait until the script run has finished, nothing is stale, and no new run starts for a while.

    A run may start a moment after another ended (the login cookie component reports back, a
    widget's value arrives), and clicking then hits an element that is being replaced: so the
    page counts as settled only after ``quiet_ms`` without a new run. Benchmarks pass 0 (the
    moment the page is drawn, with no quiet time added to what they measure).
    """
    app = page.locator('[data-testid="stApp"]')
    deadline = time.monotonic() + 30
    while True:
        expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=30_000)
        expect(page.locator('[data-stale="true"]')).to_have_count(0, timeout=30_000)
        if quiet_ms == 0:
            return
        runs = page.evaluate(_COUNT_RUNS)
        page.wait_for_timeout(quiet_ms)
        quiet = (
            page.evaluate(_COUNT_RUNS) == runs
            and app.get_attribute("data-test-script-state") == "notRunning"
            and page.locator('[data-stale="true"]').count() == 0
        )
        if quiet:
            return
        assert time.monotonic() < deadline, "the page kept starting new script runs for 30 s"


def sign_in(page: Page, username: str, password: str) -> None:
    """Fill the login form and wait for the signed-in page."""
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Login").click()
    signed_in(page)


def signed_in(page: Page, timeout_ms: int = 30_000) -> None:
    """Wait for the signed-in page, the login cookie, and the runs writing it starts."""
    expect(page.get_by_role("button", name="Sign out")).to_be_visible(timeout=timeout_ms)
    settle(page)
    # The login cookie is written by a component a moment after the page shows the user.
    deadline = time.monotonic() + 15
    while not any(c["name"] == COOKIE_NAME for c in page.context.cookies()):
        assert time.monotonic() < deadline, "the login cookie was never written"
        page.wait_for_timeout(100)
    # Writing the cookie may start one more script run: wait for it to finish too.
    settle(page)
