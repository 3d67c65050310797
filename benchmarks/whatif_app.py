"""Time the What-if page in Chromium: a slider release to the comparison redrawn.

On a demo company warehouse (``--warehouse``; build one with ``cxm demo --sellers 1000000``):
start the app, sign in as the strategist, open the What-if page (the field is prepared and
cached then, once per load), and move the customer-retention slider one step at a time with
the keyboard, alternating up and down. Each move is timed from the key press (the slider's
value is committed on it, as on a mouse release) until the page has run and nothing on it is
stale any more, with the "First action changes" number checked to have been redrawn: every
other move in the page itself (the target's figure), the others as the test driver sees them
by asking the page every 5 ms (which takes CPU from the page on two shared cores). In the
same run and on the same warehouse, the library alone (rank + compare for the same weights)
is timed, so the page's own overhead (Streamlit, Plotly, the browser) reads off the difference.

Each is measured quiet and again with a memory-bound neighbour on the last core
(`benchmarks/machine.py`). Target (issue 21): under 300 ms median at 1,000,000 sellers, in
both conditions. Writes the "What-if page in Chromium"
section of docs/benchmarks.md (``--no-write`` only prints).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import machine  # noqa: E402  (bandwidth, load, the neighbour)
from build import measured, write  # noqa: E402

START, END = "<!-- whatif-app:start -->", "<!-- whatif-app:end -->"

#: Moves timed per condition and way of timing: with a neighbour one slow move shifted the
#: median of 9 by 80 ms.
MOVES = 25

_PAGE = """
import json, sys, time
from pathlib import Path
from playwright.sync_api import sync_playwright, expect
from tests.browser.conftest import (
    CHROMIUM, CHROMIUM_ARGS, RUNS_FINISHED, _serve, settle, sign_in, watch_runs)

warehouse, work, moves = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
DONE = '''() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app.getAttribute("data-test-script-state") === "notRunning"
        && !document.querySelector('[data-stale="true"]');
}'''
# In the page: on the next key press (once armed), note the time and the runs finished; settle
# a promise when the run that press started has finished and nothing is stale (seen by a
# MutationObserver on the two attributes that say so, and checked every 50 ms besides), with
# [detected, drawn] ms from the key press: drawn is after the next frame.
LISTEN = '''() => document.addEventListener("keydown", () => {
    if (!window.__cxmArmed) return;
    window.__cxmArmed = false;
    const t0 = performance.now(), before = window.__cxmWs.finished;
    const app = document.querySelector('[data-testid="stApp"]');
    window.__cxmDrawn = new Promise((resolve) => {
        let over = false, watch, every;
        const done = () => window.__cxmWs.finished > before && (DRAWN)();
        const finish = () => {
            if (over || !done()) return;
            over = true; watch.disconnect(); clearInterval(every);
            const t1 = performance.now();
            requestAnimationFrame(() => setTimeout(
                () => resolve([t1 - t0, performance.now() - t0])));
        };
        watch = new MutationObserver(finish);
        watch.observe(app, {attributes: true, subtree: true,
                            attributeFilter: ["data-test-script-state", "data-stale"]});
        every = setInterval(finish, 50);
    });
}, true)'''.replace("DRAWN", DONE)  # the same test of "drawn" as the driver's
server = _serve(warehouse, work)
url = next(server)
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": 1440, "height": 1400})
    watch_runs(page)
    page.goto(url)
    sign_in(page, "strategist", "strategist-demo-2026")
    t = time.perf_counter()
    page.goto(url + "/what-if")
    expect(page.get_by_role("heading", name="What-if: KPI priorities")).to_be_visible(
        timeout=600_000)
    changes = page.locator('[data-testid="stMetric"]', has_text="First action changes").locator(
        '[data-testid="stMetricValue"]')
    expect(changes).to_be_visible(timeout=600_000)
    settle(page, quiet_ms=0)
    first_open = time.perf_counter() - t
    page.evaluate(LISTEN)
    thumb = page.get_by_role("slider", name="Customer retention")
    thumb.focus()
    drawn, detected, polled, values = [], [], [], []
    for i in range(2 * moves):
        shown = changes.inner_text()
        key = "ArrowRight" if i % 2 == 0 else "ArrowLeft"
        if i % 2 == 0:  # timed in the page
            page.evaluate("() => { window.__cxmArmed = true; }")
            thumb.press(key)
            seen, painted = page.evaluate("() => window.__cxmDrawn")
            detected.append(seen / 1000)
            drawn.append(painted / 1000)
        else:  # timed by this driver, which asks the page every 5 ms
            before = page.evaluate(RUNS_FINISHED)
            t = time.perf_counter()
            thumb.press(key)
            # The run this move started, finished (a short one may never show it running).
            page.wait_for_function(f"() => ({RUNS_FINISHED})() > {before}", polling=5,
                                   timeout=60_000)
            page.wait_for_function(DONE, polling=5, timeout=60_000)
            polled.append(time.perf_counter() - t)
        values.append((shown, changes.inner_text()))
        settle(page)
    browser.close()
