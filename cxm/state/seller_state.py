"""Seller state: per live seller, as of the data's as-of date, what what-if rules and needs read.

Built once per load, after the facts and predicted customer value, as ONE declared SQL text
with stages, in the same engine-neutral dialect as `cxm.state.facts` (so `facts.spark_sql`
transpiles it to Spark SQL too). A slider on the What-if page never recomputes it.

`FIELDS` is the whitelist: the only columns an eligibility rule may name
(`cxm.whatif.rules`), each with its kind and, for categories, where its allowed values come
from. Every field is non-null; the defaults for "no data" are part of each definition below
(docs/whatif.md is generated from these records).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

from cxm.state.facts import Fact

#: Days in the window behind "active": a sale, an enrolment or a customer's autoship order.
ACTIVE_DAYS = 30
#: A seller is "new" for this many days after enrolling (the first 13 weeks).
NEW_DAYS = 90
#: A customer is active whose last order is in the ACTIVE_CUSTOMER_DAYS up to the as-of date
#: (0 to 89 days before it), lapsed whose last order is older but in the LAPSED_CUSTOMER_DAYS
#: up to it (90 to 364 days before); older customers are gone, not lapsed. "In the N days up
#: to a date" includes that date, as everywhere in docs/metrics.md.
ACTIVE_CUSTOMER_DAYS = 90
LAPSED_CUSTOMER_DAYS = 365
#: Windows of the sales and enrolment fields: sales_7d, enrollments_30d, revenue_90d and
#: orders_90d (and the market's average order cart_vs_market compares with) count these days.
SALES_DAYS = 7
ENROLMENT_DAYS = 30
RECENT_DAYS = 90
#: Statuses of a live seller (terminated sellers have no state), in order of precedence.
LIVE_STATUSES = ("new", "active", "inactive")

Kind = Literal["rank", "category", "int", "float", "courses"]


def customer_standing(days_since_last_order: int) -> str:
    """Return what a customer counts as for their seller: active, lapsed or gone.

    ``days_since_last_order`` is the as-of date minus the day of the last order (0: ordered on
    the as-of date). The rule `SELLER_STATE` applies in SQL, in words for docs/whatif.md.

    >>> [customer_standing(d) for d in (0, 89, 90, 364, 365)]
    ['active', 'active', 'lapsed', 'lapsed', 'gone']
    """
    if days_since_last_order < ACTIVE_CUSTOMER_DAYS:
        return "active"
    return "lapsed" if days_since_last_order < LAPSED_CUSTOMER_DAYS else "gone"


#: Days from a last order to the as-of date at each edge of the customer windows: the worked
#: example docs/whatif.md shows and tests/test_docs.py runs through `SELLER_STATE`.
CUSTOMER_EXAMPLE_DAYS = (
    ACTIVE_CUSTOMER_DAYS - 1,
    ACTIVE_CUSTOMER_DAYS,
    LAPSED_CUSTOMER_DAYS - 1,
    LAPSED_CUSTOMER_DAYS,
)


#: Days from an order to the as-of date at the edges of the sales windows (worked example).
SALES_EXAMPLE_DAYS = (SALES_DAYS - 1, SALES_DAYS, RECENT_DAYS - 1, RECENT_DAYS)


class CartExample(NamedTuple):
    """A market's orders in the RECENT_DAYS up to the as-of date, for the worked example of
    cart_vs_market: live sellers' order amounts, and those of a seller who left in the window.

    The market's average order is that of its live sellers: the cart a seller is measured
    against is the one of the sellers the what-if advises, in the same days. A seller who left
    (often with a large last order) would otherwise move every live seller's need without any
    of them changing, and the live sellers' cart_vs_market, weighted by their orders, would no
    longer average 1 (a cart-size need of 0.5 at the market's typical cart).

    >>> CART_EXAMPLE.market_average(), CART_EXAMPLE.ratios()
    (60.0, {'A': 0.5, 'B': 2.0})
    >>> round(CART_EXAMPLE.market_average(with_leavers=True), 2)
    270.0
    """

    live: dict[str, tuple[float, ...]]
    left: dict[str, tuple[float, ...]]

    def market_average(self, with_leavers: bool = False) -> float:
        """Return the market's average order: live sellers' orders (or all, to compare)."""
        groups = [*self.live.values(), *(self.left.values() if with_leavers else ())]
        amounts = [a for g in groups for a in g]
        return sum(amounts) / len(amounts)

    def ratios(self) -> dict[str, float]:
        """Return each live seller's cart_vs_market: their average order over the market's."""
        avg = self.market_average()
        return {s: sum(a) / len(a) / avg for s, a in self.live.items()}


#: Live seller A: two orders of 30; live seller B: one of 120; C left in the window after one
#: order of 900. The market's average order is 180 / 3 = 60, not 1,080 / 4 = 270.
CART_EXAMPLE = CartExample(live={"A": (30.0, 30.0), "B": (120.0,)}, left={"C": (900.0,)})


@dataclass(frozen=True)
class StateField:
    """One whitelisted seller-state column.

    ``kind``: ``rank`` (compared along the company's ladder), ``category`` (one of
    ``values_from``: ``markets``, ``languages`` or ``statuses``), ``int``, ``float``, or
    ``courses`` (the list of course ids done; rules ask it with ``course_done``).
    """

    name: str
    kind: Kind
    definition: str
    values_from: str | None = None


FIELDS: tuple[StateField, ...] = (
    StateField("rank", "rank", "Current rank on the company's ladder.", "ranks"),
    StateField("market", "category", "Market the seller belongs to.", "markets"),
    StateField("language", "category", "The seller's language.", "languages"),
    StateField(
        "status",
        "category",
        f"new (enrolled in the last {NEW_DAYS} days), else active (a sale, an enrolment or a "
        f"customer's autoship order in the last {ACTIVE_DAYS} days), else inactive.",
        "statuses",
    ),
    StateField("tenure_days", "int", "Days from enrolment to the as-of date."),
    StateField("weekly_sales_goal", "float", "The seller's own weekly sales goal (0: none set)."),
    StateField(
        "sales_7d",
        "float",
        f"Sales in the {SALES_DAYS} days up to the as-of date (that day included).",
    ),
    StateField(
        "weekly_sales_progress",
        "float",
        "sales_7d / weekly_sales_goal, not capped (1 when no goal is set).",
    ),
    StateField("monthly_enrollment_goal", "int", "The seller's monthly enrolment goal (0: none)."),
    StateField(
        "enrollments_30d",
        "int",
        f"Sellers they enrolled in the {ENROLMENT_DAYS} days up to the as-of date.",
    ),
    StateField(
        "enrollment_progress",
        "float",
        "enrollments_30d / monthly_enrollment_goal, not capped (1 when no goal is set).",
    ),
    StateField("new_downline_30d", "int", "Of enrollments_30d, those still with the company."),
    StateField("frontline", "int", "Sellers they enrolled who are still with the company."),
    StateField(
        "customers",
        "int",
        "Customers they served who ordered by the as-of date: active, lapsed and gone.",
    ),
    StateField(
        "active_customers",
        "int",
        f"Customers whose last order is in the {ACTIVE_CUSTOMER_DAYS} days up to the as-of date "
        f"(0 to {ACTIVE_CUSTOMER_DAYS - 1} days before it).",
    ),
    StateField(
        "lapsed_customers",
        "int",
        f"Customers whose last order is {ACTIVE_CUSTOMER_DAYS} to {LAPSED_CUSTOMER_DAYS - 1} "
        f"days before the as-of date: none in the last {ACTIVE_CUSTOMER_DAYS} days, one in the "
        f"last {LAPSED_CUSTOMER_DAYS} (older customers are gone, not lapsed).",
    ),
    StateField(
        "customers_at_risk",
        "int",
        "Customers the customer-value model gives P(alive) under 0.5 (0 when no model fits).",
    ),
    StateField(
        "repeat_customer_share",
        "float",
        "Share of their customers who bought on two days or more (0 with no customers).",
    ),
    StateField("revenue_90d", "float", f"Sales in the {RECENT_DAYS} days up to the as-of date."),
    StateField("orders_90d", "int", f"Orders in the {RECENT_DAYS} days up to the as-of date."),
    StateField(
        "cart_vs_market",
        "float",
        "revenue_90d / orders_90d over the market's average order in the same days, from the "
        "orders of the market's live sellers (1 with no orders).",
    ),
    StateField(
        "rank_progress",
        "float",
        "revenue_90d over the average revenue_90d of live sellers one rank up, capped at 1 "
        "(1 at the top rank, or when sellers one rank up average no sales).",
    ),
    StateField(
        "days_since_app",
        "int",
        "Days since they last used the seller app (tenure_days when never).",
    ),
    StateField("days_since_sale", "int", "Days since their last sale (tenure_days when never)."),
    StateField(
        "compliance_missing",
        "int",
        "Compliance courses their rank requires that they have not completed.",
    ),
    StateField(
        "courses_unlocked",
        "int",
        "Courses open to them (rank reached, prerequisites done) that they have not done.",
    ),
    StateField("courses_done", "courses", "Ids of the courses they completed."),
)

FIELD_NAMES = tuple(f.name for f in FIELDS)

_O = "CAST(o.ordered_at AS DATE)"

#: The state, as one fact-shaped declaration: stages then the final text. It reads the facts,
#: the courses, predicted customer value and ``dim_as_of`` (one row: the data's as-of date).
SELLER_STATE = Fact(
    "seller_state",
    "one live seller as of the data's as-of date: every field the what-if rules may name",
    f"""
WITH live AS (
    SELECT s.seller_id, s.sponsor_id, s.enrolled_on, s.market, s.language,
        s.current_rank_index AS rank_index,
        CAST(s.weekly_sales_goal AS DOUBLE) AS weekly_sales_goal,
        CAST(s.monthly_enrollment_goal AS BIGINT) AS monthly_enrollment_goal,
        CAST(date_diff('day', s.enrolled_on, a.as_of) AS BIGINT) AS tenure_days, a.as_of
    FROM fact_sellers s CROSS JOIN dim_as_of a
    WHERE s.enrolled_on <= a.as_of AND (s.terminated_on IS NULL OR s.terminated_on > a.as_of)
), recruits AS (
    SELECT r.sponsor_id AS seller_id,
        CAST(sum(CASE WHEN r.enrolled_on > a.as_of - INTERVAL {ENROLMENT_DAYS} DAY
                 THEN 1 ELSE 0 END) AS BIGINT) AS enrollments_30d,
        CAST(sum(CASE WHEN r.enrolled_on > a.as_of - INTERVAL {ENROLMENT_DAYS} DAY
                       AND (r.terminated_on IS NULL OR r.terminated_on > a.as_of)
                  THEN 1 ELSE 0 END) AS BIGINT) AS new_downline_30d,
        CAST(sum(CASE WHEN r.terminated_on IS NULL OR r.terminated_on > a.as_of
                  THEN 1 ELSE 0 END) AS BIGINT) AS frontline
    FROM fact_sellers r CROSS JOIN dim_as_of a
    WHERE r.sponsor_id IS NOT NULL AND r.enrolled_on <= a.as_of
    GROUP BY r.sponsor_id
), lasts AS (
    SELECT m.seller_id, max(m.last_app_on) AS last_app_on, max(m.last_sale_on) AS last_sale_on,
        max(m.last_enrollment_on) AS last_enrollment_on,
        max(m.last_autoship_on) AS last_autoship_on
    FROM fact_seller_months m CROSS JOIN dim_as_of a
    WHERE m.month <= a.as_of
    GROUP BY m.seller_id
), valued AS (
    SELECT v.seller_id, CAST(v.customers_at_risk AS BIGINT) AS customers_at_risk
    FROM fact_seller_value v JOIN dim_as_of a ON v.scored_as_of = a.as_of
), base AS (
    SELECT l.*, r.rank,
        coalesce(o.sales_7d, 0) AS sales_7d,
        coalesce(o.revenue_90d, 0) AS revenue_90d,
        coalesce(o.orders_90d, 0) AS orders_90d,
        coalesce(rc.enrollments_30d, 0) AS enrollments_30d,
        coalesce(rc.new_downline_30d, 0) AS new_downline_30d,
        coalesce(rc.frontline, 0) AS frontline,
        coalesce(c.customers, 0) AS customers,
        coalesce(c.active_customers, 0) AS active_customers,
        coalesce(c.lapsed_customers, 0) AS lapsed_customers,
        coalesce(c.repeaters, 0) AS repeaters,
        coalesce(v.customers_at_risk, 0) AS customers_at_risk,
        coalesce(cs.courses_done, CAST([] AS VARCHAR[])) AS courses_done,
        coalesce(cs.compliance_done, 0) AS compliance_done,
        coalesce(u.courses_unlocked, 0) AS courses_unlocked,
        q.compliance_required,
        CASE WHEN l.enrolled_on > l.as_of - INTERVAL {NEW_DAYS} DAY THEN 'new'
             WHEN ls.last_sale_on > l.as_of - INTERVAL {ACTIVE_DAYS} DAY
                  OR ls.last_enrollment_on > l.as_of - INTERVAL {ACTIVE_DAYS} DAY
                  OR ls.last_autoship_on > l.as_of - INTERVAL {ACTIVE_DAYS} DAY
             THEN 'active' ELSE 'inactive' END AS status,
        CAST(coalesce(date_diff('day', ls.last_app_on, l.as_of), l.tenure_days) AS BIGINT)
            AS days_since_app,
        CAST(coalesce(date_diff('day', ls.last_sale_on, l.as_of), l.tenure_days) AS BIGINT)
            AS days_since_sale
    FROM live l
    JOIN dim_ranks r ON r.rank_index = l.rank_index
    JOIN state_required q ON q.rank_index = l.rank_index
    LEFT JOIN state_orders o ON o.seller_id = l.seller_id
    LEFT JOIN recruits rc ON rc.seller_id = l.seller_id
    LEFT JOIN state_customers c ON c.seller_id = l.seller_id
    LEFT JOIN valued v ON v.seller_id = l.seller_id
    LEFT JOIN state_courses cs ON cs.seller_id = l.seller_id
    LEFT JOIN state_unlocked u ON u.seller_id = l.seller_id
    LEFT JOIN lasts ls ON ls.seller_id = l.seller_id
), markets AS (
    SELECT market, sum(revenue_90d) / sum(orders_90d) AS market_avg_order
    FROM base GROUP BY market HAVING sum(orders_90d) > 0
), next_rank AS (
    SELECT rank_index - 1 AS rank_index, avg(revenue_90d) AS next_rank_revenue
    FROM base GROUP BY rank_index
)
SELECT b.seller_id, b.rank, b.rank_index, b.market, b.language, b.status, b.tenure_days,
    b.weekly_sales_goal, b.sales_7d,
    CASE WHEN b.weekly_sales_goal > 0 THEN b.sales_7d / b.weekly_sales_goal ELSE 1.0 END
        AS weekly_sales_progress,
    b.monthly_enrollment_goal, b.enrollments_30d,
    CASE WHEN b.monthly_enrollment_goal > 0
         THEN CAST(b.enrollments_30d AS DOUBLE) / b.monthly_enrollment_goal ELSE 1.0 END
        AS enrollment_progress,
    b.new_downline_30d, b.frontline, b.customers, b.active_customers, b.lapsed_customers,
    b.customers_at_risk,
    CASE WHEN b.customers > 0 THEN CAST(b.repeaters AS DOUBLE) / b.customers ELSE 0.0 END
        AS repeat_customer_share,
    b.revenue_90d, b.orders_90d,
    CASE WHEN b.orders_90d > 0 AND m.market_avg_order > 0
         THEN b.revenue_90d / b.orders_90d / m.market_avg_order ELSE 1.0 END AS cart_vs_market,
    CASE WHEN n.next_rank_revenue > 0 THEN least(1.0, b.revenue_90d / n.next_rank_revenue)
         ELSE 1.0 END AS rank_progress,
    b.days_since_app, b.days_since_sale,
    b.compliance_required - b.compliance_done AS compliance_missing,
    b.courses_unlocked, b.courses_done
FROM base b
LEFT JOIN markets m ON m.market = b.market
LEFT JOIN next_rank n ON n.rank_index = b.rank_index""",
    (
        (
            "state_orders",
            f"""
    SELECT o.seller_id,
        sum(CASE WHEN {_O} > a.as_of - INTERVAL {SALES_DAYS} DAY THEN CAST(o.amount AS DOUBLE)
                 ELSE 0 END) AS sales_7d,
        sum(CAST(o.amount AS DOUBLE)) AS revenue_90d,
        CAST(count(*) AS BIGINT) AS orders_90d
    FROM orders o CROSS JOIN dim_as_of a
    WHERE {_O} > a.as_of - INTERVAL {RECENT_DAYS} DAY AND {_O} <= a.as_of
    GROUP BY o.seller_id""",
        ),
        (
            "state_customers",
            f"""
    SELECT c.seller_id, CAST(count(*) AS BIGINT) AS customers,
        CAST(sum(CASE WHEN c.last_order_on > a.as_of - INTERVAL {ACTIVE_CUSTOMER_DAYS} DAY
                 THEN 1 ELSE 0 END) AS BIGINT) AS active_customers,
        CAST(sum(CASE WHEN c.last_order_on <= a.as_of - INTERVAL {ACTIVE_CUSTOMER_DAYS} DAY
                       AND c.last_order_on > a.as_of - INTERVAL {LAPSED_CUSTOMER_DAYS} DAY
                 THEN 1 ELSE 0 END) AS BIGINT) AS lapsed_customers,
        CAST(sum(CASE WHEN c.purchase_days >= 2 THEN 1 ELSE 0 END) AS BIGINT) AS repeaters
    FROM fact_customers c CROSS JOIN dim_as_of a
    WHERE c.first_order_on <= a.as_of
    GROUP BY c.seller_id""",
        ),
        (
            "state_required",
            """
    SELECT r.rank_index, CAST(count(c.course_id) AS BIGINT) AS compliance_required
    FROM dim_ranks r
    LEFT JOIN (SELECT c.course_id, cr.rank_index FROM courses c
               JOIN dim_ranks cr ON cr.rank = c.min_rank WHERE c.compliance) c
        ON c.rank_index <= r.rank_index
    GROUP BY r.rank_index""",
        ),
        (
            "state_done",
            """
    SELECT cc.seller_id, cc.course_id, c.compliance, cr.rank_index AS min_rank_index
    FROM course_completions cc CROSS JOIN dim_as_of a
    JOIN courses c ON c.course_id = cc.course_id
    JOIN dim_ranks cr ON cr.rank = c.min_rank
    WHERE cc.completed_on <= a.as_of""",
        ),
        (
            "state_courses",
            """
    SELECT d.seller_id, list_sort(list(d.course_id)) AS courses_done,
        CAST(sum(CASE WHEN d.compliance AND d.min_rank_index <= s.current_rank_index
                 THEN 1 ELSE 0 END) AS BIGINT) AS compliance_done
    FROM state_done d JOIN fact_sellers s ON s.seller_id = d.seller_id
    GROUP BY d.seller_id""",
        ),
        (
            "state_unlocked",
            """
    WITH prereqs AS (
        SELECT c.course_id, p.prereq_id
        FROM courses c CROSS JOIN UNNEST(c.prerequisites) AS p(prereq_id)
    ), open AS (
        SELECT s.seller_id, c.course_id
        FROM fact_sellers s CROSS JOIN dim_as_of a
        JOIN dim_ranks cr ON cr.rank_index <= s.current_rank_index
        JOIN courses c ON c.min_rank = cr.rank
        LEFT JOIN state_done d ON d.seller_id = s.seller_id AND d.course_id = c.course_id
        WHERE d.seller_id IS NULL AND s.enrolled_on <= a.as_of
          AND (s.terminated_on IS NULL OR s.terminated_on > a.as_of)
    ), blocked AS (
        SELECT DISTINCT o.seller_id, o.course_id
        FROM open o JOIN prereqs p ON p.course_id = o.course_id
        LEFT JOIN state_done d ON d.seller_id = o.seller_id AND d.course_id = p.prereq_id
        WHERE d.seller_id IS NULL
    )
    SELECT o.seller_id, CAST(count(*) AS BIGINT) AS courses_unlocked
    FROM open o LEFT JOIN blocked b ON b.seller_id = o.seller_id AND b.course_id = o.course_id
    WHERE b.seller_id IS NULL
    GROUP BY o.seller_id""",
        ),
    ),
    order_by=("market", "language", "rank_index", "seller_id"),
)
