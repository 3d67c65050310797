"""Per-seller facts and the seller state, derived from the warehouse once per load.

`build_facts` runs every declaration of `facts.FACTS` inside the load's temporary file, so the
facts are swapped in atomically with the data they come from. The declarations are engine
neutral (see `facts.spark_sql`): `run_facts` and `run_state` take any `engine.Engine`; DuckDB
runs them in a load, `cxm derive --engine spark` on Apache Spark.
"""

from __future__ import annotations

import datetime as dt
import logging

import duckdb
import polars as pl

from cxm.config import CompanyConfig
from cxm.logs import timed
from cxm.settings import settings
from cxm.state.engine import Duck, Engine
from cxm.state.facts import FACTS, Fact, spark_sql
from cxm.state.seller_state import FIELDS, SELLER_STATE, StateField

log = logging.getLogger(__name__)

__all__ = [
    "FACTS",
    "FIELDS",
    "SELLER_STATE",
    "Duck",
    "Engine",
    "Fact",
    "StateField",
    "build_facts",
    "build_state",
    "config_tables",
    "put_as_of",
    "run_facts",
    "run_state",
    "spark_sql",
]


def config_tables(engine: Engine, cfg: CompanyConfig) -> None:
    """Write the lookups the facts read from the company configuration (``dim_ranks``)."""
    ranks = pl.DataFrame(
        {"rank": list(cfg.ranks), "rank_index": list(range(len(cfg.ranks)))},
        schema={"rank": pl.String, "rank_index": pl.Int32},
    )
    engine.put("dim_ranks", ranks)


def put_as_of(engine: Engine, as_of: dt.date | None) -> None:
    """Write ``dim_as_of`` (one row: the data's as-of date), which the state and value read."""
    engine.put("dim_as_of", pl.DataFrame({"as_of": [as_of]}, schema={"as_of": pl.Date}))


def build_facts(con: duckdb.DuckDBPyConnection, cfg: CompanyConfig) -> dict[str, int]:
    """(Re)build every fact table through ``con``; return the row count of each.

    Runs inside a load, on the new warehouse file before it is swapped in.
    """
    # CXM_FACTS_MEMORY_LIMIT (3GB: a 1,000,000-seller import peaks under 4 GiB).
    con.execute("SET memory_limit = ?", [settings().facts_memory_limit])
    return run_facts(Duck(con), cfg)


def run_facts(engine: Engine, cfg: CompanyConfig) -> dict[str, int]:
    """(Re)build every fact table on ``engine``; return the row count of each."""
    config_tables(engine, cfg)
    return {fact.name: _run(engine, fact) for fact in FACTS}


def build_state(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> int:
    """(Re)build ``seller_state`` as of ``as_of`` through ``con``; return its row count.

    Runs inside a load after the facts and predicted customer value (which it reads).
    """
    con.execute("SET memory_limit = ?", [settings().facts_memory_limit])
    return run_state(Duck(con), as_of)


def run_state(engine: Engine, as_of: dt.date) -> int:
    """(Re)build ``seller_state`` as of ``as_of`` on ``engine``; return its row count."""
    put_as_of(engine, as_of)
    return _run(engine, SELLER_STATE)


def _run(engine: Engine, fact: Fact) -> int:
    # Fact names and texts are declarations in this package, never user input.
    with timed(log, "fact_built", fact=fact.name) as built:
        for name, sql in fact.stages:
            with timed(log, "fact_stage", level=logging.DEBUG, fact=fact.name, stage=name):
                engine.stage(name, sql)
        built["rows"] = rows = engine.table(fact.name, fact.sql, order_by=fact.order_by)
        for name, _ in fact.stages:
            engine.drop(name)
    return rows
