"""The engine a load's derived tables are computed on: DuckDB here, Apache Spark elsewhere.

Every derived table is declared once, in DuckDB's SQL dialect restricted to what transpiles
to Spark (`cxm.state.facts`, `cxm.state.portable`). An `Engine` runs those declarations and
moves small frames between the engine and the driver (the Python process): the customer
value fits run on the driver, on a few distinct rows the engine aggregated. `Duck` is the
engine of every load; `cxm.derive.spark.Spark` runs the same declarations on a Spark cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import duckdb
import polars as pl


class Engine(Protocol):
    """What a derivation needs from an engine (names are declarations, never user text)."""

    name: str

    def table(self, name: str, sql: str, *, order_by: Sequence[str] = ()) -> int:
        """Create derived table ``name`` from ``sql`` (DuckDB dialect), stored in
        ``order_by`` order as the engine does that; return its row count."""
        ...

    def stage(self, name: str, sql: str) -> None:
        """Create the intermediate ``name`` from ``sql``, computed once, until `drop`."""
        ...

    def drop(self, name: str) -> None:
        """Drop the intermediate ``name``."""
        ...

    def frame(self, sql: str) -> pl.DataFrame:
        """Run ``sql`` and return its result on the driver."""
        ...

    def put(self, name: str, frame: pl.DataFrame, *, derived: bool = True) -> None:
        """Store a frame made on the driver as table ``name`` (a derived table, or an
        intermediate the engine reads next when ``derived`` is False)."""
        ...

    def draw(self, column: str) -> str:
        """Return SQL (DuckDB dialect, run by this engine) for a number in [0, 2^32) drawn
        from ``column``'s text: the first 32 bits of its MD5, the same on every engine."""
        ...


class Duck:
    """The DuckDB engine: tables in the connection's database (the load's new file)."""

    name = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def table(self, name: str, sql: str, *, order_by: Sequence[str] = ()) -> int:
        # The physical order is DuckDB's zone maps' (docs/architecture.md, Keeping it fast).
        order = f" ORDER BY {', '.join(order_by)}" if order_by else ""
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM ({sql}){order}")
        return self.con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]

    def stage(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def drop(self, name: str) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS {name}")

    def frame(self, sql: str) -> pl.DataFrame:
        return self.con.sql(sql).pl()

    def put(self, name: str, frame: pl.DataFrame, *, derived: bool = True) -> None:
        self.con.register("src_frame", frame)
        try:
            kind = "TABLE" if derived else "TEMP TABLE"
            self.con.execute(f"CREATE OR REPLACE {kind} {name} AS SELECT * FROM src_frame")
        finally:
            self.con.unregister("src_frame")

    def draw(self, column: str) -> str:
        return f"CAST(('0x' || substr(md5({column}), 1, 8)) AS BIGINT)"
