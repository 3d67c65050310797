"""The seller facts: one declaration that DuckDB runs here and Spark can run later."""

from __future__ import annotations

import pytest

from cxm.state import SELLER_STATE
from cxm.state.facts import FACTS, spark_sql
from cxm.state.seller_state import FIELD_NAMES
from cxm.warehouse import store


@pytest.mark.parametrize("fact", [*FACTS, SELLER_STATE], ids=lambda f: f.name)
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


def test_the_tiny_company_seller_state_holds_its_hand_worked_values(tiny_warehouse_template):
    # As of 2026-03-02 (the tiny company's last event). S06 and S12 have left: no state.
    with store.open_readonly(tiny_warehouse_template) as con:
        state = con.sql("SELECT * FROM seller_state ORDER BY seller_id").pl()
    assert set(FIELD_NAMES) <= set(state.columns)
    assert state["seller_id"].to_list() == [f"S{i:02d}" for i in (1, 2, 3, 4, 5, 7, 8, 9, 10, 11)]
    row = {r["seller_id"]: r for r in state.iter_rows(named=True)}
    # S01: C01 last ordered 2025-04-02 (334 days back), C02 2025-03-10 (357): both lapsed
    # (90 to 364 days); C01 bought on 3 days -> half the customers repeat. S02 and S03 are
    # still with the company (frontline 2). All three courses done: nothing missing or open.
    s01 = row["S01"]
    assert (s01["lapsed_customers"], s01["active_customers"], s01["repeat_customer_share"]) == (
        2,
        0,
        0.5,
    )
    assert (s01["frontline"], s01["days_since_sale"], s01["status"]) == (2, 334, "inactive")
    assert (s01["compliance_missing"], s01["courses_unlocked"]) == (0, 0)
    assert s01["courses_done"] == ["K1", "K2", "K3"]
    # S02 (Manager) did K2 only: K1 is open, K3 waits for K1 -> one course unlocked.
    assert (row["S02"]["courses_unlocked"], row["S02"]["compliance_missing"]) == (1, 0)
    # S05 did K1 only: the compliance course K2 is missing, and open; K3 waits for K2.
    assert (row["S05"]["compliance_missing"], row["S05"]["courses_unlocked"]) == (1, 1)
    # S07 enrolled S08 on 2026-01-05 (56 days back) and S11 on 2026-02-20 (10): one within
    # 30 days, against a goal of 1 -> progress 1.0; enrolled 2025-11-01 -> 121 days, active
    # through that enrolment.
    s07 = row["S07"]
    assert (s07["enrollments_30d"], s07["new_downline_30d"], s07["enrollment_progress"]) == (
        1,
        1,
        1.0,
    )
    assert (s07["tenure_days"], s07["status"], s07["frontline"]) == (121, "active", 2)
    # S10's customer C10 ordered $62 on 2026-01-10: active, $62 in 90 days, 1 order, the only
    # Canadian order -> cart exactly at the market's average.
    s10 = row["S10"]
    assert (s10["active_customers"], s10["revenue_90d"], s10["orders_90d"]) == (1, 62.0, 1)
    assert s10["cart_vs_market"] == 1.0
    # S03: a weekly goal of $150 and no sale in 7 days -> progress 0; S04 has no enrolment
    # goal -> progress 1 (no need to build). S08 and S11 enrolled within 90 days: new.
    assert row["S03"]["weekly_sales_progress"] == 0.0
    assert row["S04"]["enrollment_progress"] == 1.0
    assert (row["S08"]["status"], row["S11"]["status"]) == ("new", "new")
