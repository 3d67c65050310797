"""Deriving a load's tables from raw Parquet, on DuckDB or on Apache Spark (`cxm derive`).

`run` is the one sequence every load follows (`cxm.pipeline` calls it on the load's DuckDB
file): the facts, the as-of date, predicted customer value, the seller state, the KPI cube.
`derive_dir` runs it over the raw tables in the layout `cxm export-raw` writes and writes each
derived table to ``out/<table>/*.parquet`` with ``manifest.json``; `load_derived` takes those
tables into a load instead of deriving them (`cxm import RAW --derived DIR`). What runs where
on Spark, and why the load takes files rather than reading them in place: docs/spark.md.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import platform
import shutil
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import duckdb

from cxm.config import CompanyConfig, load_config
from cxm.errors import CxmError
from cxm.logs import timed
from cxm.metrics import cube, value
from cxm.metrics.compute import DataRange
from cxm.settings import settings
from cxm.state import SELLER_STATE, put_as_of, run_facts, run_state
from cxm.state.engine import Duck, Engine
from cxm.state.facts import FACTS
from cxm.state.portable import check_columns
from cxm.warehouse import store
from cxm.warehouse.store import _EVENT_DATES

log = logging.getLogger(__name__)

#: Every table a load derives, in the order `run` writes them.
DERIVED: tuple[str, ...] = (
    "dim_ranks",
    *(f.name for f in FACTS),
    "dim_as_of",
    *value.TABLES,
    SELLER_STATE.name,
    cube.TABLE,
)
#: Each derived table's physical order (DuckDB's zone maps), applied when a load takes it.
ORDER_BY: dict[str, tuple[str, ...]] = {f.name: f.order_by for f in (*FACTS, SELLER_STATE)}
#: The raw tables the declarations read (others in the folder are registered and unread).
RAW_READ = (
    "sellers",
    "customers",
    "orders",
    "activities",
    "courses",
    "course_completions",
    "survey_responses",
    "tickets",
)
MANIFEST = "manifest.json"


class DeriveError(CxmError):
    """A ``cxm derive`` input or a ``--derived`` folder that cannot be used; nothing written.

    >>> str(DeriveError("raw/", "missing_raw_table", "holds no orders.parquet"))
    'raw/: holds no orders.parquet [missing_raw_table].'
    """

    def __init__(self, where: str, code: str, message: str):
        self.where, self.code = where, code
        super().__init__(f"{where}: {message} [{code}].")


def run(
    engine: Engine,
    cfg: CompanyConfig,
    as_of: dt.date | None,
    build_cube: Callable[[DataRange], int],
) -> dict[str, int]:
    """Derive every table of `DERIVED` on ``engine``; return each one's row count.

    ``build_cube`` builds the KPI cube from the facts (DuckDB's query side, `cxm.metrics.cube`).
    Each stage is one log line with its duration and rows (docs/architecture.md, Operating).
    """
    rows: dict[str, int] = {}
    with timed(log, "load_stage", stage="facts") as stage:
        rows.update(run_facts(engine, cfg))
        stage["rows"] = sum(rows.values())
    put_as_of(engine, as_of)
    # Customer value before the cube: the cube's newest month carries its KPIs.
    with timed(log, "load_stage", stage="customer_value") as stage:
        rows.update(value.build(engine, cfg, as_of))
        stage["rows"] = rows["fact_customer_value"]
    if as_of is not None:
        # After customer value: the what-if seller state reads its customers at risk.
        with timed(log, "load_stage", stage="seller_state") as stage:
            rows[SELLER_STATE.name] = stage["rows"] = run_state(engine, as_of)
    first = engine.frame("SELECT min(enrolled_on) AS first FROM sellers")["first"][0]
    if first is not None and as_of is not None:
        with timed(log, "load_stage", stage="cube") as stage:
            rows[cube.TABLE] = stage["rows"] = build_cube(DataRange(first_on=first, as_of=as_of))
    return rows


def raw_tables(raw: Path) -> dict[str, Path]:
    """Return the raw tables in ``raw``: ``<table>.parquet`` files or folders of parts."""
    found = {}
    for path in sorted(Path(raw).iterdir()):
        if path.suffix == ".parquet" or (path.is_dir() and any(path.glob("*.parquet"))):
            found[path.name.removesuffix(".parquet")] = path
    missing = [t for t in RAW_READ if t not in found]
    if missing:
        raise DeriveError(
            str(raw),
            "missing_raw_table",
            f"holds no Parquet for {', '.join(missing)} (the layout `cxm export-raw` writes: "
            "<table>.parquet)",
        )
    return found


def _glob(path: Path) -> str:
    return str(path / "*.parquet") if path.is_dir() else str(path)


def _duck_views(con: duckdb.DuckDBPyConnection, tables: dict[str, Path]) -> None:
    for name, path in tables.items():
        # Names are file names checked by raw_tables; the path goes to DuckDB as a value.
        con.read_parquet(_glob(path)).to_view(name)


def _as_of(engine: Engine) -> dt.date | None:
    # The load's rule (`store.latest_event_on`): the newest dated event.
    parts = " UNION ALL ".join(
        f"SELECT CAST(max({c}) AS DATE) AS d FROM {t}" for t, c in _EVENT_DATES
    )
    return engine.frame(f"SELECT max(d) AS as_of FROM ({parts}) e")["as_of"][0]


def derive_dir(
    engine_name: str,
    raw: str | Path,
    out: str | Path,
    *,
    as_of: dt.date | None = None,
    master: str | None = None,
    config: CompanyConfig | None = None,
) -> dict:
    """Derive every table of `DERIVED` from the raw Parquet in ``raw`` on ``engine_name``
    (``duckdb`` or ``spark``), write each to ``out/<table>/`` and ``out/manifest.json``;
    return the manifest. ``as_of`` defaults to the newest dated event, as a load's does.
    """
    cfg = config or load_config()
    raw, out = Path(raw), Path(out)
    tables = raw_tables(raw)
    out.mkdir(parents=True, exist_ok=True)
    for name in DERIVED:  # a folder of an earlier run is written afresh
        shutil.rmtree(out / name, ignore_errors=True)
    (out / MANIFEST).unlink(missing_ok=True)
    versions = {"cxm": metadata.version("cxm"), "python": platform.python_version()}
    versions["duckdb"] = duckdb.__version__
    versions["sqlglot"] = metadata.version("sqlglot")
    driver = duckdb.connect()
    # As a load's connection is (`store.tune`), with the facts' memory limit a load sets
    # (CXM_FACTS_MEMORY_LIMIT): at 1,000,000 sellers an untuned one peaked at 7.2 GiB.
    store.tune(driver)
    driver.execute("SET memory_limit = ?", [settings().facts_memory_limit])
    try:
        if engine_name == "duckdb":
            _duck_views(driver, tables)
            engine: Engine = Duck(driver)
        elif engine_name == "spark":
            from cxm.derive.spark import Spark, session

            with timed(log, "load_stage", stage="spark_session"):
                spark = session(master)
            versions["spark"] = spark.version
            engine = Spark(spark, out)
            engine.register_raw(tables)
        else:
            raise DeriveError(
                "--engine", "unknown_engine", f'"{engine_name}" is not duckdb or spark'
            )
        as_of = as_of or _as_of(engine)

        def build_cube(data: DataRange) -> int:
            if engine_name == "spark":
                # The cube is the query side's SQL (DuckDB only), read over the facts Spark
                # wrote, on the driver (docs/spark.md).
                _duck_views(driver, tables)
                _duck_views(driver, {t: out / t for t in DERIVED if (out / t).exists()})
            n = cube.build(driver, cfg, data)
            if engine_name == "spark":
                engine.put(cube.TABLE, driver.table(cube.TABLE).pl())
            return n

        rows = run(engine, cfg, as_of, build_cube)
        if engine_name == "duckdb":
            for name in DERIVED:
                if name in rows or name in ("dim_ranks", "dim_as_of"):
                    (out / name).mkdir(parents=True, exist_ok=True)
                    driver.table(name).write_parquet(str(out / name / "part-0.parquet"))
    finally:
        driver.close()
    manifest = {
        "as_of": None if as_of is None else as_of.isoformat(),
        "engine": engine_name,
        "master": master if engine_name == "spark" else None,
        "versions": versions,
        "written_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "tables": {},
    }
    reader = duckdb.connect()
    try:
        for name in DERIVED:
            if not (out / name).exists():
                continue
            rel = reader.read_parquet(_glob(out / name))
            cols = [[c, str(t)] for c, t in zip(rel.columns, rel.types, strict=True)]
            check_columns(name, cols, f"{out / name} ({engine_name})")
            n = reader.execute("SELECT count(*) FROM read_parquet(?)", [_glob(out / name)])
            manifest["tables"][name] = {"rows": n.fetchall()[0][0], "columns": cols}
    finally:
        reader.close()
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def read_manifest(folder: str | Path) -> dict:
    """Return the manifest of a folder `derive_dir` wrote."""
    path = Path(folder) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DeriveError(
            str(folder), "no_manifest", f"holds no readable {MANIFEST} (write it with cxm derive)"
        ) from exc


def load_derived(
    con: duckdb.DuckDBPyConnection, folder: str | Path, as_of: dt.date | None
) -> dict[str, int]:
    """Take the derived tables `derive_dir` wrote to ``folder`` into the load's file ``con``
    instead of deriving them; return their row counts.

    Refused (nothing taken, the load stops) unless the manifest is of the load's as-of date
    and holds every table of `DERIVED` with its declared columns and types.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    want = None if as_of is None else as_of.isoformat()
    if manifest.get("as_of") != want:
        raise DeriveError(
            str(folder),
            "as_of_mismatch",
            f"was derived as of {manifest.get('as_of')} but the data loaded is as of {want}: "
            f"derive again with --as-of {want}",
        )
    tables = manifest.get("tables", {})
    missing = [t for t in DERIVED if t not in tables and t != cube.TABLE]
    if missing:
        raise DeriveError(str(folder), "missing_derived_table", f"lacks {', '.join(missing)}")
    rows = {}
    for name in DERIVED:
        if name not in tables:
            continue
        check_columns(name, tables[name]["columns"], f"{folder / name}")
        rel = con.read_parquet(_glob(folder / name))
        order = ORDER_BY.get(name)
        if order:
            rel = rel.order(", ".join(order))
        con.execute(f"DROP TABLE IF EXISTS {name}")
        rel.create(name)
        rows[name] = con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
    return rows


def versions_of(manifest: dict) -> str:
    """Return the engine and its version as the manifest records them, in words."""
    v = manifest.get("versions", {})
    return f"{manifest.get('engine')} {v.get(manifest.get('engine'), '')}".strip()


__all__ = ["DERIVED", "DeriveError", "derive_dir", "load_derived", "read_manifest", "run"]
