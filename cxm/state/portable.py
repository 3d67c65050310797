"""What every engine must give: each derived table's columns and types, and the SQL rules.

`DECLARED` is each derived table's output, in DuckDB's type names as DuckDB reads the table
(or its Parquet): a load (`tests/test_portable.py`) and both engines of `cxm derive` are
checked against it (`check_columns`). `lint` walks a declaration's syntax tree (SQLGlot) for
what transpiles silently but computes differently on Spark:

- an ordered aggregate (``list(x ORDER BY x)``: SQLGlot drops the ORDER BY for Spark's
  ``collect_list``; write ``list_sort(list(x))``);
- a decimal literal in a division (``/ 60000000.0`` is DOUBLE on DuckDB and DECIMAL on Spark;
  divide by ``CAST(60000000 AS DOUBLE)``);
- ``date_diff`` in a unit other than microsecond or day (DuckDB counts unit boundaries
  crossed, Spark the time elapsed);
- a function outside `ALLOWED` (each one there was checked on both engines);
- an ``ORDER BY`` of the whole table (the declaration's ``order_by`` instead).

The physical order of a table is not in its SQL (an ``ORDER BY`` costs Spark a range
shuffle): it is the declaration's ``order_by``, which each engine applies its own way.
"""

from __future__ import annotations

from dataclasses import dataclass

from cxm.errors import CxmError

_V, _D, _B, _F, _I = "VARCHAR", "DATE", "BIGINT", "DOUBLE", "INTEGER"


def _cols(text: str) -> tuple[tuple[str, str], ...]:
    return tuple(tuple(c.split()) for c in text.split(", "))  # type: ignore[misc]


#: Each derived table's columns and types, in order. The KPI cube's measures follow the KPI
#: registry, so only its fixed columns are listed; every other column of it is DOUBLE.
DECLARED: dict[str, tuple[tuple[str, str], ...]] = {
    "dim_ranks": _cols("rank VARCHAR, rank_index INTEGER"),
    "dim_as_of": _cols("as_of DATE"),
    "fact_customers": _cols(
        "customer_id VARCHAR, seller_id VARCHAR, market VARCHAR, first_order_on DATE, "
        "second_order_on DATE, last_order_on DATE, orders BIGINT, first_month_orders BIGINT, "
        "purchase_days BIGINT, repeat_amount DOUBLE"
    ),
    "fact_seller_months": (
        ("seller_id", _V),
        ("month", _D),
        *(
            (c, _F if c in ("revenue_amount", "autoship_amount") else _B)
            for c in (
                "revenue_amount orders units autoship_amount autoship_orders new_customers "
                "new_customer_orders enrollments recruits_left app_days follow_ups "
                "content_shares events_hosted courses_completed rank_steps"
            ).split()
        ),
        *((c, _D) for c in "last_sale_on last_autoship_on last_enrollment_on last_app_on".split()),
    ),
    "fact_sellers": _cols(
        "seller_id VARCHAR, sponsor_id VARCHAR, enrolled_on DATE, terminated_on DATE, "
        "market VARCHAR, language VARCHAR, weekly_sales_goal DECIMAL(14,2), "
        "monthly_enrollment_goal BIGINT, current_rank_index INTEGER, "
        "sponsor_terminated_on DATE, first_sale_on DATE, has_rank_history BOOLEAN"
    ),
    "fact_rank_steps": _cols("seller_id VARCHAR, rank_index INTEGER, reached_on DATE"),
    "fact_compliance": _cols("seller_id VARCHAR, rank_index INTEGER, compliant_on DATE"),
    "fact_answers": _cols(
        "response_id VARCHAR, respondent_type VARCHAR, seller_id VARCHAR, market VARCHAR, "
        "language VARCHAR, answered_on DATE, question VARCHAR, score BIGINT"
    ),
    "fact_tickets": _cols(
        "ticket_id VARCHAR, seller_id VARCHAR, market VARCHAR, language VARCHAR, "
        "channel VARCHAR, opened_on DATE, first_response_minutes DOUBLE, "
        "answered_same_day INTEGER, answered_within_hour INTEGER"
    ),
    "fact_line_buyers": _cols(
        "seller_id VARCHAR, product_line VARCHAR, first_on DATE, buyers BIGINT, rebuyers BIGINT"
    ),
    "fact_customer_value": _cols(
        "customer_id VARCHAR, seller_id VARCHAR, market VARCHAR, p_alive DOUBLE, "
        "purchases_12m DOUBLE, expected_spend DOUBLE, clv_12m DOUBLE, at_risk BIGINT, "
        "scored_as_of DATE"
    ),
    "fact_seller_value": _cols(
        "seller_id VARCHAR, customers_valued BIGINT, clv_12m DOUBLE, customers_at_risk BIGINT, "
        "customers_at_risk_consented BIGINT, scored_as_of DATE"
    ),
    "clv_fits": _cols(
        "fitted_for VARCHAR, used_for VARCHAR, model VARCHAR, parameters VARCHAR, "
        "standard_errors VARCHAR, log_likelihood DOUBLE, customers BIGINT, converged BOOLEAN, "
        "scored_as_of DATE"
    ),
    "clv_calibration": _cols(
        "market VARCHAR, bucket BIGINT, customers UINTEGER, actual DOUBLE, predicted DOUBLE"
    ),
    "clv_tracking": _cols("market VARCHAR, week BIGINT, actual DOUBLE, predicted DOUBLE"),
    "seller_state": _cols(
        "seller_id VARCHAR, rank VARCHAR, rank_index INTEGER, market VARCHAR, language VARCHAR, "
        "status VARCHAR, tenure_days BIGINT, weekly_sales_goal DOUBLE, sales_7d DOUBLE, "
        "weekly_sales_progress DOUBLE, monthly_enrollment_goal BIGINT, enrollments_30d BIGINT, "
        "enrollment_progress DOUBLE, new_downline_30d BIGINT, frontline BIGINT, "
        "customers BIGINT, active_customers BIGINT, lapsed_customers BIGINT, "
        "customers_at_risk BIGINT, repeat_customer_share DOUBLE, revenue_90d DOUBLE, "
        "orders_90d BIGINT, cart_vs_market DOUBLE, rank_progress DOUBLE, days_since_app BIGINT, "
        "days_since_sale BIGINT, compliance_missing BIGINT, courses_unlocked BIGINT, "
        "courses_done VARCHAR[]"
    ),
    "fact_kpi_months": _cols(
        "market VARCHAR, language VARCHAR, rank VARCHAR, status VARCHAR, sellers BIGINT"
    ),
}
#: Tables whose declaration lists only some columns (the rest DOUBLE, last ``month DATE``).
OPEN = {"fact_kpi_months": ("month", _D)}


