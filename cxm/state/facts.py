"""The seller facts: compact tables derived from the raw warehouse tables once per load.

Every KPI and report reads these (about a million rows at 1,000,000 sellers) instead of 45
million orders. Each fact is ONE SQL text in DuckDB's dialect, restricted to constructs that
SQLGlot transpiles to Spark SQL (`spark_sql`), so a company that outgrows one machine runs the
same declaration on Apache Spark; there is no second, hand-kept copy. Names of the tables read
are the warehouse's; the config-derived lookup `dim_ranks` is written first (`config_tables`).

Attribution, decided once (docs/metrics.md): every row belongs to the seller who served it. An
order to its ``seller_id``; a customer to ``customers.seller_id``; a customer's survey answer to
its ``seller_id``, else to the customer's seller; a seller's answer to that seller; a ticket to
the requesting seller, or to the requesting customer's seller. Corporate answers belong to no
seller, only to their market. Dates are company-local calendar dates, never the server's clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from cxm.state.windows import REORDER_DAYS

#: Activity kinds that are business events, not uses of the seller app.
NOT_APP_USE = ("enrollment", "rank_advanced")


@dataclass(frozen=True)
class Fact:
    """One derived table: its name, grain, and the SQL text that builds it.

    ``stages`` are (name, SQL) pairs materialised first, in order, as temporary tables the
    final text reads; run one at a time they bound the memory a large aggregation needs
    (DuckDB spilled 8 GB running the parts of the seller periods at once).
    """

    name: str
    grain: str
    sql: str
    stages: tuple[tuple[str, str], ...] = ()
    #: The physical order the table is stored in (DuckDB's zone maps skip the row groups a
    #: period does not touch); each engine applies it its own way (`cxm.state.engine`).
    order_by: tuple[str, ...] = ()


#: Columns of a seller-month: sums (added when months roll up) and last days (maxima).
SUMS = (
    "revenue_amount orders units autoship_amount autoship_orders new_customers "
    "new_customer_orders enrollments recruits_left app_days follow_ups content_shares "
    "events_hosted courses_completed rank_steps"
).split()
MAXES = "last_sale_on last_autoship_on last_enrollment_on last_app_on".split()
_DOUBLES = {"revenue_amount", "autoship_amount"}


def _part(name: str, measures: dict[str, str], source: str, month: str) -> tuple[str, str]:
    """Return one stage: ``measures`` per seller and month of ``source``."""
    cols = []
    for c, expr in measures.items():
        if c in MAXES:
            cols.append(f"{expr} AS {c}")
        else:
            # Counts stay BIGINT: DuckDB widens sum() of integers to HUGEINT, which is twice
            # the width and made every query of the facts markedly slower.
            cols.append(f"CAST({expr} AS {'DOUBLE' if c in _DOUBLES else 'BIGINT'}) AS {c}")
    body = ",\n        ".join(cols)
    return (
        name,
        f"""
    SELECT seller_id, {month} AS period_start,
        {body}
    FROM {source}
    GROUP BY seller_id, {month}""",
    )


def _month(column: str) -> str:
    return f"CAST(date_trunc('month', {column}) AS DATE)"


_APP_USE = f"kind NOT IN ({', '.join(repr(k) for k in NOT_APP_USE)})"

#: The seller-month stages: one aggregation per source table, run one after another.
SELLER_MONTH_STAGES = (
    _part(
        "stage_orders",
        {
            "revenue_amount": "sum(CAST(amount AS DOUBLE))",
            "orders": "count(*)",
            "units": "sum(units)",
            "autoship_amount": "sum(CASE WHEN autoship THEN CAST(amount AS DOUBLE) ELSE 0 END)",
            "autoship_orders": "sum(CASE WHEN autoship THEN 1 ELSE 0 END)",
            # The day of the last time, not the last of the days: one cast per group.
            "last_sale_on": "CAST(max(ordered_at) AS DATE)",
            "last_autoship_on": "CAST(max(CASE WHEN autoship THEN ordered_at END) AS DATE)",
        },
        "orders",
        _month("ordered_at"),
    ),
    _part(
        "stage_new_customers",
        {"new_customers": "count(*)", "new_customer_orders": "sum(first_month_orders)"},
        "fact_customers",
        _month("first_order_on"),
    ),
    # A sponsor's enrolments come from the sellers table (who joined under whom), not from
    # activities, so an import without enrolment activities still counts them.
    _part(
        "stage_recruits",
        {"enrollments": "count(*)", "last_enrollment_on": "max(enrolled_on)"},
        "(SELECT sponsor_id AS seller_id, enrolled_on FROM sellers WHERE sponsor_id IS NOT NULL) r",
        _month("enrolled_on"),
    ),
    _part(
        "stage_leavers",
        {"recruits_left": "count(*)"},
        "(SELECT sponsor_id AS seller_id, terminated_on FROM sellers "
        "WHERE sponsor_id IS NOT NULL AND terminated_on IS NOT NULL) r",
        _month("terminated_on"),
    ),
    # The activity counts straight from the activities; app days are distinct days, so first
    # one row per seller and day of app use, then count the rows (twice as fast as
    # count(DISTINCT ...) at 18M activities). Apart, the counts skip the grouping by day:
    # 10.2-10.5 s of CPU against 11.9-12.6 s for both from the days at 1,000,000 sellers
    # (load 4).
    _part(
        "stage_activities",
        {
            "follow_ups": "sum(CASE WHEN kind = 'follow_up' THEN 1 ELSE 0 END)",
            "content_shares": "sum(CASE WHEN kind = 'content_share' THEN 1 ELSE 0 END)",
            "events_hosted": "sum(CASE WHEN kind = 'event_hosted' THEN 1 ELSE 0 END)",
            "rank_steps": "sum(CASE WHEN kind = 'rank_advanced' THEN 1 ELSE 0 END)",
        },
        "activities",
        _month("occurred_at"),
    ),
    _part(
        "stage_app_days",
        {"app_days": "count(*)", "last_app_on": "max(day)"},
        f"""(SELECT DISTINCT seller_id, CAST(occurred_at AS DATE) AS day
        FROM activities WHERE {_APP_USE}) d""",
        _month("day"),
    ),
    _part(
        "stage_courses",
        {"courses_completed": "count(*)"},
        "course_completions",
        _month("completed_on"),
    ),
)


def _seller_months() -> str:
    # Every measure adds up over months (sums) or is a last day (maxima), so a quarter or a
    # year is its months, summed at query time, and a period cut short at an as-of date is
    # the months up to it. Each measure comes from one stage, so the stages are joined on
    # (seller, month), not stacked and summed again: 19 aggregates over the stacked 13
    # million rows took twice as long at 1,000,000 sellers. Full joins USING the keys (each
    # key is the first stage's that has the row): 5.7-6.9 s of CPU against 8.8-8.9 s for the
    # union of the keys left-joined to every stage (1,000,000 sellers, load 4). Sorted by month
    # (as the other facts are by their day), so a period's query skips the row groups of
    # other months.
    names = [name for name, _ in SELLER_MONTH_STAGES]
    cols = [
        f"CAST(coalesce({c}, 0) AS {'DOUBLE' if c in _DOUBLES else 'BIGINT'}) AS {c}" for c in SUMS
    ] + list(MAXES)
    joins = "".join(f"\nFULL JOIN {n} USING (seller_id, period_start)" for n in names[1:])
    return f"""SELECT seller_id, period_start AS month, {", ".join(cols)}
