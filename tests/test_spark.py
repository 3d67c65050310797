"""The heavy stage on Apache Spark, equal to DuckDB's (docs/spark.md).

One Spark session for the file (local[2], 2 GiB driver), its JVM in America/New_York, a
daylight-saving zone, so a computation that leaked the JVM's zone would move a ticket spanning
the spring-forward night by an hour. `cxm derive` runs on the raw export of the tiny company
and of the 2,000-seller demo on both engines; every derived table must be equal
(`cxm.derive.compare`), and equal to what the load itself derived into the warehouse.
"""

from __future__ import annotations

import shutil

import pytest

pyspark = pytest.importorskip("pyspark", reason="the spark extra: uv sync --extra spark")

from cxm.derive import DERIVED, derive_dir  # noqa: E402
from cxm.derive.compare import differences, read_dir, read_warehouse  # noqa: E402
from cxm.pipeline import import_dir  # noqa: E402
from cxm.warehouse import store  # noqa: E402
from cxm.warehouse.importer import export_raw  # noqa: E402

if shutil.which("java") is None:
    pytest.skip("Java 17 (openjdk-17-jre-headless, make test installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    from cxm.derive.spark import session

    new_york = "-Duser.timezone=America/New_York"
    (
        SparkSession.builder.master("local[2]")
        .config("spark.driver.extraJavaOptions", new_york)
        .config("spark.executor.extraJavaOptions", new_york)
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    s = session()
    assert s.sparkContext._jvm.java.util.TimeZone.getDefault().getID() == "America/New_York"
    yield s
    s.stop()


def _both(spark, warehouse, tmp_path):
    raw = tmp_path / "raw"
    export_raw(raw, path=warehouse)
    duck = derive_dir("duckdb", raw, tmp_path / "duckdb")
    on_spark = derive_dir("spark", raw, tmp_path / "spark")
    return duck, on_spark


def test_spark_derives_every_table_of_the_tiny_company_as_duckdb_and_the_load_do(
    spark, tiny_warehouse_template, tmp_path
):
    duck, on_spark = _both(spark, tiny_warehouse_template, tmp_path)
    assert duck["tables"].keys() == on_spark["tables"].keys()
    assert {t: v["columns"] for t, v in duck["tables"].items()} == {
        t: v["columns"] for t, v in on_spark["tables"].items()
    }
    # The tiny company (the worked example of tests/test_state.py): as of its last event,
    # 2026-03-02, 12 sellers of whom S06 and S12 have left, so 10 have a state; the ladder of
    # cxm/company.yaml has 7 ranks; 10 customers, too few for a value model (empty tables).
    assert on_spark["as_of"] == "2026-03-02"
    rows = {t: v["rows"] for t, v in on_spark["tables"].items()}
    assert (rows["dim_ranks"], rows["fact_sellers"], rows["seller_state"]) == (7, 12, 10)
    assert (rows["fact_customer_value"], rows["clv_fits"]) == (0, 0)
    tables = [t for t in DERIVED if t in duck["tables"]]
    ours, theirs = read_dir(tmp_path / "duckdb", tables), read_dir(tmp_path / "spark", tables)
    # S01 did K1, K2 and K3: listed in order on Spark too (collect_list keeps no order).
    s01 = theirs["seller_state"].filter(seller_id="S01")
    assert s01["courses_done"].to_list() == [["K1", "K2", "K3"]]
    assert differences(ours, theirs) == []
    assert differences(read_warehouse(tiny_warehouse_template, tables), theirs) == []


@pytest.fixture(scope="module")
def demo_derived(spark, small_demo_warehouse, tmp_path_factory):
    """The 2,000-seller demo's raw export and its tables derived on both engines."""
    base = tmp_path_factory.mktemp("demo")
    duck, on_spark = _both(spark, small_demo_warehouse, base)
    return base, duck, on_spark


def test_spark_derives_every_table_of_a_demo_company_as_duckdb_and_the_load_do(
    demo_derived, small_demo_warehouse
):
    base, duck, on_spark = demo_derived
    tables = list(DERIVED)
    assert list(on_spark["tables"]) == tables
    ours, theirs = read_dir(base / "duckdb", tables), read_dir(base / "spark", tables)
    assert differences(ours, theirs) == []
    assert differences(read_warehouse(small_demo_warehouse, tables), theirs) == []
    # The fits see the same numbers to the last bit: the same parameters, as text.
    fits = [t["clv_fits"].sort("fitted_for", "model") for t in (ours, theirs)]
    assert fits[0].height >= 2
    assert fits[0]["parameters"].to_list() == fits[1]["parameters"].to_list()


def _overview(monkeypatch, warehouse, credentials) -> dict[str, str]:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CXM_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("CXM_CREDENTIALS", str(credentials))
    monkeypatch.setenv("CXM_DEMO", "1")
    at = AppTest.from_file("../app.py", default_timeout=120)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = "admin"
    at.run()
    assert not at.exception, at.exception
    return {m.label: m.value for m in at.metric}


def test_the_dashboard_served_from_sparks_tables_shows_duckdbs_overview(
    demo_derived, small_demo_warehouse, demo_credentials, monkeypatch, tmp_path
):
    base, _, _ = demo_derived
    from_spark = tmp_path / "spark.duckdb"
    import_dir(base / "raw", path=from_spark, derived=base / "spark")
    with store.open_readonly(from_spark) as con:
        assert con.execute("SELECT count(*) FROM seller_state").fetchall()[0][0] > 0
    tiles = _overview(monkeypatch, from_spark, demo_credentials)
    assert tiles["Live sellers"] != "0"
    assert tiles == _overview(monkeypatch, small_demo_warehouse, demo_credentials)