class NotAsDeclared(CxmError):
    """A derived table whose columns or types are not its declaration's (`DECLARED`)."""

    code = "not_as_declared"


def check_columns(table: str, columns: list, where: str) -> None:
    """Raise `NotAsDeclared` unless ``columns`` ([name, type] pairs) are ``table``'s own."""
    got = [tuple(c) for c in columns]
    want = list(DECLARED[table])
    if table in OPEN:
        fixed = len(want)
        want += [(c, _F) for c, _ in got[fixed:-1]] + [OPEN[table]]
    if got != want:
        wrong = [f"{g} (declared {w})" for g, w in zip(got, want, strict=False) if g != w]
        extra = len(got) - len(want)
        more = f"; {abs(extra)} column(s) {'more' if extra > 0 else 'fewer'}" if extra else ""
        raise NotAsDeclared(
            f"{where}: {table} is not as declared in cxm/state/portable.py: "
            f"{', '.join(wrong[:5]) or 'columns differ'}{more} [not_as_declared]."
        )


#: Functions a declaration may call: each was run on DuckDB and Spark and gives the same.
#: (SQLGlot's names: ``date_trunc`` is ``timestamp_trunc``, ``date_diff`` ``datediff``,
#: ``list`` ``array_agg``, ``list_sort`` ``array_sort``.)
ALLOWED = frozenset(
    """
    sum count min max avg coalesce least arg_min lag first_value
    timestamp_trunc datediff array_agg array_sort unnest md5 substring
    """.split()
)


@dataclass(frozen=True)
class Finding:
    """One construct of a declaration that is not portable: where, what, and the fix."""

    text: str
    rule: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.text}"


def lint(sql: str) -> list[Finding]:
    """Return what in ``sql`` (DuckDB's dialect) would run differently, or not, on Spark."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="duckdb")
    out: list[Finding] = []
    if tree.args.get("order"):
        out.append(
            Finding(tree.args["order"].sql("duckdb"), "physical order in the SQL (order_by)")
        )
    for node in tree.walk():
        if isinstance(node, exp.AggFunc) and node.find(exp.Order):
            out.append(Finding(node.sql("duckdb"), "ordered aggregate (use list_sort(list(x)))"))
        if isinstance(node, exp.Div):
            lits = [n for n in node.right.walk() if isinstance(n, exp.Literal) and not n.is_string]
            if any("." in n.this or "e" in n.this.lower() for n in lits):
                out.append(Finding(node.sql("duckdb"), "decimal literal in a division"))
        if isinstance(node, exp.DateDiff):
            unit = (node.unit.name if node.unit else "day").lower()
            if unit not in ("microsecond", "day"):
                out.append(Finding(node.sql("duckdb"), f"date_diff in {unit}"))
        if isinstance(node, exp.Func) and not isinstance(node, _structural()):
            name = (node.sql_name() if not isinstance(node, exp.Anonymous) else node.name).lower()
            if name not in ALLOWED:
                out.append(Finding(node.sql("duckdb"), f"function {name} outside the allow-list"))
    return out


def _structural() -> tuple:
    # Syntax SQLGlot models as functions: conditions, CASE, casts, the empty list literal.
    from sqlglot import exp

    return (exp.Connector, exp.Case, exp.If, exp.Cast, exp.Array)
