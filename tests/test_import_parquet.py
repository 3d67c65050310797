"""Parquet files are checked one column at a time and loaded by DuckDB from the file itself
(issue 22, item 7): the checks still find and name every problem, down to the last row.

The orders file here is the tiny company's 15 orders repeated 2,000 times under new ids
(O100001 to O130000, rows 1 to 30,000), written in row groups of 1,000 rows, so a problem in
the last row sits in the file's 30th row group. Only orders.parquet is imported: the sellers
and customers it points at are the tiny warehouse's.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest

from cxm.config import load_config
from cxm.errors import ImportRejected
from cxm.pipeline import import_dir
from cxm.warehouse import importer
from cxm.warehouse._checks import Found
from cxm.warehouse.schema import TABLES
from tests.conftest import TINY_TODAY

REPEATS, LAST = 2_000, 30_000


def _orders(warehouse: Path) -> pl.DataFrame:
    """The tiny company's orders repeated, typed as declared, ids O100001... in file order."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tiny = con.sql("SELECT * FROM orders ORDER BY order_id").pl()
    orders = pl.concat([tiny] * REPEATS)
    ids = pl.int_range(100_001, 100_001 + orders.height, eager=True).cast(pl.String)
    return orders.with_columns(order_id=pl.lit("O") + ids)


def _write(tmp_path: Path, orders: pl.DataFrame) -> Path:
    folder = tmp_path / "incoming"
    folder.mkdir()
    orders.write_parquet(folder / "orders.parquet", row_group_size=1_000)
    return folder


def _last(orders: pl.DataFrame, **values) -> pl.DataFrame:
    """``orders`` with the last row's columns set to ``values``."""
    return orders.with_columns(
        pl.when(pl.int_range(pl.len()) == orders.height - 1)
        .then(pl.lit(v, dtype=orders.schema[c]))
        .otherwise(pl.col(c))
        .alias(c)
        for c, v in values.items()
    )


def _refused(folder: Path, warehouse: Path) -> ImportRejected:
    with pytest.raises(ImportRejected) as caught:
        import_dir(folder, path=warehouse, today=TINY_TODAY)
    return caught.value


def test_a_parquet_file_of_the_declared_types_is_loaded_from_the_file_as_it_is(
    tiny_warehouse, tmp_path
):
    orders = _orders(tiny_warehouse)
    folder = _write(tmp_path, orders)
    read = importer._read(
        folder / "orders.parquet", TABLES["orders"], load_config(), TINY_TODAY, Found()
    )
    # Nothing of it waits in memory; its ids are cut into increasing pieces, so no count.
    assert (read.rows, read.file, read.frame, read.unique) == (
        LAST,
        folder / "orders.parquet",
        None,
        True,
    )
    result = import_dir(folder, path=tiny_warehouse, today=TINY_TODAY)
    assert result.rows == {"orders": LAST} and result.warning_total == 0
    with duckdb.connect(str(tiny_warehouse), read_only=True) as con:
        loaded = con.sql("SELECT * FROM orders ORDER BY order_id").pl()
    assert loaded.equals(orders.sort("order_id"))


def test_a_doubled_id_and_a_dangling_customer_in_the_last_row_group_are_named_by_row(
    tiny_warehouse, tmp_path
):
    # Row 30,000 takes row 2's id (O100002) and customer C99, whom nobody has. The ids no
    # longer prove unique by their order, so DuckDB counts them; both rows are named.
    orders = _last(_orders(tiny_warehouse), order_id="O100002", customer_id="C99")
    exc = _refused(_write(tmp_path, orders), tiny_warehouse)
    assert [(i.row, i.column, i.value, i.code, i.message) for i in exc.issues] == [
        (
            2,
            "order_id",
            "O100002",
            "duplicate_key",
            "appears 2 times (rows 2, 30000); each must be unique",
        ),
        (LAST, "customer_id", "C99", "dangling_reference", "is not in customers in the warehouse"),
    ]
    assert exc.total == 2


def test_a_bad_amount_in_the_last_row_is_named_and_its_table_still_checked_across(
    tiny_warehouse, tmp_path
):
    # Row 30,000's amount is -3.50 and its seller S99 is nobody: the amount column keeps its
    # problem, the others are read back from the file for the references, so both are found.
    orders = _last(_orders(tiny_warehouse), amount=-3.5, seller_id="S99")
    exc = _refused(_write(tmp_path, orders), tiny_warehouse)
    assert [(i.row, i.column, i.value, i.code) for i in exc.issues] == [
        (LAST, "amount", "-3.50", "negative_amount"),
        (LAST, "seller_id", "S99", "dangling_reference"),
    ]


def test_an_order_before_its_sellers_enrolment_in_the_last_row_is_a_warning_by_row(
    tiny_warehouse, tmp_path
):
    # S03 enrolled on 2025-06-15 (sellers.csv): an order of theirs on 2025-06-01 in the last
    # row is loaded, with a warning naming row 30,000; no other order is outside membership.
    orders = _last(_orders(tiny_warehouse), seller_id="S03", ordered_at=dt.datetime(2025, 6, 1, 9))
    result = import_dir(_write(tmp_path, orders), path=tiny_warehouse, today=TINY_TODAY)
    assert result.warning_total == 1
    (warning,) = result.warnings
    assert (warning.file, warning.row, warning.value, warning.code) == (
        "orders.parquet",
        LAST,
        "2025-06-01 09:00:00",
        "order_outside_membership",
    )


