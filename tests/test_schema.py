"""Each table is declared once; DDL, Polars schema and row contract all come from it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

import duckdb
import pytest
from pydantic import ValidationError

from cxm.config import load_config
from cxm.warehouse import schema, store
from cxm.warehouse.schema import TABLES, Key, OneOf, Table, columns, ddl, polars_schema


def test_the_tables_of_the_design_are_declared_in_load_order():
    assert (
        list(TABLES)
        == (
            "sellers customers orders activities courses course_completions survey_responses "
            "tickets kpi_targets experiment_assignments marketing_spend leads"
        ).split()
    )


#: Written out by hand from docs/schema.md, not derived from the declarations under test.
EXPECTED = {
    "sellers": [
        ("seller_id", "VARCHAR", "NO"),
        ("sponsor_id", "VARCHAR", "YES"),
        ("enrolled_on", "DATE", "NO"),
        ("rank", "VARCHAR", "NO"),
        ("market", "VARCHAR", "NO"),
        ("language", "VARCHAR", "NO"),
        ("weekly_sales_goal", "DECIMAL(14,2)", "NO"),
        ("monthly_enrollment_goal", "BIGINT", "NO"),
        ("terminated_on", "DATE", "YES"),
        ("acquisition_channel", "VARCHAR", "YES"),
    ],
    "orders": [
        ("order_id", "VARCHAR", "NO"),
        ("customer_id", "VARCHAR", "NO"),
        ("seller_id", "VARCHAR", "NO"),
        ("ordered_at", "TIMESTAMP", "NO"),
        ("amount", "DECIMAL(14,2)", "NO"),
        ("units", "BIGINT", "NO"),
        ("product_line", "VARCHAR", "NO"),
        ("autoship", "BOOLEAN", "NO"),
        ("channel", "VARCHAR", "NO"),
    ],
    "courses": [
        ("course_id", "VARCHAR", "NO"),
        ("title", "VARCHAR", "NO"),
        ("min_rank", "VARCHAR", "NO"),
        ("prerequisites", "VARCHAR[]", "NO"),
        ("compliance", "BOOLEAN", "NO"),
        ("languages", "VARCHAR[]", "NO"),
    ],
    "kpi_targets": [
        ("period", "VARCHAR", "NO"),
        ("kpi_id", "VARCHAR", "NO"),
        ("segment", "VARCHAR", "YES"),
        ("target", "DOUBLE", "NO"),
    ],
    "marketing_spend": [
        ("month", "DATE", "NO"),
        ("market", "VARCHAR", "NO"),
        ("channel", "VARCHAR", "NO"),
        ("bought", "VARCHAR", "NO"),
        ("amount", "DECIMAL(14,2)", "NO"),
    ],
    "leads": [
        ("lead_id", "VARCHAR", "NO"),
        ("created_on", "DATE", "NO"),
        ("market", "VARCHAR", "NO"),
        ("channel", "VARCHAR", "NO"),
        ("customer_id", "VARCHAR", "YES"),
        ("seller_id", "VARCHAR", "YES"),
        ("converted_on", "DATE", "YES"),
    ],
}


def _described(con, table):
    return [
        (n, t.replace(", ", ","), nl)
        for n, t, nl in con.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
    ]


def test_the_duckdb_tables_have_the_columns_and_types_written_down_by_hand(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        store.create_schema(con)
        for table, expected in EXPECTED.items():
            assert _described(con, table) == expected, table


def test_every_table_has_the_columns_of_its_tiny_company_file_in_order(tmp_path):
    from tests.conftest import TINY

    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        store.create_schema(con)
        for table in TABLES:
            header = (TINY / f"{table}.csv").read_text(encoding="utf-8").splitlines()[0]
            # A column a file may leave out (acquisition_channel) may be missing from it: the
            # tiny company's sellers.csv leaves it out, its customers.csv does not.
            omitted = {c.name for c in columns(TABLES[table]) if c.may_omit}
            declared = [c for c, _, _ in _described(con, table)]
            assert [c for c in declared if c in header.split(",") or c not in omitted] == (
                header.split(",")
            ), table


def test_a_new_field_on_a_declaration_appears_in_its_ddl_and_polars_schema():
    class Probe(Table):
        __table__ = "probe"
        probe_id: Annotated[str, Key()]
        market: Annotated[str, OneOf("markets")]
        paid_amount: schema.Amount
        paid_on: dt.date | None = None

    assert ddl(Probe) == (
        "CREATE TABLE probe (\n    probe_id VARCHAR NOT NULL,\n"
        "    market VARCHAR NOT NULL,\n    paid_amount DECIMAL(14, 2) NOT NULL,\n"
        "    paid_on DATE\n);"
    )
    assert list(polars_schema(Probe)) == ["probe_id", "market", "paid_amount", "paid_on"]
    (market,) = [c for c in columns(Probe) if c.name == "market"]
    assert market.enum == "markets" and not market.nullable


def test_the_row_contract_checks_configured_enums_and_rules():
    cfg = load_config()
    good = dict(
        seller_id="S1",
        enrolled_on="2025-01-01",
        rank="Member",
        market="CA",
        language="fr",
        weekly_sales_goal="100.00",
        monthly_enrollment_goal=1,
    )
    assert schema.Seller.model_validate(good, context={"config": cfg}).weekly_sales_goal == Decimal(
        "100.00"
    )
    for change, fragment in [
        ({"market": "UK"}, "not in configured markets"),
        ({"language": "ja"}, "language is not configured for the market"),
        ({"terminated_on": "2024-12-31"}, "terminated_on is before enrolled_on"),
        ({"weekly_sales_goal": "-1"}, "greater than or equal to 0"),
        ({"nickname": "x"}, "Extra inputs are not permitted"),
    ]:
        with pytest.raises(ValidationError, match=fragment):
            schema.Seller.model_validate(good | change, context={"config": cfg})