server.close()
print(json.dumps({"first_open": first_open, "moves": drawn, "detected": detected,
                  "polled": polled, "values": values}))
"""

_LIBRARY = """
import json, statistics, sys, time
from cxm.config import load_config
from cxm.warehouse import store
from cxm.warehouse.scoped import Scoped
from cxm.whatif.compare import compare, load_field, rank
from cxm.whatif.weights import Weights

with store.open_readonly(sys.argv[1]) as con:
    field = load_field(Scoped.everywhere(con), load_config())
base = field.baseline()
compare(field, rank(field, Weights.baseline(field.catalog)))  # warm: compile or load kernels
published = Weights.baseline(field.catalog).as_dict()
times = []
for i in range(int(sys.argv[2])):
    w = Weights.of(published | {"retention": published["retention"] + 0.25 * ((i + 1) % 2)})
    t = time.perf_counter()
    compare(field, rank(field, w))
    times.append(time.perf_counter() - t)
print(json.dumps({"sellers": field.size, "library": times}))
"""


TARGET_MS = 300


def render(results: list[dict]) -> str:
    r0 = results[0]
    rows = []
    for r in results:
        page_ms = statistics.median(r["moves"]) * 1000
        lib_ms = statistics.median(r["library"]) * 1000
        rows.append(
            f"| {r['sellers']:,} | {machine.cell(r)} | **{page_ms:,.0f}** | "
            f"{max(r['moves']) * 1000:,.0f} | {statistics.median(r['detected']) * 1000:,.0f} | "
            f"{statistics.median(r['polled']) * 1000:,.0f} | {lib_ms:,.1f} | "
            f"{r['first_open']:.1f} | {'**yes**' if page_ms < TARGET_MS else 'no'} |"
        )
    return "\n".join(
        [
            START,
            "## What-if page in Chromium: slider release to comparison redrawn "
            "(`benchmarks/whatif_app.py`)",
            "",
            f"Measured {r0['when']}, Debian's Chromium through Playwright, on the demo company "
            f"with {r0['sellers']:,} live sellers (`cxm demo --sellers {r0['demo']:,}`). "
            f"{machine.describe()} The customer-retention slider is moved one step at a time "
            f"with the keyboard, {2 * len(r0['moves'])} times, alternating up and down; each "
            "move is timed from the key press (the value is committed on it, as on a mouse "
            'release) until the page has run and nothing on it is stale, and the "First '
            'action changes" number is checked to have changed. Every other move is timed in '
            "the page itself: from the key press event to the frame after the run that press "
            "started has finished and nothing is stale (a MutationObserver on the two attributes "
            "that say so). The moves between are timed as the test driver sees them: from "
            "before it sends the key until it has seen the same state, asking the page every "
            "5 ms over the DevTools protocol, which on two shared cores takes CPU from the page "
            "it times. Target (issue 21): under "
            f"{TARGET_MS} ms median at 1,000,000 sellers, in both conditions, timed in the page.",
            "",
            "| live sellers | measured | key press to redrawn, in the page, median ms | "
            "slowest ms | the same without the frame, median ms | seen by the "
            "driver (polling every 5 ms), median ms | library alone (rank + compare), median "
            "ms | first open of the page s | target met |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---|",
            *rows,
            "",
            "*First open* is signing in already done, opening the page until drawn: the seller "
            "state read, eligibility and needs prepared and the baseline ranked, once per data "
            "load and scope (then cached). The difference between the page and the library "
            "columns is Streamlit re-running the page's fragments, Plotly and the browser "
            "drawing the charts and tables.",
            "",
            END,
        ]
    )


def redrawn(values: list[list[str]]) -> None:
    """Stop unless every move changed the "First action changes" number (a move timed
    without a redraw would time nothing)."""
    same = [i for i, (before, after) in enumerate(values) if before == after]
    if same:
        raise SystemExit(f"moves {same} did not change 'First action changes': not timed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--demo-sellers", type=int, default=1_000_000)
    parser.add_argument(
        "--conditions", nargs="+", choices=machine.CONDITIONS, default=list(machine.CONDITIONS)
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    import datetime as dt

    def once() -> dict:
        with tempfile.TemporaryDirectory() as work:
            lib = measured(_LIBRARY, str(args.warehouse), str(MOVES))
            page = measured(_PAGE, str(args.warehouse), work, str(MOVES))
        redrawn(page["values"])
        return {**lib, **page, "demo": args.demo_sellers, "when": dt.date.today().isoformat()}

    results = []
    for name in args.conditions:
        results.append(machine.measure_in(name, once))
        print(json.dumps(results[-1]), flush=True)
    text = render(results)
    print(text)
    if not args.no_write:
        write(text, START, END)


if __name__ == "__main__":
    main()
