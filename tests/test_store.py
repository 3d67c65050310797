"""The warehouse file is replaced atomically: readers see all of the old or all of the new."""

from __future__ import annotations

import fcntl
import hashlib

import duckdb
import pytest

from cxm.errors import WarehouseBusy, WarehouseMissing
from cxm.warehouse import store
from cxm.warehouse.demo import DemoSpec, build_demo


def test_an_open_reader_keeps_the_old_data_while_a_rebuild_swaps_in_the_new(tmp_path):
    path = build_demo(DemoSpec(sellers=200, seed=1), tmp_path / "cxm.duckdb")
    reader = duckdb.connect(str(path), read_only=True)
    before = reader.execute("SELECT count(*) FROM sellers").fetchall()[0][0]
    generation = store.generation(path)
    build_demo(DemoSpec(sellers=300, seed=1), path)
    assert reader.execute("SELECT count(*) FROM sellers").fetchall()[0][0] == before == 200
    assert store.generation(path) != generation
    with duckdb.connect(":memory:") as fresh:
        fresh.execute("ATTACH ? AS w (READ_ONLY)", [str(path)])
        assert fresh.execute("SELECT count(*) FROM w.sellers").fetchall()[0][0] == 300
    reader.close()


def test_a_failing_build_leaves_the_file_and_the_folder_as_they_were(tmp_path):
    path = build_demo(DemoSpec(sellers=200, seed=1), tmp_path / "cxm.duckdb")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()

    def fill(con):
        con.execute("INSERT INTO kpi_targets VALUES ('2026-Q1', 'x', NULL, 1)")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        store.rebuild(
            path,
            fill,
            kind="import",
            source="test",
            tables=["kpi_targets"],
            start_from_current=True,
        )
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cxm.duckdb", "cxm.duckdb.lock"]


def test_opening_a_missing_warehouse_says_how_to_make_one(tmp_path):
    with (
        pytest.raises(WarehouseMissing, match="cxm demo"),
        store.open_readonly(tmp_path / "none.duckdb"),
    ):
        pass


def test_a_second_load_while_one_is_writing_is_refused_and_changes_nothing(tmp_path):
    path = build_demo(DemoSpec(sellers=200, seed=1), tmp_path / "cxm.duckdb")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with open(f"{path}.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a running `cxm import` would
        with pytest.raises(WarehouseBusy, match="Another build or import is writing"):
            build_demo(DemoSpec(sellers=300, seed=1), path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    build_demo(DemoSpec(sellers=300, seed=1), path)  # free again once the first has finished
