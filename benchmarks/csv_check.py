"""Time the CSV field-count check (short rows refused) against the parse it guards.

An orders-like CSV (order id, customer, seller, time, channel, product line, amount, units,
autoship) of N rows is made in memory; then, in this process, median of 3:

* **ours**: `_check_widths` (cxm/warehouse/_files.py), the numpy pass that counts every
  record's fields outside quotes and finds rows shorter than the header;
* **baseline**: ``pl.read_csv(data, infer_schema=False)``, the parse every CSV import does
  anyway, on the same bytes.

With ``--quoted`` every 10th row holds a quoted value with a comma and a doubled quote (the
quote-parity path). Writes the results between the ``csv-check`` markers of docs/benchmarks.md.

    uv run python benchmarks/csv_check.py                  # 4.5M and 45M rows (100k, 1M sellers)
    uv run python benchmarks/csv_check.py --sizes 100000   # a quick look
"""

from __future__ import annotations

import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from build import run  # noqa: E402  (the same runner and docs/benchmarks.md writer)

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))
from cxm.warehouse._checks import Found  # noqa: E402
from cxm.warehouse._files import _check_widths  # noqa: E402

START, END = "<!-- csv-check:start -->", "<!-- csv-check:end -->"
QUOTED = "--quoted" in sys.argv
if QUOTED:
    sys.argv.remove("--quoted")


def orders_csv(rows: int) -> bytes:
    """Return an orders-like CSV of ``rows`` rows (seeded, so every run times the same bytes)."""
    rng = np.random.default_rng(7)
    line = np.array(["skin", "nutrition", "home", "cosmetics"])[rng.integers(0, 4, rows)]
    if QUOTED:
        line = np.where(np.arange(rows) % 10 == 0, 'skin, "care"', line)
    df = pl.DataFrame(
        {
            "order_id": pl.int_range(rows, eager=True).cast(pl.String).str.zfill(9),
            "customer_id": rng.integers(0, rows // 10 + 1, rows).astype(str),
            "seller_id": rng.integers(0, rows // 45 + 1, rows).astype(str),
            "ordered_at": "2026-03-02 10:15:00",
            "channel": np.array(["app", "web", "autoship"])[rng.integers(0, 3, rows)],
            "product_line": line,
            "amount": np.round(rng.gamma(2.0, 40.0, rows), 2),
            "units": rng.integers(1, 6, rows),
            "autoship": rng.integers(0, 2, rows).astype(bool),
        }
    )
    return df.write_csv().encode()


def _median(fn, times: int = 3) -> float:
    seconds = []
    for _ in range(times):
        t = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - t)
    return statistics.median(seconds)


def measure(rows: int, work: Path) -> dict:
    data = orders_csv(rows)
    width = data[: data.index(b"\n")].count(b",") + 1
    found = Found()
    ours = _median(lambda: _check_widths("orders.csv", data, width, found))
    assert not found, "the benchmark's own file has a short row"
    base = _median(lambda: pl.read_csv(data, infer_schema=False))
    return {"rows": rows, "mb": len(data) / 1e6, "ours": ours, "base": base, "quoted": QUOTED}


def render(results: list[dict]) -> str:
    lines = [
        START,
        "## CSV short-row check against the CSV parse (`benchmarks/csv_check.py`)",
        "",
        f"{platform.machine()}, {platform.python_version()}, median of 3 in one process. "
        "Ours: the numpy field count that refuses a row with fewer fields than the header; "
        "baseline: Polars parsing the same bytes, which every CSV import does anyway."
        + (" Every 10th row holds a quoted value." if results and results[0]["quoted"] else ""),
        "",
        "| rows | MB | check s (MB/s) | Polars parse s (MB/s) | check / parse |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['rows']:,} | {r['mb']:,.0f} | {r['ours']:.2f} ({r['mb'] / r['ours']:,.0f}) | "
            f"{r['base']:.2f} ({r['mb'] / r['base']:,.0f}) | {r['ours'] / r['base']:.2f} |"
        )
    return "\n".join([*lines, "", END])


if __name__ == "__main__":
    run(measure, render, START, END, [4_500_000, 45_000_000], __doc__)
