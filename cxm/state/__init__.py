"""Per-seller facts (and, later, per-seller state) derived from the warehouse once per load.

`build_facts` runs every declaration of `facts.FACTS` inside the load's temporary file, so the
facts are swapped in atomically with the data they come from. The declarations are engine
neutral (see `facts.spark_sql`); DuckDB runs them here.
"""

from __future__ import annotations

import datetime as dt
import logging

import duckdb
import polars as pl

from cxm.config import CompanyConfig
from cxm.logs import timed
from cxm.settings import settings
from cxm.state.facts import FACTS, Fact, spark_sql
from cxm.state.seller_state import FIELDS, SELLER_STATE, StateField

log = logging.getLogger(__name__)

__all__ = [
    "FACTS",
    "FIELDS",
    "SELLER_STATE",
    "Fact",
    "StateField",
    "build_facts",
    "build_state",
    "config_tables",
    "spark_sql",
]


def config_tables(con: duckdb.DuckDBPyConnection, cfg: CompanyConfig) -> None:
    """Write the lookups the facts read from the company configuration (``dim_ranks``)."""
    ranks = pl.DataFrame(
        {"rank": list(cfg.ranks), "rank_index": list(range(len(cfg.ranks)))},
        schema={"rank": pl.String, "rank_index": pl.Int32},
    )
    con.register("src_ranks", ranks)
    try:
        con.execute("CREATE OR REPLACE TABLE dim_ranks AS SELECT * FROM src_ranks")
    finally:
        con.unregister("src_ranks")


def build_facts(con: duckdb.DuckDBPyConnection, cfg: CompanyConfig) -> dict[str, int]:
    """(Re)build every fact table through ``con``; return the row count of each.

    Runs inside a load, on the new warehouse file before it is swapped in.
    """
    config_tables(con, cfg)
    # CXM_FACTS_MEMORY_LIMIT (the budget is 6 GiB in all).
    con.execute("SET memory_limit = ?", [settings().facts_memory_limit])
    return {fact.name: _run(con, fact) for fact in FACTS}


def build_state(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> int:
    """(Re)build ``seller_state`` as of ``as_of`` through ``con``; return its row count.

    Runs inside a load after the facts and predicted customer value (which it reads).
    """
    con.execute("CREATE OR REPLACE TABLE dim_as_of AS SELECT CAST(? AS DATE) AS as_of", [as_of])
    con.execute("SET memory_limit = ?", [settings().facts_memory_limit])
    return _run(con, SELLER_STATE)


def _run(con: duckdb.DuckDBPyConnection, fact: Fact) -> int:
    # Fact names and texts are declarations in this package, never user input.
    with timed(log, "fact_built", fact=fact.name) as built:
        for name, sql in fact.stages:
            with timed(log, "fact_stage", level=logging.DEBUG, fact=fact.name, stage=name):
                con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")
        con.execute(f"CREATE OR REPLACE TABLE {fact.name} AS {fact.sql}")
        for name, _ in fact.stages:
            con.execute(f"DROP TABLE {name}")
        built["rows"] = rows = con.execute(f"SELECT count(*) FROM {fact.name}").fetchall()[0][0]
    return rows
