"""A real server and Debian's Chromium for the end-to-end tests (DESIGN.md section 10)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Download, Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

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


#: The longest any state of the app is waited for. Generous on purpose: every wait below is
#: for something the app shows, so a busy machine (another process holding a core, two test
#: workers) makes a test slower, never wrong; only a state that never comes takes this long.
WAIT_MS = 180_000
expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser(browser: Browser) -> Browser:
    """Chromium, each of whose contexts waits up to `WAIT_MS` for an element or a page."""
    new_context = browser.new_context

    def waiting(**options) -> BrowserContext:
        context = new_context(**options)
        context.set_default_timeout(WAIT_MS)
        watch_runs(context)
        return context

    browser.new_context = waiting
    return browser


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
    deadline = time.monotonic() + WAIT_MS / 1000
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
    defined = demo_warehouse.with_suffix(".experiments.sqlite")  # the demo's experiments
    if defined.exists():
        shutil.copyfile(defined, warehouse.with_suffix(".experiments.sqlite"))
    yield from _serve(warehouse, folder)


#: Counts, in each page, the script runs the server reports finished (not those cut short for
#: another), read off the app's websocket. A short fragment run can start and finish within
#: one drawing of the page, whose "running" state then never shows: seen on the What-if page
#: once a slider move reran only the comparison (issue 21). ForwardMsg's field 6 is
#: script_finished, a status; 2 is "finished early for a rerun".
_RUN_COUNTER = """(() => {
    const count = window.__cxmWs = {finished: 0};
    const finished = (bytes) => {
        let i = 0;
        const varint = () => {
            let value = 0, shift = 0, b;
            do { b = bytes[i++]; value += (b & 127) * 2 ** shift; shift += 7; } while (b & 128);
            return value;
        };
        while (i < bytes.length) {
            const tag = varint(), field = Math.floor(tag / 8), wire = tag % 8;
            if (wire === 0) { const value = varint(); if (field === 6) return value !== 2; }
            else if (wire === 2) { const length = varint(); i += length; }
            else if (wire === 1) i += 8;
            else if (wire === 5) i += 4;
            else return false;
        }
        return false;
    };
    const Native = window.WebSocket;
    window.WebSocket = class extends Native {
        constructor(...args) {
            super(...args);
            this.addEventListener("message", (event) => {
                if (event.data instanceof ArrayBuffer && finished(new Uint8Array(event.data)))
                    count.finished += 1;
            });
        }
    };
})();"""


def watch_runs(target: Page | BrowserContext) -> None:
    """Count the runs the server finishes in ``target``'s pages (`RUNS_FINISHED`); before
    they load. The test fixtures' contexts have it; a benchmark's own page calls it."""
    target.add_init_script(_RUN_COUNTER)


#: The number of script runs finished since the page loaded (-1 if not watched).
RUNS_FINISHED = "() => window.__cxmWs ? window.__cxmWs.finished : -1"

_WATCH = """() => {
    // Count the script runs of the page from now on, and note when the run state last changed.
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app) return null;
    const attr = "data-test-script-state";
    let watch = window.__cxmRuns;
    if (!watch || watch.app !== app) {
        watch = window.__cxmRuns = {app, started: 0, changedAt: performance.now()};
        new MutationObserver((records) => {
            // The value a record left is the next record's old value (the last: the current).
            records.forEach((r, i) => {
                const now = i + 1 < records.length ? records[i + 1].oldValue
                                                   : app.getAttribute(attr);
                if (now === "running" && r.oldValue !== "running") watch.started += 1;
            });
            watch.changedAt = performance.now();
        }).observe(app, {attributes: true, attributeFilter: [attr], attributeOldValue: true});
    }
    return watch;
}"""
_SETTLED = f"""(quietMs) => {{
    const watch = ({_WATCH})();
    return !!watch
        && watch.app.getAttribute("data-test-script-state") === "notRunning"
        && !document.querySelector('[data-stale="true"]')
        && performance.now() - watch.changedAt >= quietMs;
}}"""
#: The number of script runs started since the page was first watched.
RUNS_STARTED = f"() => ({_WATCH})().started"
_COUNTS = f"() => [({_WATCH})().started, ({RUNS_FINISHED})()]"
_STARTED = f"""([started, finished]) => {{
    const watch = ({_WATCH})();
    const done = ({RUNS_FINISHED})();
    return !!watch && (watch.started > started || (finished >= 0 && done > finished));
}}"""
QUIET_MS = 750


def settle(page: Page, quiet_ms: int = QUIET_MS) -> None:
    """Wait until the script run has finished, nothing is stale, and no new run starts for a while.

    A run may start a moment after another ended (the login cookie component reports back, a
    widget's value arrives), and clicking then hits an element that is being replaced: so the
    page counts as settled only once its run state has not changed for ``quiet_ms``, as the
    page itself measures it. Benchmarks pass 0 (the moment the page is drawn, with no quiet
    time added to what they measure).
    """
    page.wait_for_function(_SETTLED, arg=quiet_ms, polling=50, timeout=WAIT_MS)


def after(page: Page, action: Callable[[], object], quiet_ms: int = QUIET_MS) -> None:
    """Do ``action`` (a click, a key), wait for the script run it starts, then `settle`.

    Streamlit marks the page running only when the server starts the run, so right after a
    click the page still reads "not running": settling then could pass before the click's run
    began, and the next click would interrupt it (the trusted-proxy test's right password was
    checked while the failure before it never was, and signed in). A run counts as begun when
    the page shows it running, or when the server has finished one (a short run may never
    show: `_RUN_COUNTER`).
    """
    before = page.evaluate(_COUNTS)
    action()
    page.wait_for_function(_STARTED, arg=before, polling=50, timeout=WAIT_MS)
    settle(page, quiet_ms)


def after_idempotent(page: Page, action: Callable[[], object], retry_s: float = 20.0) -> None:
    """`after` for an action that may safely be done twice (a form submitted again with the
    same inputs): done again when no run has begun ``retry_s`` after it. Under the full
    suite's load a click can land on a form the page is replacing, and is then lost."""
    before = page.evaluate(_COUNTS)
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        action()
        try:
            page.wait_for_function(_STARTED, arg=before, polling=50, timeout=retry_s * 1000)
            break
        except PlaywrightTimeoutError:
            assert time.monotonic() < deadline, f"no run began in {WAIT_MS // 1000} s"
    settle(page)


def download(page: Page, button: Locator, retry_s: float = 20.0) -> Download:
    """Settle, click ``button`` and return the file it downloads; clicked again when nothing
    came ``retry_s`` after it. A download button is drawn anew by each run of its fragment, and
    under the full suite's load a click can land on the one being replaced (seen once in a
    fresh clone: no download in 30 s). Downloading twice changes nothing."""
    settle(page)
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        try:
            with page.expect_download(timeout=retry_s * 1000) as got:
                button.click()
            return got.value
        except PlaywrightTimeoutError:
            assert time.monotonic() < deadline, f"no download in {WAIT_MS // 1000} s"


def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for ``condition``, read outside the page (its cookies, the server's files), looking
    again every tenth of a second; fail naming ``what`` if it does not hold within `WAIT_MS`."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen in {WAIT_MS // 1000} s"
        time.sleep(0.1)


def charts_drawn(page: Page) -> None:
    """Wait until every Plotly chart on the page is drawn and none is moving (for screenshots)."""
    page.wait_for_function(
        """() => [...document.querySelectorAll('.js-plotly-plot')].every(
            (gd) => gd._fullLayout && !gd._transitioning)""",
        polling=50,
        timeout=WAIT_MS,
    )


def login_ready(page: Page) -> None:
    """Wait until the login form can be submitted.

    The login cookie's reader (a component in a frame) reports back once loaded and starts a
    run; a form submitted just before that run is lost to it (seen on a busy machine: the form
    stayed, filled, with no message). So: the form shown, every frame loaded, the page still.
    """
    expect(page.get_by_role("textbox", name="Username")).to_be_visible()
    for frame in page.frames[1:]:
        frame.wait_for_load_state()
    settle(page)


def sign_in(page: Page, username: str, password: str) -> None:
    """Fill the login form once it can be submitted, and wait for the signed-in page."""
    login_ready(page)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Login").click()
    signed_in(page)


def signed_in(page: Page) -> None:
    """Wait for the signed-in page, the login cookie, and the runs writing it starts."""
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    settle(page)
    # The login cookie is written by a component a moment after the page shows the user.
    until(
        lambda: any(c["name"] == COOKIE_NAME for c in page.context.cookies()),
        "writing the login cookie",
    )
    # Writing the cookie may start one more script run: wait for it to finish too.
    settle(page)
