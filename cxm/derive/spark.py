"""The Spark engine: the same declarations as a load's, run by Apache Spark (PySpark).

The session is pinned so a cluster computes what DuckDB computes: the session time zone UTC
(a JVM in a daylight-saving zone read a ticket across the spring-forward night as an hour
longer), ANSI SQL on (an overflow or a bad cast fails instead of turning null), timestamps
without time zone. Raw Parquet is registered as views; every stage is persisted once (a plain
view would be recomputed by each query that reads it) and unpersisted when dropped; every
derived table is written to ``out/<table>/`` as Parquet, sorted within its partitions by its
declared order (no range shuffle), and read back from there by the tables after it.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from cxm.state.facts import transpile

#: Settings every session gets; ``spark.*`` given to spark-submit (--conf) win over the
#: ``DEFAULTS`` below, never over ``PINNED``.
PINNED = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
}
DEFAULTS = {
    "spark.driver.memory": "2g",
    "spark.sql.shuffle.partitions": "8",
    "spark.ui.enabled": "false",
    "spark.sql.adaptive.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
}


def session(master: str | None = None, app: str = "cxm derive"):
    """Return the Spark session (one per process), pinned; ``master`` any Spark master URL
    (``local[2]`` when none is given and spark-submit gave none)."""
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    given = SparkConf()  # what spark-submit (or PYSPARK_SUBMIT_ARGS) set
    builder = SparkSession.builder.appName(app)
    if master is not None:
        builder = builder.master(master)
    elif not given.contains("spark.master"):
        builder = builder.master("local[2]")
    for key, value in DEFAULTS.items():
        if not given.contains(key):
            builder = builder.config(key, value)
    for key, value in PINNED.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    for key, value in PINNED.items():  # a session made before (a test's) is pinned too
        spark.conf.set(key, value)
    spark.sparkContext.setLogLevel("ERROR")
    return spark


class Spark:
    """The `cxm.state.engine.Engine` on a Spark session, writing derived tables to ``out``."""

    name = "spark"

    def __init__(self, spark, out: Path) -> None:
        self.spark = spark
        self.out = Path(out)
        self._persisted: dict[str, object] = {}

    def register_raw(self, tables: dict[str, Path]) -> None:
        """Register each raw table's Parquet (a file or a folder of parts) as a view."""
        for name, path in tables.items():
            self.spark.read.parquet(str(path)).createOrReplaceTempView(name)

    def _sql(self, sql: str):
        return self.spark.sql(transpile(sql))

    def table(self, name: str, sql: str, *, order_by: Sequence[str] = ()) -> int:
        df = self._sql(sql)
        if order_by:
            df = df.sortWithinPartitions(*order_by)
        return self._write(name, df)

    def _write(self, name: str, df) -> int:
        folder = self.out / name
        shutil.rmtree(folder, ignore_errors=True)
        df.write.parquet(str(folder))
        back = self.spark.read.parquet(str(folder))
        back.createOrReplaceTempView(name)
        return back.count()

    def stage(self, name: str, sql: str) -> None:
        df = self._sql(sql).persist()
        df.count()  # computed once, here
        df.createOrReplaceTempView(name)
        self._persisted[name] = df

    def drop(self, name: str) -> None:
        self.spark.catalog.dropTempView(name)
        df = self._persisted.pop(name, None)
        if df is not None:
            df.unpersist()

    def frame(self, sql: str) -> pl.DataFrame:
        return pl.from_arrow(self._sql(sql).toArrow())

    def put(self, name: str, frame: pl.DataFrame, *, derived: bool = True) -> None:
        if derived:
            # Made on the driver: written as it is (the same bytes DuckDB's run writes).
            folder = self.out / name
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            frame.write_parquet(folder / "part-0.parquet")
            self.spark.read.parquet(str(folder)).createOrReplaceTempView(name)
            return
        df = self.spark.createDataFrame(frame.to_arrow()).persist()
        df.count()
        df.createOrReplaceTempView(name)
        self._persisted[name] = df

    def draw(self, column: str) -> str:
        # DuckDB-dialect text for Spark's conv(); equals `Duck.draw` value for value.
        return f"CAST(conv(substr(md5({column}), 1, 8), 16, 10) AS BIGINT)"
