"""Time and peak memory of building the demo company and of importing it, against DuckDB's
own bulk load of the same data.

For each size, in a fresh process each (so peak memory is that step's alone):

* **build**: ``build_demo`` end to end: generate with numpy, load into DuckDB, swap the file in.
* **import**: ``import_dir`` of the same company exported to Parquet (``export_raw``, not
  timed): read, validate every column, key, reference and the sponsor tree, load, swap in.
* **import without the derived stage**: the same ``import_dir`` with nothing derived (no
  seller facts, customer value, seller state or KPI cube): what reading, checking and loading
  the files cost on their own, against the same baseline.
* **baseline**: DuckDB loading the very same Parquet files into a new database
  (``CREATE TABLE ... AS SELECT * FROM read_parquet``): the cost of writing that much data,
  with nothing generated and nothing checked.

Writes the results between the ``build`` markers of docs/benchmarks.md.

    uv run python benchmarks/build.py                      # 100,000 to 1,100,000 sellers
    uv run python benchmarks/build.py --sizes 20000        # a quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- build:start -->", "<!-- build:end -->"

_BUILD = """
import json, resource, sys, time
from cxm.pipeline import build_demo
from cxm.warehouse.demo import DemoSpec
from cxm.warehouse import store
t = time.perf_counter()
path = build_demo(DemoSpec(sellers=int(sys.argv[1]), seed=7), sys.argv[2])
seconds = time.perf_counter() - t
with store.open_readonly(path) as con:
    counts = store.table_counts(con)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak_bytes": peak, "counts": counts}))
"""

_IMPORT = """
import json, resource, sys, time
from cxm.pipeline import import_dir
t = time.perf_counter()
import_dir(sys.argv[1], path=sys.argv[2])
seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak_bytes": peak}))
"""

_IMPORT_OWN = """
import json, resource, sys, time
from cxm import pipeline
from cxm.warehouse import importer
t = time.perf_counter()
importer.import_dir(sys.argv[1], path=sys.argv[2], check=pipeline._check)
seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak_bytes": peak}))
"""

_BASELINE = """
import json, resource, sys, time
import duckdb
from cxm.warehouse.schema import TABLES
t = time.perf_counter()
con = duckdb.connect(sys.argv[2])
con.execute("SET preserve_insertion_order = false")
for table in TABLES:
    con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_parquet(?)",
                [f"{sys.argv[1]}/{table}.parquet"])
con.execute("CHECKPOINT")
con.close()
seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak_bytes": peak}))
"""


def measured(code: str, *args: str, env: dict | None = None) -> dict:
    """Run ``code`` in a fresh Python process and return the JSON its last line prints.

    Every benchmark measures in its own process, so one size's memory and caches never
    flatter the next; ``env`` adds variables to the process's environment.
    """
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=None if env is None else {**os.environ, **env},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(sellers: int, work: Path) -> dict:
    """Return build and baseline timings for one size."""
    built = measured(_BUILD, str(sellers), str(work / "build.duckdb"))
    from cxm.warehouse.importer import export_raw

    export_raw(work / "parquet", path=work / "build.duckdb", fmt="parquet")
    base = measured(_BASELINE, str(work / "parquet"), str(work / "baseline.duckdb"))
    imported = measured(_IMPORT, str(work / "parquet"), str(work / "import.duckdb"))
    own = measured(_IMPORT_OWN, str(work / "parquet"), str(work / "import_own.duckdb"))
    return {
        "sellers": sellers,
        "build": built,
        "import": imported,
        "import_own": own,
        "baseline": base,
    }


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f}"


def render(results: list[dict]) -> str:
    """Return the markdown section for the results."""
    import duckdb
    import numpy

    lines = [
        START,
        "## Demo company build and import (`benchmarks/build.py`)",
        "",
        f"Measured {dt.date.today()} on {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}, DuckDB {duckdb.__version__}, "
        f"numpy {numpy.__version__}. Seed 7, five years of history to 2026-10-31.",
        "Build: `cxm demo`. Import: `cxm import` of that company exported to Parquet, every "
        "check included. Baseline: DuckDB bulk-loading the same Parquet files into a new file "
        "(nothing generated, nothing checked). Import's own part: the same import with nothing "
        "derived (no facts, customer value, seller state or cube): reading, checking and "
        "loading the files alone. Targets (issue 3): 1,000,000 sellers with about 50M orders "
        "in under 3 minutes and 8 GiB; (issue 22) the import within 3x of the baseline in "
        "under 4 GiB.",
        "",
        "| sellers | orders | all rows | build s (peak GiB) | import s (peak GiB) | "
        "import's own part s (peak GiB) | baseline s (peak GiB) | build / baseline | "
        "import / baseline | own part / baseline |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        b, i, base = r["build"], r["import"], r["baseline"]
        rows = sum(b["counts"].values())
        own = r.get("import_own")  # results of older runs have none
        own_s = f"{own['seconds']:.1f} ({_gib(own['peak_bytes'])})" if own else "-"
        own_x = f"{own['seconds'] / base['seconds']:.1f}x" if own else "-"
        lines.append(
            f"| {r['sellers']:,} | {b['counts']['orders']:,} | {rows:,} | "
            f"{b['seconds']:.1f} ({_gib(b['peak_bytes'])}) | "
            f"{i['seconds']:.1f} ({_gib(i['peak_bytes'])}) | {own_s} | "
            f"{base['seconds']:.1f} ({_gib(base['peak_bytes'])}) | "
            f"{b['seconds'] / base['seconds']:.1f}x | {i['seconds'] / base['seconds']:.1f}x | "
            f"{own_x} |"
        )
    lines += ["", END]
    return "\n".join(lines)


def write(section: str, start: str = START, end: str = END) -> None:
    """Put ``section`` between its markers in docs/benchmarks.md (creating it if need be)."""
    text = (
        DOC.read_text()
        if DOC.exists()
        else "# Benchmarks\n\nEvery number here comes from a "
        "script in benchmarks/ that times our code and a baseline in the same run.\n"
    )
    if start in text:
        text = re.sub(
            re.escape(start) + ".*?" + re.escape(end), lambda _: section, text, flags=re.S
        )
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    DOC.write_text(text)


def run(
    measure, render, start: str, end: str, sizes: list[int], doc: str,
    conditions: tuple[str, ...] = ("quiet",),
) -> None:  # fmt: skip
    """Measure each size in a scratch folder under data/, print, and write the section.

    ``conditions``: under which `machine.CONDITIONS` each size is measured by default
    (``--conditions`` changes it); each result is stamped with its condition and load.
    """
    import machine

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=sizes)
    parser.add_argument(
        "--conditions", nargs="+", choices=machine.CONDITIONS, default=list(conditions)
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    results = []
    for sellers in args.sizes:
        for name in args.conditions:
            with tempfile.TemporaryDirectory(dir=ROOT / "data") as work:
                results.append(machine.measure_in(name, measure, sellers, Path(work)))
                print(json.dumps(results[-1]), flush=True)
    section = render(results)
    print(section)
    if not args.no_write:
        write(section, start, end)


if __name__ == "__main__":
    run(measure, render, START, END, [100_000, 1_000_000, 1_100_000], __doc__)
