"""`cxm derive` on DuckDB, and a load that takes derived tables (`cxm import --derived`)."""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import pytest

from cxm.derive import DERIVED, DeriveError, derive_dir, read_manifest
from cxm.derive.compare import differences, read_dir, read_warehouse
from cxm.pipeline import import_dir
from cxm.warehouse import store
from cxm.warehouse.importer import export_raw
from tests.conftest import TINY, TINY_TODAY


@pytest.fixture(scope="module")
def tiny_raw(tiny_warehouse_template, tmp_path_factory):
    raw = tmp_path_factory.mktemp("raw")
    export_raw(raw, path=tiny_warehouse_template)
    return raw


def test_derive_on_duckdb_writes_every_table_the_load_derived_with_a_manifest(
    tiny_raw, tiny_warehouse_template, tmp_path
):
    manifest = derive_dir("duckdb", tiny_raw, tmp_path / "out")
    assert list(manifest["tables"]) == list(DERIVED)
    # As of the tiny company's last event (S01's login on 2026-03-02), as the load's.
    assert manifest["as_of"] == "2026-03-02" and manifest["engine"] == "duckdb"
    assert manifest["tables"]["fact_sellers"]["rows"] == 12  # S01 to S12
    assert manifest["tables"]["seller_state"]["rows"] == 10  # S06 and S12 have left
    assert ["courses_done", "VARCHAR[]"] in manifest["tables"]["seller_state"]["columns"]
    assert read_manifest(tmp_path / "out") == manifest
    ours = read_dir(tmp_path / "out", DERIVED)
    assert differences(read_warehouse(tiny_warehouse_template, DERIVED), ours) == []


def test_derive_reads_a_raw_folder_with_tables_it_does_not_know(tiny_raw, tmp_path):
    # Tables other engineers add to the raw layout (marketing_spend, leads, ...) are
    # registered and left unread.
    raw = tmp_path / "raw"
    shutil.copytree(tiny_raw, raw)
    duckdb.sql("SELECT 'US' AS market, 10.5 AS spend").write_parquet(
        str(raw / "marketing_spend.parquet")
    )
    manifest = derive_dir("duckdb", raw, tmp_path / "out")
    assert manifest["tables"]["fact_sellers"]["rows"] == 12


def test_a_raw_folder_without_orders_is_refused_by_name(tiny_raw, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(tiny_raw, raw)
    (raw / "orders.parquet").unlink()
    with pytest.raises(DeriveError, match=r"holds no Parquet for orders .*\[missing_raw_table\]"):
        derive_dir("duckdb", raw, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_import_takes_derived_tables_and_serves_them(tiny_raw, tmp_path):
    derive_dir("duckdb", tiny_raw, tmp_path / "out")
    path = tmp_path / "cxm.duckdb"
    import_dir(TINY, path=path, today=TINY_TODAY, derived=tmp_path / "out")
    with store.open_readonly(path) as con:
        (as_of,) = con.execute("SELECT data_as_of FROM cxm_loads").fetchall()[0]
        live = con.execute("SELECT count(*) FROM seller_state").fetchall()[0][0]
    assert (as_of, live) == (dt.date(2026, 3, 2), 10)
    assert differences(read_warehouse(path, DERIVED), read_dir(tmp_path / "out", DERIVED)) == []


def test_derived_tables_of_another_as_of_date_are_refused_and_nothing_is_loaded(
    tiny_raw, tiny_warehouse, tmp_path
):
    derive_dir("duckdb", tiny_raw, tmp_path / "out", as_of=dt.date(2026, 3, 1))
    before = store.generation(tiny_warehouse)
    with pytest.raises(
        DeriveError,
        match=r"as of 2026-03-01 but the data loaded is as of "
        r"2026-03-02.*\[as_of_mismatch\]",
    ):
        import_dir(TINY, path=tiny_warehouse, today=TINY_TODAY, derived=tmp_path / "out")
    assert store.generation(tiny_warehouse) == before