FROM {names[0]}{joins}"""


#: Each customer's orders in time; ties in time are on the same day, so nothing that
#: reads a day from this order depends on how the engine breaks them.
_BY_CUSTOMER = "OVER (PARTITION BY customer_id ORDER BY ordered_at)"
#: Each customer's orders of one product line in time.
_BY_LINE = "OVER (PARTITION BY customer_id, product_line ORDER BY ordered_at)"


#: The derived tables, in build order (a fact may read the facts before it).
FACTS: tuple[Fact, ...] = (
    Fact(
        "fact_customers",
        "one customer who ordered: serving seller, first, second and last order day, orders "
        "in all and in the month of the first, purchase days and the amount bought after the "
        "first day (what the customer-value models read)",
        # One sort of the orders by customer and time, no grouping by customer and day: at
        # 1,000,000 sellers nearly every order is its customer's only one that day, so the
        # 46 million customer-days (then grouped again by customer and joined back to find
        # the second day) cost 54 s of CPU (49 s wall), the window and one GROUP BY by
        # customer 31 s (19 s wall), back to back at a load of 5 on 2 cores.
        # Same-day orders are one purchase day, as the customer-value literature counts
        # purchases (Fader, Hardie and Lee 2005): a day is new when the order before it (in
        # time) was on an earlier day, and the second order day is the first day after the
        # first.
        f"""
