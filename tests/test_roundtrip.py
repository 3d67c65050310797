"""Export then import gives back exactly the warehouse that was exported."""

from __future__ import annotations

import duckdb
import pytest

from cxm.pipeline import import_dir
from cxm.warehouse.importer import export_raw
from cxm.warehouse.schema import TABLES


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_export_raw_then_import_round_trips_every_row_exactly(fmt, small_demo_warehouse, tmp_path):
    files = export_raw(tmp_path / "raw", path=small_demo_warehouse, fmt=fmt)
    assert sorted(f.name for f in files.values()) == sorted(f"{t}.{fmt}" for t in TABLES)
    copy = tmp_path / "copy.duckdb"
    result = import_dir(tmp_path / "raw", path=copy)
    with duckdb.connect() as con:
        con.execute("ATTACH ? AS a (READ_ONLY)", [str(small_demo_warehouse)])
        con.execute("ATTACH ? AS b (READ_ONLY)", [str(copy)])
        for table in TABLES:
            n = con.execute(f"SELECT count(*) FROM a.{table}").fetchall()[0][0]
            assert result.rows[table] == n
            missing = con.execute(
                f"SELECT count(*) FROM (FROM a.{table} EXCEPT ALL FROM b.{table})"
            ).fetchall()[0][0]
            added = con.execute(
                f"SELECT count(*) FROM (FROM b.{table} EXCEPT ALL FROM a.{table})"
            ).fetchall()[0][0]
            assert (table, missing, added) == (table, 0, 0)
        # The comparison would catch a change: orders hold real cents and microseconds.
        assert (
            con.execute("SELECT count(*) FROM b.orders WHERE amount % 1 <> 0").fetchall()[0][0] > 0
        )
