"""The heavy stage on DuckDB and on Spark: `cxm derive` stage by stage, against one GROUP BY.

For one demo company (built, or ``--warehouse``), exported to raw Parquet (not timed), each
run in a fresh process:

* **duckdb**: ``derive_dir("duckdb", ...)``; **spark**: the same on Spark in local mode
  (local[2], 2 GiB driver), its session start-up shown apart;
* **floor**: in the same process, one ``GROUP BY seller_id`` of the orders (count and sum of
  the amount) on that engine: the least any derivation that reads every order costs there;
* **cluster** (``--cluster``): a Spark standalone master and two workers (1 core, 1 GiB
  each) started on this machine, and ``cxm derive --engine spark --master spark://...`` run
  against them as a command; its tables are compared with DuckDB's.

Each stage's time comes from the load's own log lines (``load_stage``, ``fact_built``); its
peak memory is the most resident memory of the process and its children (the JVM) sampled
every 50 ms since the stage before ended. Writes between the ``derive`` markers of
docs/benchmarks.md with the load average of the machine at the time.

    uv run python benchmarks/derive.py --sellers 100000 --cluster
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- derive:start -->", "<!-- derive:end -->"

_RUN = r"""
import json, logging, os, sys, threading, time
from pathlib import Path

def rss(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0

def family(pid):
    out = [pid]
    try:
        kids = open(f"/proc/{pid}/task/{pid}/children").read().split()
    except OSError:
        kids = []
    for k in kids:
        out += family(int(k))
    return out

peak = [0]
def sample():
    while True:
        peak[0] = max(peak[0], sum(rss(p) for p in family(os.getpid())))
        time.sleep(0.05)
threading.Thread(target=sample, daemon=True).start()

stages = []
class Stages(logging.Handler):
    def emit(self, record):
        name = getattr(record, "event", None)
        if name in ("load_stage", "fact_built"):
            f = record.fields
            stage = f.get("stage") or f.get("fact")
            stages.append({"stage": stage, "kind": name, "seconds": f["duration_ms"] / 1000,
                           "rows": f.get("rows"), "peak_bytes": peak[0]})
            if name == "load_stage":
                peak[0] = 0
logging.getLogger("cxm").addHandler(Stages())
logging.getLogger("cxm").setLevel(logging.INFO)

from cxm.derive import derive_dir
engine, raw, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
t = time.perf_counter()
manifest = derive_dir(engine, raw, out)
total = time.perf_counter() - t
orders = str(raw / "orders.parquet")
if engine == "duckdb":
    import duckdb
    con = duckdb.connect()
    t = time.perf_counter()
    con.execute("SELECT seller_id, count(*), sum(amount) FROM read_parquet(?) GROUP BY seller_id",
                [orders]).fetchall()
    floor = time.perf_counter() - t
else:
    from cxm.derive.spark import session
    spark = session()
    t = time.perf_counter()
    spark.read.parquet(orders).groupBy("seller_id").agg({"amount": "sum", "*": "count"}).collect()
    floor = time.perf_counter() - t
print(json.dumps({"total": total, "floor": floor, "stages": stages,
                  "rows": {k: v["rows"] for k, v in manifest["tables"].items()}}))
"""


def _python() -> str:
    return sys.executable


def measured(*args: str) -> dict:
    """Run the derivation in a fresh process; return the JSON its last line prints."""
    run = subprocess.run(
        [_python(), "-c", _RUN, *args], capture_output=True, text=True, check=False
    )
    if run.returncode:
        raise SystemExit(run.stderr[-3000:])
    return json.loads(run.stdout.strip().splitlines()[-1])


def _spark_class() -> str:
    import pyspark

    return str(Path(pyspark.__file__).parent / "bin" / "spark-class")


def cluster_run(raw: Path, out: Path, *, port: int) -> dict:
    """Start a standalone master and two workers, run `cxm derive` against them, stop them."""
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": _python()}
    logs = out.parent / "cluster-logs"
    logs.mkdir(parents=True, exist_ok=True)
    url = f"spark://127.0.0.1:{port}"
    procs = []

    def start(name: str, *args: str) -> None:
        log = (logs / f"{name}.log").open("w")
        procs.append(subprocess.Popen([_spark_class(), *args], env=env, stdout=log, stderr=log))

    start(
        "master",
        "org.apache.spark.deploy.master.Master",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--webui-port",
        str(port + 1),
    )
    time.sleep(8)
    for i in (1, 2):
        start(
            f"worker{i}",
            "org.apache.spark.deploy.worker.Worker",
            url,
            "--cores",
            "1",
            "--memory",
            "1g",
            "--webui-port",
            str(port + 1 + i),
        )
    time.sleep(8)
    try:
        t = time.perf_counter()
        run = subprocess.run(
            [
                _python(),
                "-m",
                "cxm.cli",
                "derive",
                "--engine",
                "spark",
                "--master",
                url,
                "--raw",
                str(raw),
                "--out",
                str(out),
            ],
            env={
                **env,
                "PYSPARK_SUBMIT_ARGS": "--conf spark.executor.memory=900m "
                "--conf spark.cores.max=2 pyspark-shell",
            },
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - t
        if run.returncode:
            raise SystemExit(run.stderr[-3000:])
        workers = [
            line
            for f in logs.glob("worker*.log")
            for line in f.read_text().splitlines()
            if "Asked to launch executor" in line
        ]
        return {"seconds": seconds, "executors_launched": len(workers), "stdout": run.stdout}
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait(timeout=60)


def _gib(b: float) -> str:
    return f"{b / 2**30:.2f}"


def table(results: dict, sellers: int, orders: int, load: str) -> str:
    lines = [
        f"{sellers:,} sellers ({orders:,} orders), {platform.machine()}, "
        f"{os.cpu_count()} cores, load average {load} at the start"
        + (
            " (a shared machine: other engineers' work ran at the same time)."
            if float(load.split(" / ")[0]) > 1.5
            else " (a quiet machine)."
        ),
        "",
        "| engine | stage | seconds | x floor | peak GiB (process + JVM) | rows |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for engine, r in results.items():
        floor = r["floor"]
        lines.append(f"| {engine} | one GROUP BY of the orders (floor) | {floor:.2f} | 1.0 | | |")
        for s in r["stages"]:
            if s["kind"] != "load_stage":
                continue
            lines.append(
                f"| {engine} | {s['stage']} | {s['seconds']:.2f} | "
                f"{s['seconds'] / floor:.1f} | {_gib(s['peak_bytes'])} | "
                f"{s['rows'] if s['rows'] is not None else ''} |"
            )
        lines.append(
            f"| {engine} | **all, start to manifest** | {r['total']:.2f} | "
            f"{r['total'] / floor:.1f} | | |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sellers", type=int, default=100_000)
    parser.add_argument("--warehouse", type=Path, help="an existing demo warehouse to use")
    parser.add_argument("--cluster", action="store_true", help="also the standalone cluster")
    parser.add_argument("--port", type=int, default=7621, help="the master's port (+1..3 UIs)")
    parser.add_argument("--keep", type=Path, help="keep the raw and derived files here")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from cxm.derive import DERIVED
    from cxm.derive.compare import differences, read_dir, read_warehouse
    from cxm.pipeline import build_demo
    from cxm.warehouse.demo import DemoSpec
    from cxm.warehouse.importer import export_raw

    work = args.keep or Path(tempfile.mkdtemp(prefix="cxm-derive-"))
    work.mkdir(parents=True, exist_ok=True)
    warehouse = args.warehouse or work / "cxm.duckdb"
    if args.warehouse is None:
        build_demo(DemoSpec(sellers=args.sellers, seed=7), warehouse)
    raw = work / "raw"
    shutil.rmtree(raw, ignore_errors=True)
    export_raw(raw, path=warehouse)
    import duckdb

    orders = duckdb.sql(f"SELECT count(*) FROM '{raw / 'orders.parquet'}'").fetchall()[0][0]
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    results = {}
    for engine in ("duckdb", "spark"):
        results[engine] = measured(engine, str(raw), str(work / engine))
        print(engine, json.dumps(results[engine]["stages"][-1]), flush=True)
    tables = list(DERIVED)
    same = differences(read_dir(work / "duckdb", tables), read_dir(work / "spark", tables))
    loaded = differences(read_warehouse(warehouse, tables), read_dir(work / "spark", tables))
    text = table(results, args.sellers, orders, load)
    text += (
        f"\n\nSpark's tables against DuckDB's: {'equal' if not same else same}; against what "
        f"the demo build derived into the warehouse: {'equal' if not loaded else loaded}."
    )
    if args.cluster:
        c = cluster_run(raw, work / "cluster", port=args.port)
        diff = differences(read_dir(work / "duckdb", tables), read_dir(work / "cluster", tables))
        text += (
            f"\n\nStandalone cluster (a master and two workers of 1 core and 1 GiB on this "
            f"machine, `cxm derive --engine spark --master spark://127.0.0.1:{args.port}`): "
            f"{c['seconds']:.1f} s as a command, JVM start-up included; executors launched: "
            f"{c['executors_launched']}; its tables against DuckDB's: "
            f"{'equal' if not diff else diff}."
        )
    print(text)
    write(text, args.sellers)


def write(text: str, sellers: int) -> None:
    """Put ``text`` in docs/benchmarks.md as the derive section's part for ``sellers``,
    replacing an earlier run of that size and keeping the other sizes."""
    doc = DOC.read_text(encoding="utf-8")
    if START not in doc:
        return
    start, end = f"<!-- derive-{sellers}:start -->", f"<!-- derive-{sellers}:end -->"
    part = f"{start}\n{text}\n{end}"
    if start in doc:
        doc = re.sub(f"{re.escape(start)}.*?{re.escape(end)}", lambda _: part, doc, flags=re.S)
    else:
        doc = doc.replace(END, f"{part}\n{END}")
    DOC.write_text(doc, encoding="utf-8")


if __name__ == "__main__":
    main()
