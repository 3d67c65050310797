"""The seller facts: one declaration that DuckDB runs here and Spark can run later."""

from __future__ import annotations

import pytest

from cxm.state.facts import FACTS, spark_sql
from cxm.warehouse import store


@pytest.mark.parametrize("fact", FACTS, ids=lambda f: f.name)
def test_every_fact_and_stage_transpiles_to_spark_sql_without_loss(fact):
    # unsupported_level=RAISE: a DuckDB-only construct fails here, not on a company's cluster.
    statements = spark_sql(fact)
    assert [name for name, _ in statements] == [*(n for n, _ in fact.stages), fact.name]
    assert all(sql.upper().startswith(("SELECT", "WITH")) for _, sql in statements)


def test_the_tiny_company_facts_hold_its_hand_counted_rows(tiny_warehouse_template):
    with store.open_readonly(tiny_warehouse_template) as con:

        def rows(sql):
            return con.execute(sql).fetchall()

        # C01 ordered 2025-02-01, 03-03, 04-02: first, second and last order days, 3 orders,
        # 1 of them in the month of the first.
        assert rows(
            "SELECT first_order_on::VARCHAR, second_order_on::VARCHAR, last_order_on::VARCHAR, "
            "orders, first_month_orders FROM fact_customers WHERE customer_id = 'C01'"
        ) == [("2025-02-01", "2025-03-03", "2025-04-02", 3, 1)]
        # S05 in 2025: orders O008 55 + O009 55 (autoship) + O010 89 = $199, 3 orders; it
        # enrolled S06 (July) and S07 (November); S06 left in October.
        assert rows(
            "SELECT sum(revenue_amount), sum(orders), sum(autoship_amount), sum(enrollments), "
            "sum(recruits_left) FROM fact_seller_months WHERE seller_id = 'S05' "
            "AND year(month) = 2025"
        ) == [(199.0, 3, 55.0, 2, 1)]
        # T01 was answered in 30 minutes, the same day; T02 the next day; T03 never.
        assert rows(
            "SELECT ticket_id, first_response_minutes, answered_same_day, answered_within_hour "
            "FROM fact_tickets ORDER BY ticket_id"
        ) == [("T01", 30.0, 1, 1), ("T02", 1500.0, 0, 0), ("T03", None, 0, 0)]
        # K2 is the only compliance course (min rank Member): S01 (Jan 21), S02 (Mar 5) and
        # S09 (Apr 20) completed it, so they are compliant at every rank from then on.
        assert rows(
            "SELECT seller_id, min(compliant_on)::VARCHAR FROM fact_compliance "
            "GROUP BY seller_id ORDER BY seller_id"
        ) == [("S01", "2025-01-21"), ("S02", "2025-03-05"), ("S09", "2025-04-20")]