WITH timeline AS (
    SELECT customer_id, CAST(ordered_at AS DATE) AS day, amount,
           lag(CAST(ordered_at AS DATE)) {_BY_CUSTOMER} AS previous_day,
           first_value(CAST(ordered_at AS DATE)) {_BY_CUSTOMER} AS first_day
    FROM orders
), firsts AS (
    SELECT customer_id, min(first_day) AS first_order_on,
           min(CASE WHEN day > first_day THEN day END) AS second_order_on,
           max(day) AS last_order_on, count(*) AS orders,
           CAST(sum(CASE WHEN date_trunc('month', day) = date_trunc('month', first_day)
                         THEN 1 ELSE 0 END) AS BIGINT) AS first_month_orders,
           CAST(sum(CASE WHEN previous_day IS NULL OR previous_day < day THEN 1 ELSE 0 END)
                AS BIGINT) AS purchase_days,
           -- Summed exactly (DECIMAL), then made DOUBLE: the same bits on every engine, so
           -- the customer value fits read the same numbers wherever the facts were derived.
           CAST(sum(CASE WHEN day > first_day THEN amount ELSE 0 END) AS DOUBLE)
               AS repeat_amount
    FROM timeline GROUP BY customer_id
)
SELECT f.customer_id, c.seller_id, c.market, f.first_order_on, f.second_order_on,
       f.last_order_on, f.orders, f.first_month_orders, f.purchase_days, f.repeat_amount
FROM firsts f JOIN customers c ON c.customer_id = f.customer_id""",
        order_by=("first_order_on",),
    ),
    Fact(
        "fact_seller_months",
        "one seller in one month in which they had any event",
        _seller_months(),
        SELLER_MONTH_STAGES,
        order_by=("month",),
    ),
    Fact(
        "fact_sellers",
        "one seller: the sellers columns every KPI reads, the current rank's index, the "
        "sponsor's leaving day, the first sale day and whether their rank history is recorded",
        # The seller base reads this table alone (no join back to sellers for the seller or
        # the sponsor): a third of a full report's time at 1,000,000 sellers went to those.
        """
WITH sales AS (
    SELECT seller_id, CAST(min(ordered_at) AS DATE) AS first_sale_on FROM orders
    GROUP BY seller_id
), steps AS (
    SELECT DISTINCT seller_id FROM activities WHERE kind = 'rank_advanced'
)
SELECT s.seller_id, s.sponsor_id, s.enrolled_on, s.terminated_on, s.market, s.language,
       s.weekly_sales_goal, s.monthly_enrollment_goal, r.rank_index AS current_rank_index,
       sp.terminated_on AS sponsor_terminated_on, sa.first_sale_on,
       st.seller_id IS NOT NULL AS has_rank_history
FROM sellers s
JOIN dim_ranks r ON r.rank = s.rank
LEFT JOIN sellers sp ON sp.seller_id = s.sponsor_id
LEFT JOIN sales sa ON sa.seller_id = s.seller_id
LEFT JOIN steps st ON st.seller_id = s.seller_id""",
        order_by=("enrolled_on",),
    ),
    Fact(
        "fact_rank_steps",
        "one step up the rank ladder: seller, rank index reached, day",
        """
SELECT a.seller_id, r.rank_index, CAST(a.occurred_at AS DATE) AS reached_on
FROM activities a JOIN dim_ranks r ON r.rank = a.ref
WHERE a.kind = 'rank_advanced'""",
    ),
    Fact(
        "fact_compliance",
        "one seller and rank: the day they had every compliance course that rank requires",
        """
WITH levels AS (
    SELECT r.rank_index, c.course_id
    FROM dim_ranks r
    JOIN courses c ON c.compliance
    JOIN dim_ranks cr ON cr.rank = c.min_rank AND cr.rank_index <= r.rank_index
), required AS (
    SELECT rank_index, count(*) AS required FROM levels GROUP BY rank_index
)
SELECT cc.seller_id, l.rank_index, max(cc.completed_on) AS compliant_on
FROM course_completions cc
JOIN levels l ON l.course_id = cc.course_id
JOIN required q ON q.rank_index = l.rank_index
GROUP BY cc.seller_id, l.rank_index, q.required
HAVING count(*) = q.required""",
    ),
    Fact(
        "fact_answers",
        "one survey answer with the seller it belongs to (none for corporate answers)",
        """
