"""Portability enforced: every derived table as declared, every declaration linted for Spark."""

from __future__ import annotations

import duckdb
import pytest

from cxm.derive import DERIVED
from cxm.metrics import holdout, value
from cxm.state import FACTS, SELLER_STATE
from cxm.state.engine import Duck
from cxm.state.portable import DECLARED, NotAsDeclared, check_columns, lint

#: Every SQL text an engine runs: the facts and state with their stages, customer value's.
TEXTS = [
    *((n, s) for f in (*FACTS, SELLER_STATE) for n, s in (*f.stages, (f.name, f.sql))),
    ("value_summary", value.SUMMARY.format(draw=Duck.draw(None, "c.customer_id"))),
    ("value_distinct", value.DISTINCT),
    ("value_scored", value.SCORED),
    ("fact_seller_value", value.PER_SELLER),
    ("holdout_sample", holdout._SAMPLE_DAYS.format(picked="TRUE")),
]


@pytest.mark.parametrize(("name", "sql"), TEXTS, ids=[n for n, _ in TEXTS])
def test_every_declaration_passes_the_portability_lint(name, sql):
    assert lint(sql) == []


@pytest.mark.parametrize(
    ("sql", "rule"),
    [
        # The three constructs that ran on Spark and computed something else (issue 22).
        ("SELECT list(c ORDER BY c) FROM t GROUP BY k", "ordered aggregate"),
        ("SELECT date_diff('microsecond', a, b) / 60000000.0 FROM t", "decimal literal"),
        ("SELECT date_diff('minute', a, b) FROM t", "date_diff in minute"),
        ("SELECT regexp_replace(a, 'x', 'y') FROM t", "function regexp_replace"),
        ("SELECT a FROM t ORDER BY a", "physical order"),
    ],
)
def test_the_lint_names_each_construct_that_is_not_portable(sql, rule):
    (finding,) = lint(sql)
    assert finding.rule.startswith(rule)


def test_every_derived_table_has_a_declaration_and_a_load_writes_it_so(tiny_warehouse_template):
    assert set(DECLARED) == set(DERIVED)
    with duckdb.connect(str(tiny_warehouse_template), read_only=True) as con:
        for table in DERIVED:
            cols = [[c, t] for c, t, *_ in con.execute(f"DESCRIBE {table}").fetchall()]
            check_columns(table, cols, "the tiny company's warehouse")


def test_a_table_not_as_declared_is_named_with_its_column_and_types():
    cols = [list(c) for c in DECLARED["fact_tickets"]]
    cols[6] = ["first_response_minutes", "DECIMAL(31,10)"]
    with pytest.raises(
        NotAsDeclared,
        match=r"first_response_minutes', 'DECIMAL\(31,10\)'\) "
        r"\(declared \('first_response_minutes', 'DOUBLE'\)\)",
    ):
        check_columns("fact_tickets", cols, "out/fact_tickets")