def test_a_parquet_file_with_other_column_types_is_parsed_and_loaded_the_same(
    tiny_warehouse, tmp_path
):
    # units as 32-bit integers and amounts as text: parsed to the declared types like CSV
    # text, then loaded from the parsed frame; the warehouse holds the same orders.
    orders = _orders(tiny_warehouse)
    other = orders.with_columns(pl.col("units").cast(pl.Int32), pl.col("amount").cast(pl.String))
    import_dir(_write(tmp_path, other), path=tiny_warehouse, today=TINY_TODAY)
    with duckdb.connect(str(tiny_warehouse), read_only=True) as con:
        loaded = con.sql("SELECT * FROM orders ORDER BY order_id").pl()
    assert loaded.equals(orders.sort("order_id"))


@pytest.mark.parametrize(
    ("ids", "unique"),
    [
        (["A1", "A2", "A3", "B1", "B2", "B3"], True),  # one increasing run
        (["B1", "B2", "B3", "A1", "A2", "A3"], True),  # two runs, ranges apart
        (["A1", "B1", "A2", "B2", "A3", "B3"], True),  # ranges interleave: halved to one id
        (["A1", "A2", "A3", "B1", "A2", "B3"], False),  # A2 twice, in two pieces
        (["A1", "A2", "A3", "A3", "B1", "B2"], False),  # A3 twice, side by side
        (["A1", None, "A3"], False),  # an empty key is for the other checks
    ],
)
def test_keys_in_increasing_pieces_prove_unique_and_a_repeat_never_does(ids, unique, monkeypatch):
    # Pieces of 2 rows: the first case is three pieces A1-A2, A3-B1, B2-B3 whose ranges do
    # not overlap; in the third, A1-B1 overlaps A2-B2 and both are halved to single ids.
    monkeypatch.setattr(importer, "PIECE", 2)
    frame = pl.DataFrame({"order_id": ids}, schema={"order_id": pl.String})
    assert importer._increasing(frame, TABLES["orders"]) is unique


def test_a_rule_broken_in_the_last_row_of_a_clean_parquet_file_is_named_by_row(
    tiny_warehouse, tmp_path
):
    # customers.parquet: the tiny company's 10 customers (the warehouse's orders point at
    # them) then 2,990 more, C100011 on. Every value is of its type and allowed, so one pass
    # finds nothing column by column; the rule that a customer's language is one of their
    # market's is checked on the two columns it reads: row 3,000 is in the US (en, es) with
    # pt-BR, Brazil's. Its seller S99 is nobody, found from the rest of the file.
    with duckdb.connect(str(tiny_warehouse), read_only=True) as con:
        tiny = con.sql("SELECT * FROM customers ORDER BY customer_id").pl()
    more = pl.concat([tiny] * 299)
    more = more.with_columns(
        customer_id=pl.lit("C") + pl.int_range(100_011, 100_011 + more.height).cast(pl.String)
    )
    customers = pl.concat([tiny, more])
    customers = _last(customers, market="US", language="pt-BR", seller_id="S99")
    folder = tmp_path / "incoming"
    folder.mkdir()
    customers.write_parquet(folder / "customers.parquet", row_group_size=1_000)
    exc = _refused(folder, tiny_warehouse)
    assert [(i.row, i.column, i.value, i.code) for i in exc.issues] == [
        (3_000, "language", "pt-BR", "language_not_in_market"),
        (3_000, "seller_id", "S99", "dangling_reference"),
    ]


@pytest.mark.parametrize(
    ("column", "value", "code"),
    [
        ("order_id", None, "missing_value"),
        ("order_id", " O9", "bad_id"),
        ("customer_id", "C" * 65, "too_long"),
        ("product_line", "cars", "unknown_product_line"),
        ("channel", "fax", "unknown_channel"),
        ("units", 0, "below_minimum"),
        ("ordered_at", dt.datetime(2026, 4, 1, 9), "date_out_of_range"),  # after TINY_TODAY
        ("ordered_at", dt.datetime(1899, 12, 31), "date_out_of_range"),
    ],
)
def test_each_constraint_of_a_typed_parquet_column_is_found_in_the_last_row(
    column, value, code, tiny_warehouse, tmp_path
):
    # The one pass over a file of the declared types must see every kind of break the
    # column-by-column check reports, or the file would load as it is.
    orders = _last(_orders(tiny_warehouse), **{column: value})
    exc = _refused(_write(tmp_path, orders), tiny_warehouse)
    assert (exc.issues[0].row, exc.issues[0].column, exc.issues[0].code) == (LAST, column, code)


def test_a_parquet_file_without_a_column_it_may_omit_loads_that_column_empty(
    tiny_warehouse, tmp_path
):
    # customers.parquet of the tiny company's 10 customers without acquisition_channel (a
    # column a file may leave out): loaded from the file, the column empty in all 10 rows.
    with duckdb.connect(str(tiny_warehouse), read_only=True) as con:
        tiny = con.sql("SELECT * FROM customers ORDER BY customer_id").pl()
    folder = tmp_path / "incoming"
    folder.mkdir()
    tiny.drop("acquisition_channel").write_parquet(folder / "customers.parquet")
    result = import_dir(folder, path=tiny_warehouse, today=TINY_TODAY)
    assert result.rows == {"customers": 10}
    with duckdb.connect(str(tiny_warehouse), read_only=True) as con:
        loaded = con.sql("SELECT * FROM customers ORDER BY customer_id").pl()
    assert loaded.get_column("acquisition_channel").null_count() == 10
    assert loaded.drop("acquisition_channel").equals(tiny.drop("acquisition_channel"))