SELECT r.response_id, r.respondent_type,
       CASE WHEN r.respondent_type = 'seller' THEN r.respondent_id
            WHEN r.respondent_type = 'customer' THEN coalesce(r.seller_id, c.seller_id)
       END AS seller_id,
       r.market, r.language, r.answered_on, r.question, r.score
FROM survey_responses r
LEFT JOIN customers c ON r.respondent_type = 'customer' AND c.customer_id = r.respondent_id""",
        order_by=("answered_on",),
    ),
    Fact(
        "fact_tickets",
        "one support ticket with the seller it belongs to and its first-response time",
        """
SELECT t.ticket_id,
       CASE WHEN t.requester_type = 'seller' THEN t.requester_id ELSE c.seller_id END
           AS seller_id,
       t.market, t.language, t.channel, CAST(t.opened_at AS DATE) AS opened_on,
       -- Microseconds, the finest unit: date_diff counts unit boundaries crossed, so in
       -- minutes 10:00:59 -> 10:01:01 would count as a whole minute.
       -- A DOUBLE divisor: a decimal literal types the column DECIMAL on Spark.
       date_diff('microsecond', t.opened_at, t.first_response_at) / CAST(60000000 AS DOUBLE)
           AS first_response_minutes,
       CASE WHEN t.first_response_at IS NOT NULL
                 AND CAST(t.first_response_at AS DATE) = CAST(t.opened_at AS DATE)
            THEN 1 ELSE 0 END AS answered_same_day,
       CASE WHEN t.first_response_at IS NOT NULL
                 AND date_diff('microsecond', t.opened_at, t.first_response_at)
                     <= 3600000000
            THEN 1 ELSE 0 END AS answered_within_hour
FROM tickets t
LEFT JOIN customers c ON t.requester_type = 'customer' AND c.customer_id = t.requester_id""",
        order_by=("opened_on",),
    ),
    Fact(
        "fact_line_buyers",
        "one serving seller, product line and day of a customer's first purchase of it, with "
        f"how many of those customers bought the line again within {REORDER_DAYS} days",
        # One sort of the orders by customer, line and time, no join back: the order that
        # opens a customer's second day of a line follows one of the first day (ties in time
        # are on one day), so "bought again within the window" is that order's day, read
        # with lag(). At 1,000,000 sellers this costs what the GROUP BY (customer, line) with
        # arg_min and a join back to all 46 million orders cost (29-33 s of CPU each, load
        # 5-7; min() instead of arg_min, too): the sort is the price of the 46 million rows.
        f"""
WITH timeline AS (
    SELECT product_line, CAST(ordered_at AS DATE) AS day,
           lag(CAST(ordered_at AS DATE)) {_BY_LINE} AS previous_day,
           first_value(CAST(ordered_at AS DATE)) {_BY_LINE} AS first_on,
           first_value(seller_id) {_BY_LINE} AS seller_id
    FROM orders
)
-- A first purchase (no order before it), or the order opening the next day of the line:
-- the window is fixed (first_on < day <= first_on + {REORDER_DAYS}), so a query counts it once
-- closed (first_on + {REORDER_DAYS} <= its as-of date) and never needs a day after that.
SELECT seller_id, product_line, first_on,
       CAST(sum(CASE WHEN previous_day IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS buyers,
       CAST(sum(CASE WHEN previous_day IS NOT NULL
                     AND date_diff('day', first_on, day) <= {REORDER_DAYS} THEN 1 ELSE 0 END)
            AS BIGINT) AS rebuyers
FROM timeline
WHERE previous_day IS NULL OR (previous_day = first_on AND day > first_on)
GROUP BY seller_id, product_line, first_on""",
        order_by=("first_on",),
    ),
)


def transpile(sql: str) -> str:
    """Return ``sql`` (DuckDB's dialect) as Spark SQL.

    Raises ``sqlglot.errors.UnsupportedError`` when the text uses something Spark lacks, so a
    non-portable construct is caught by the test suite, not by a company on Spark.
    """
    import sqlglot
    from sqlglot.errors import ErrorLevel

    (out,) = sqlglot.transpile(
        sql, read="duckdb", write="spark", unsupported_level=ErrorLevel.RAISE
    )
    return out


def spark_sql(fact: Fact) -> list[tuple[str, str]]:
    """Return the fact's stages and final text transpiled to Spark SQL: [(name, sql)]."""
    return [(name, transpile(sql)) for name, sql in (*fact.stages, (fact.name, fact.sql))]
