"""Time the segment report exports and the board pack on the demo company.

For each size, on a warehouse built by ``cxm.pipeline.build_demo`` (facts included), in fresh
processes:

* **report**: every registry KPI by rank x market x language for one quarter
  (`cxm.reports.segment_table`), then written to CSV, XLSX and Parquet with `cxm.reports.write`
  (stamp, byte-order mark, About sheet, metadata, atomic rename). Baseline: Polars writing the
  same frame to the same three formats with nothing else (the floor of any export).
* **board pack**: `cxm.ui.board_pack.board_pack` for the same quarter, every market, from a
  cold process (kaleido's Chromium started inside the timing).

Writes the results between the ``reports`` markers of docs/benchmarks.md.

    uv run python benchmarks/reports.py                    # 1,000,000 sellers
    uv run python benchmarks/reports.py --sizes 20000      # a quick look
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from build import measured, run  # noqa: E402  (the same runner and docs/benchmarks.md writer)

ROOT = Path(__file__).parents[1]
START, END = "<!-- reports:start -->", "<!-- reports:end -->"

_BUILD = """
import sys
from cxm.pipeline import build_demo
from cxm.warehouse.demo import DemoSpec
build_demo(DemoSpec(sellers=int(sys.argv[1]), seed=7), sys.argv[2])
"""

_EXPORT = """
import json, resource, sys, time
from pathlib import Path
import duckdb
from cxm.config import load_config
from cxm.metrics import KPIS
from cxm.reports import segment_table, write
from cxm.segments import Period, SegmentFilter
from cxm.warehouse.scoped import Scoped
con = duckdb.connect(sys.argv[1], read_only=True)
work = Path(sys.argv[2])
t = time.perf_counter()
table = segment_table(Scoped.everywhere(con), [k.id for k in KPIS],
                      by=["rank", "market", "language"],
                      where=SegmentFilter(period=Period.parse("2026-Q3")),
                      cfg=load_config(), generated_by="benchmark")
out = {"table_seconds": time.perf_counter() - t, "rows": table.frame.height}
for fmt in ("csv", "parquet", "xlsx"):
    t = time.perf_counter()
    path = write(table, fmt, work / f"report.{fmt}")
    out[fmt] = time.perf_counter() - t
    out[fmt + "_bytes"] = path.stat().st_size
    t = time.perf_counter()
    getattr(table.frame, {"csv": "write_csv", "parquet": "write_parquet",
                          "xlsx": "write_excel"}[fmt])(work / f"floor.{fmt}")
    out[fmt + "_floor"] = time.perf_counter() - t
out["peak_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(out))
"""

_PACK = """
import json, resource, sys, time
t = time.perf_counter()
import duckdb
from cxm.access import Role, User
from cxm.config import load_config
from cxm.segments import Period, SegmentFilter
from cxm.ui.board_pack import board_pack
from cxm.warehouse.scoped import Scoped
con = duckdb.connect(sys.argv[1], read_only=True)
user = User(username="b", name="Benchmark", email="b@x.example", role=Role.EXECUTIVE)
pdf = board_pack(Scoped.everywhere(con), user=user,
                 where=SegmentFilter(period=Period.parse("2026-Q3")), cfg=load_config())
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "bytes": len(pdf),
                  "peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def measure(sellers: int, work: Path) -> dict:
    """Return every timing for one size of the demo company."""
    warehouse = work / "cxm.duckdb"
    subprocess.run(
        [sys.executable, "-c", _BUILD, str(sellers), str(warehouse)], cwd=ROOT, check=True
    )
    return {
        "sellers": sellers,
        "export": measured(_EXPORT, str(warehouse), str(work)),
        "pack": measured(_PACK, str(warehouse)),
    }


def render(results: list[dict]) -> str:
    """Return the markdown section for the results."""
    lines = [
        START,
        "## Segment report exports and the board pack (`benchmarks/reports.py`)",
        "",
        f"Measured {dt.date.today()} on {os.cpu_count()} cores, Python "
        f"{platform.python_version()}. Demo company seed 7; every KPI by rank x market x "
        "language for 2026-Q3, every market. Targets (issue 13), at 1,000,000 sellers: CSV and "
        "Parquet under 3 s, XLSX under 10 s, the board pack under 15 s. *Floor*: Polars writing "
        "the same frame with nothing else.",
        "",
        "| sellers | rows | report s | CSV s (floor) | Parquet s (floor) | XLSX s (floor) | "
        "peak GiB | board pack s (PDF bytes) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        e, p = r["export"], r["pack"]
        lines.append(
            f"| {r['sellers']:,} | {e['rows']:,} | {e['table_seconds']:.2f} | "
            f"{e['csv']:.2f} ({e['csv_floor']:.2f}) | {e['parquet']:.2f} "
            f"({e['parquet_floor']:.2f}) | {e['xlsx']:.2f} ({e['xlsx_floor']:.2f}) | "
            f"{e['peak_bytes'] / 2**30:.2f} | {p['seconds']:.1f} ({p['bytes']:,}) |"
        )
    lines += [
        "",
        "The export times are for writing the table (it is built once, in *report s*); a user "
        "waits for both. The board pack is timed from a cold process: imports, the reports, "
        "kaleido starting Chromium, drawing and laying out.",
        "",
        END,
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    run(measure, render, START, END, [1_000_000], __doc__)
