"""A month cut at a day inside it: its seller-month measures read from the raw tables.

The seller facts are kept by month (`cxm.state.facts`), so a span that ends inside a month the
data covers further (say 1-15 September, compared with 1-15 October when the data runs to the
15th: docs/metrics.md, Periods and comparisons) cannot take that month from them. For such a
window the seller base reads the whole months from the facts and the cut month, from its first
day to the as-of date, from here: the same measures, written as in `SELLER_MONTH_STAGES` but over
days. (`fact_line_buyers` needs no cut: it is kept by day, and a reorder window counts only once
closed by the as-of date, so nothing after that day enters it.) ``$cut`` is the cut month's
first day, or NULL when nothing is cut; DuckDB then folds every branch below to an empty
result, so an ordinary window pays nothing (measured: no scan of ``orders`` at all).
`tests/test_periods.py` holds a month cut at its last day equal to the month read from the
facts, measure by measure.
"""

from __future__ import annotations

from cxm.state.facts import NOT_APP_USE

_APP_USE = f"kind NOT IN ({', '.join(repr(k) for k in NOT_APP_USE)})"


def _count_if(condition: str) -> str:
    return f"CAST(sum(CASE WHEN {condition} THEN 1 ELSE 0 END) AS BIGINT)"


#: CTEs (each followed by a comma) that a query's WITH list starts with: ``cut_month`` holds
#: `fact_seller_months`' columns for the cut month.
CUT_CTES = f"""
cut_orders AS (
    SELECT customer_id, seller_id, amount, units, autoship, ordered_at
    FROM orders
    WHERE $cut IS NOT NULL AND ordered_at >= $cut AND ordered_at < $as_of + 1
),
cut_events AS (
    SELECT seller_id, CAST(amount AS DOUBLE) AS revenue_amount, 1 AS orders, units,
        CASE WHEN autoship THEN CAST(amount AS DOUBLE) ELSE 0 END AS autoship_amount,
        CASE WHEN autoship THEN 1 ELSE 0 END AS autoship_orders,
        CAST(ordered_at AS DATE) AS last_sale_on,
        CASE WHEN autoship THEN CAST(ordered_at AS DATE) END AS last_autoship_on
    FROM cut_orders
    UNION ALL BY NAME
    SELECT fc.seller_id, 1 AS new_customers, coalesce(o.n, 0) AS new_customer_orders
    FROM fact_customers fc
    LEFT JOIN (SELECT customer_id, count(*) AS n FROM cut_orders GROUP BY customer_id) o
        ON o.customer_id = fc.customer_id
    WHERE $cut IS NOT NULL AND fc.first_order_on BETWEEN $cut AND $as_of
    UNION ALL BY NAME
    SELECT sponsor_id AS seller_id, 1 AS enrollments, enrolled_on AS last_enrollment_on
    FROM sellers
    WHERE $cut IS NOT NULL AND sponsor_id IS NOT NULL AND enrolled_on BETWEEN $cut AND $as_of
    UNION ALL BY NAME
    SELECT sponsor_id AS seller_id, 1 AS recruits_left
    FROM sellers
    WHERE $cut IS NOT NULL AND sponsor_id IS NOT NULL
      AND terminated_on BETWEEN $cut AND $as_of
    UNION ALL BY NAME
    SELECT seller_id, CASE WHEN app_uses > 0 THEN 1 ELSE 0 END AS app_days,
        CASE WHEN app_uses > 0 THEN day END AS last_app_on,
        follow_ups, content_shares, events_hosted, rank_steps
    FROM (
        SELECT seller_id, CAST(occurred_at AS DATE) AS day,
            {_count_if(_APP_USE)} AS app_uses,
            {_count_if("kind = 'follow_up'")} AS follow_ups,
            {_count_if("kind = 'content_share'")} AS content_shares,
            {_count_if("kind = 'event_hosted'")} AS events_hosted,
            {_count_if("kind = 'rank_advanced'")} AS rank_steps
        FROM activities
        WHERE $cut IS NOT NULL AND occurred_at >= $cut AND occurred_at < $as_of + 1
        GROUP BY seller_id, CAST(occurred_at AS DATE)
    ) d
    UNION ALL BY NAME
    SELECT seller_id, 1 AS courses_completed
    FROM course_completions
    WHERE $cut IS NOT NULL AND completed_on BETWEEN $cut AND $as_of
),
cut_month AS (
    SELECT seller_id, CAST($cut AS DATE) AS month,
        CAST(coalesce(sum(revenue_amount), 0) AS DOUBLE) AS revenue_amount,
        CAST(coalesce(sum(orders), 0) AS BIGINT) AS orders,
        CAST(coalesce(sum(units), 0) AS BIGINT) AS units,
        CAST(coalesce(sum(autoship_amount), 0) AS DOUBLE) AS autoship_amount,
        CAST(coalesce(sum(autoship_orders), 0) AS BIGINT) AS autoship_orders,
        CAST(coalesce(sum(new_customers), 0) AS BIGINT) AS new_customers,
        CAST(coalesce(sum(new_customer_orders), 0) AS BIGINT) AS new_customer_orders,
        CAST(coalesce(sum(enrollments), 0) AS BIGINT) AS enrollments,
        CAST(coalesce(sum(recruits_left), 0) AS BIGINT) AS recruits_left,
        CAST(coalesce(sum(app_days), 0) AS BIGINT) AS app_days,
        CAST(coalesce(sum(follow_ups), 0) AS BIGINT) AS follow_ups,
        CAST(coalesce(sum(content_shares), 0) AS BIGINT) AS content_shares,
        CAST(coalesce(sum(events_hosted), 0) AS BIGINT) AS events_hosted,
        CAST(coalesce(sum(courses_completed), 0) AS BIGINT) AS courses_completed,
        CAST(coalesce(sum(rank_steps), 0) AS BIGINT) AS rank_steps,
        max(last_sale_on) AS last_sale_on, max(last_autoship_on) AS last_autoship_on,
        max(last_enrollment_on) AS last_enrollment_on, max(last_app_on) AS last_app_on
    FROM cut_events
    GROUP BY seller_id
),"""

#: `fact_seller_months` with the cut month (if any) taken from ``cut_month``.
SELLER_MONTHS = """(
    SELECT * FROM fact_seller_months WHERE ($cut IS NULL OR month <> $cut)
    UNION ALL BY NAME
    SELECT * FROM cut_month
)"""
