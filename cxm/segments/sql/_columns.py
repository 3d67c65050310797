"""The seller base's texts: where a seller's rank comes from, their segment columns, the
CTEs every base starts with, and one column per measure (docs/metrics.md)."""

from __future__ import annotations

from cxm.segments.cut import SELLER_MONTHS
from cxm.segments.filter import TENURE_BANDS, TRAINING_TIERS
from cxm.segments.sql._window import APP_DAYS, CUSTOMER_QS, SELLER_QS, _case
from cxm.state.seller_state import ACTIVE_DAYS, NEW_DAYS
from cxm.state.windows import (
    FIRST_SALE_DAYS,
    REORDER_DAYS,
    RETENTION_12M_DAYS,
    RETENTION_DAYS,
    SPONSOR_LEFT_DAYS,
)

#: Where a seller's rank comes from: the steps reached by the as-of date (a seller with no
#: recorded steps keeps their current rank), or by their enrolment day (the ladder's first
#: rank unless a step is recorded on or before that day: cohorts and the fast-start funnel
#: filter by the rank their window started at, so a filter does not keep only survivors).
_RANK_STEPS = {
    "as_of": (
        "SELECT seller_id, max(rank_index) AS rank_index FROM fact_rank_steps "
        "WHERE reached_on <= $as_of GROUP BY seller_id",
        "CASE WHEN s.has_rank_history THEN 0 ELSE s.current_rank_index END",
    ),
    "enrolment": (
        "SELECT rs.seller_id, max(rs.rank_index) AS rank_index FROM fact_rank_steps rs "
        "JOIN fact_sellers e ON e.seller_id = rs.seller_id "
        "WHERE rs.reached_on <= e.enrolled_on GROUP BY rs.seller_id",
        "0",
    ),
}


def _line_sums(t: str) -> str:
    # A customer's first purchase of a line belongs to the period its day REORDER_DAYS falls
    # in (as customer_90d's first order): closed, as day N <= $end <= $observed; open while
    # day N is after $observed. `fact_line_buyers` counts a rebuy on days 1..N only, so a
    # closed window reads nothing after $observed and needs no cut month (`segments.cut`).
    due = f"{t}.first_on <= $end - {REORDER_DAYS}"
    return (
        f"sum(CASE WHEN {due} THEN {t}.buyers ELSE 0 END) AS line_buyers, "
        f"sum(CASE WHEN {due} THEN {t}.rebuyers ELSE 0 END) AS line_rebuyers, "
        f"sum(CASE WHEN {t}.first_on > $observed - {REORDER_DAYS} THEN {t}.buyers ELSE 0 END)"
        " AS line_buyers_open"
    )


def _line_where(t: str) -> str:
    # The bounds on the column itself, so the fact's zone maps (sorted by day) skip old rows.
    return (
        f"{t}.first_on BETWEEN $start - {REORDER_DAYS} AND $period_end - {REORDER_DAYS} "
        f"AND {t}.first_on <= $observed"
    )


#: A seller still enrolled on their day N (``{day}``: the enrolment day plus N).
_STAYED = "(k.terminated_on IS NULL OR k.terminated_on > {day})"


def _enrolment_window(days: int, outcome: str, suffix: str, met: str) -> str:
    """Return the three columns of a window from enrolment: ``reached_<suffix>`` (the sellers
    whose day ``days`` falls in the period, closed since $end <= $observed), ``<met>_<suffix>``
    (those of them with ``outcome``, a condition on ``{day}``) and ``open_<suffix>`` (those
    whose day falls in the period after $observed: open, not counted)."""
    day = f"k.enrolled_on + {days}"
    return f"""CASE WHEN {day} BETWEEN $start AND $end THEN 1 ELSE 0 END AS reached_{suffix},
        CASE WHEN {day} BETWEEN $start AND $end AND {outcome.format(day=day)}
             THEN 1 ELSE 0 END AS {met}_{suffix},
        CASE WHEN {day} BETWEEN $start AND $period_end AND {day} > $observed
             THEN 1 ELSE 0 END AS open_{suffix}"""


#: A seller's status as of ``$as_of`` (``k``: the seller; ``r``: their recent activity).
_STATUS = f"""CASE WHEN k.terminated_on <= $as_of THEN 'terminated'
             WHEN k.enrolled_on > $as_of - {NEW_DAYS} THEN 'new'
             WHEN r.is_active = 1 THEN 'active'
             ELSE 'inactive' END"""

#: Each seller's segment (what a filter or a breakdown reads) and whether they are live:
#: the same text in the full base and in the lean one (`SELLER_SEGMENTS`).
_SEGMENT_COLUMNS = f"""k.seller_id, k.market, k.language, k.rank_index,
        dr.rank AS rank,
        {_STATUS} AS status,
        {_case("date_diff('day', k.enrolled_on, $as_of)", TENURE_BANDS)} AS tenure_band,
        {_case("coalesce(done.courses_done, 0)", TRAINING_TIERS)} AS training_tier,
        year(k.enrolled_on) AS cohort,
        -- A seller whose day 30 is after the as-of date and who has not sold yet is still
        -- in their first 30 days: not (yet) one who made no sale in them.
        CASE WHEN k.first_sale_on < k.enrolled_on + {FIRST_SALE_DAYS}
                  AND k.first_sale_on <= $as_of THEN 'sold in first 30 days'
             WHEN k.enrolled_on + {FIRST_SALE_DAYS} > $as_of THEN 'first 30 days not over'
             ELSE 'no sale in first 30 days' END AS fast_start,
        k.is_live AS live"""


#: A seller's flags over the window (``s``: a row of fact_sellers).
_RANKED_FLAGS = """CASE WHEN s.terminated_on IS NULL OR s.terminated_on > $as_of
             THEN 1 ELSE 0 END AS is_live,
        CASE WHEN s.enrolled_on < $start
                  AND (s.terminated_on IS NULL OR s.terminated_on >= $start)
             THEN 1 ELSE 0 END AS was_live,
        CASE WHEN s.sponsor_terminated_on BETWEEN $start AND $end
                  AND s.enrolled_on <= s.sponsor_terminated_on
                  AND (s.terminated_on IS NULL OR s.terminated_on > s.sponsor_terminated_on)
             THEN 1 ELSE 0 END AS below_sponsor_who_left"""
#: A seller's recent activity, aggregated over their month facts of ``$m0`` and ``$m1``.
_RECENT = f"""max(last_app_on) AS last_app_on,
        CASE WHEN max(last_sale_on) > $as_of - {ACTIVE_DAYS}
                  OR max(last_enrollment_on) > $as_of - {ACTIVE_DAYS}
                  OR max(last_autoship_on) > $as_of - {ACTIVE_DAYS}
             THEN 1 ELSE 0 END AS is_active"""


def _core_ctes(steps: str, fallback: str) -> str:
    # The sellers with their rank, whether recently active, and courses done: what a
    # segment needs (both bases start with these).
    return f"""ranked AS (
    SELECT s.*,
        coalesce(st.rank_index, {fallback}) AS rank_index,
        {_RANKED_FLAGS}
    FROM fact_sellers s
    LEFT JOIN ({steps}) st ON st.seller_id = s.seller_id
    WHERE s.enrolled_on <= $end
),
recent AS (
    SELECT seller_id, {_RECENT}
    FROM {SELLER_MONTHS} m
    WHERE month IN ($m0, $m1)
    GROUP BY seller_id
),
done AS (
    SELECT cc.seller_id, count(*) AS courses_done
    FROM course_completions cc WHERE cc.completed_on <= $as_of GROUP BY cc.seller_id
),"""


#: Each seller's tickets opened in the period (the service measures of the seller base).
_SERVICE_SUMS = """count(*) AS tickets_opened,
        sum(answered_same_day) AS tickets_same_day,
        sum(answered_within_hour) AS tickets_within_hour"""
_SERVICE = f"""
    SELECT seller_id, {_SERVICE_SUMS},
        list(first_response_minutes) FILTER (WHERE first_response_minutes IS NOT NULL)
            AS response_minutes
    FROM fact_tickets WHERE opened_on BETWEEN $start AND $end
    GROUP BY seller_id
"""
#: The service measures, as the seller base has them.
SERVICE_MEASURES = ("tickets_opened", "tickets_same_day", "tickets_within_hour", "response_minutes")


#: The compliance courses each rank requires (one row per rank).
_REQUIRED = """    SELECT r.rank_index, count(c.course_id) AS required
    FROM dim_ranks r
    LEFT JOIN (SELECT c.course_id, cr.rank_index FROM courses c
               JOIN dim_ranks cr ON cr.rank = c.min_rank WHERE c.compliance) c
        ON c.rank_index <= r.rank_index
    GROUP BY r.rank_index"""
#: A seller in their sponsor's frontline at the window's start (``sellers``' row).
_FRONTLINE_IF = """sponsor_id IS NOT NULL AND enrolled_on < $start
      AND (terminated_on IS NULL OR terminated_on >= $start)"""
#: A seller's customers whose day {REORDER_DAYS} falls in the window (``fact_customers``).
_CUSTOMER_90D_WHERE = f"""first_order_on BETWEEN $start - {REORDER_DAYS}
          AND $period_end - {REORDER_DAYS}
      AND first_order_on <= $observed"""
_CUSTOMER_90D_SUMS = f"""sum(CASE WHEN first_order_on <= $end - {REORDER_DAYS} THEN 1 ELSE 0 END)
            AS customers_due_90d,
        sum(CASE WHEN first_order_on <= $end - {REORDER_DAYS}
                  AND second_order_on <= first_order_on + {REORDER_DAYS} THEN 1 ELSE 0 END)
            AS customers_reordered_90d,
        sum(CASE WHEN first_order_on > $observed - {REORDER_DAYS} THEN 1 ELSE 0 END)
            AS customers_open_90d"""
#: A seller's survey answers of the window, summed (``fact_answers``).
_ANSWER_SUMS = f"""sum(CASE WHEN respondent_type = 'customer' AND question = 'nps'
            THEN 1 ELSE 0 END)
            AS customer_nps_answers,
        sum(CASE WHEN respondent_type = 'customer' AND question = 'nps' AND score >= 9
            THEN 1 ELSE 0 END) AS customer_promoters,
        sum(CASE WHEN respondent_type = 'customer' AND question = 'nps' AND score <= 6
            THEN 1 ELSE 0 END) AS customer_detractors,
        sum(CASE WHEN respondent_type = 'seller' AND question = 'nps' THEN 1 ELSE 0 END)
            AS seller_nps_answers,
        sum(CASE WHEN respondent_type = 'seller' AND question = 'nps' AND score >= 9
            THEN 1 ELSE 0 END) AS seller_promoters,
        sum(CASE WHEN respondent_type = 'seller' AND question = 'nps' AND score <= 6
            THEN 1 ELSE 0 END) AS seller_detractors,
        sum(CASE WHEN respondent_type = 'customer' AND question IN ({CUSTOMER_QS})
            THEN 1 ELSE 0 END) AS customer_attribute_answers,
        sum(CASE WHEN respondent_type = 'customer' AND question IN ({CUSTOMER_QS})
            THEN score ELSE 0 END) AS customer_attribute_points,
        sum(CASE WHEN respondent_type = 'customer' AND question IN ({CUSTOMER_QS})
            AND score = 5 THEN 1 ELSE 0 END) AS customer_top_box,
        sum(CASE WHEN respondent_type = 'seller' AND question IN ({SELLER_QS})
            THEN 1 ELSE 0 END) AS seller_attribute_answers,
        sum(CASE WHEN respondent_type = 'seller' AND question IN ({SELLER_QS})
            AND score = 5 THEN 1 ELSE 0 END) AS seller_top_box,
        sum(CASE WHEN respondent_type = 'seller' AND question IN ({SELLER_QS})
            AND score >= 4 THEN 1 ELSE 0 END) AS seller_top_two_box"""
#: The seller base's measures (``k``: the seller, ``r``: their recent activity, ``f``: their
#: month facts summed over the window, ``rq``/``cp``: compliance, and one alias per source).
_MEASURE_COLUMNS = f"""k.is_live * coalesce(r.is_active, 0) AS active_30d,
        k.is_live * CASE WHEN r.last_app_on > $as_of - {APP_DAYS} THEN 1 ELSE 0 END
            AS app_7d,
        -- Observation windows (cxm.state.windows): a seller belongs to the period their
        -- day N falls in; day N is on or before $end <= $observed, so these are closed.
        -- Those whose day N falls in the period after $observed are open, not counted.
        {_enrolment_window(FIRST_SALE_DAYS, "k.first_sale_on < {day}", "30d", "sold_first")},
        {_enrolment_window(RETENTION_DAYS, _STAYED, "90d", "retained")},
        {_enrolment_window(RETENTION_12M_DAYS, _STAYED, "365d", "retained")},
        k.was_live AS live_at_start,
        k.was_live * CASE WHEN k.terminated_on BETWEEN $start AND $end THEN 1 ELSE 0 END
            AS left_in_period,
        -- Sellers below a sponsor who left in the period (enrolled and still in that day):
        -- counted once the sponsor's {SPONSOR_LEFT_DAYS} days are over by $observed, even when
        -- that is after the period's end; open until then.
        k.below_sponsor_who_left
            * CASE WHEN k.sponsor_terminated_on + {SPONSOR_LEFT_DAYS} <= $observed
                   THEN 1 ELSE 0 END AS sponsor_left,
        k.below_sponsor_who_left
            * CASE WHEN k.sponsor_terminated_on + {SPONSOR_LEFT_DAYS} <= $observed
                        AND k.terminated_on <= k.sponsor_terminated_on + {SPONSOR_LEFT_DAYS}
                   THEN 1 ELSE 0 END AS left_after_sponsor_90d,
        k.below_sponsor_who_left
            * CASE WHEN k.sponsor_terminated_on + {SPONSOR_LEFT_DAYS} > $observed
                   THEN 1 ELSE 0 END AS sponsor_left_open,
        k.was_live * CASE WHEN coalesce(f.rank_steps, 0) > 0 THEN 1 ELSE 0 END AS advanced,
        k.is_live * CASE WHEN k.weekly_sales_goal > 0 THEN 1 ELSE 0 END AS weekly_goal_set,
        k.is_live * CASE WHEN k.weekly_sales_goal > 0
            AND coalesce(f.revenue_amount, 0) >= CAST(k.weekly_sales_goal AS DOUBLE)
                * (date_diff('day', greatest(k.enrolled_on, $start), $end) + 1) / 7.0
            THEN 1 ELSE 0 END AS weekly_goal_met,
        k.is_live * CASE WHEN k.monthly_enrollment_goal > 0 THEN 1 ELSE 0 END
            AS enrollment_goal_set,
        k.is_live * CASE WHEN k.monthly_enrollment_goal > 0
            AND coalesce(f.enrollments, 0) >= k.monthly_enrollment_goal
                * (date_diff('day', greatest(k.enrolled_on, $start), $end) + 1) / 30.4375
            THEN 1 ELSE 0 END AS enrollment_goal_met,
        k.is_live * coalesce(r.is_active, 0)
            * CASE WHEN rq.required = 0 OR cp.compliant_on <= $as_of THEN 1 ELSE 0 END
            AS compliant_active,
        coalesce(f.courses_completed, 0) AS courses_completed,
        coalesce(f.revenue_amount, 0) AS revenue_amount,
        coalesce(f.orders, 0) AS orders,
        coalesce(f.units, 0) AS units,
        coalesce(f.autoship_amount, 0) AS autoship_amount,
        coalesce(f.autoship_orders, 0) AS autoship_orders,
        coalesce(f.new_customers, 0) AS new_customers,
        coalesce(f.orders, 0) - coalesce(f.new_customer_orders, 0) AS repeat_orders,
        coalesce(f.enrollments, 0) AS enrollments,
        coalesce(f.recruits_left, 0) AS recruits_left,
        coalesce(fl.frontline_at_start, 0) AS frontline_at_start,
        k.is_live * CASE WHEN coalesce(f.app_days, 0) > 0 THEN 1 ELSE 0 END AS app_used,
        coalesce(f.app_days, 0) AS app_days,
        coalesce(f.follow_ups, 0) + coalesce(f.content_shares, 0) AS customer_touches,
        k.is_live * CASE WHEN coalesce(f.enrollments, 0) > 0
            OR coalesce(f.new_customers, 0) > 0
            THEN 1 ELSE 0 END AS influencer,
        coalesce(c9.customers_due_90d, 0) AS customers_due_90d,
        coalesce(c9.customers_reordered_90d, 0) AS customers_reordered_90d,
        coalesce(c9.customers_open_90d, 0) AS customers_open_90d,
        coalesce(a.customer_nps_answers, 0) AS customer_nps_answers,
        coalesce(a.customer_promoters, 0) AS customer_promoters,
        coalesce(a.customer_detractors, 0) AS customer_detractors,
        coalesce(a.seller_nps_answers, 0) AS seller_nps_answers,
        coalesce(a.seller_promoters, 0) AS seller_promoters,
        coalesce(a.seller_detractors, 0) AS seller_detractors,
        coalesce(a.customer_attribute_answers, 0) AS customer_attribute_answers,
        coalesce(a.customer_attribute_points, 0) AS customer_attribute_points,
        coalesce(a.customer_top_box, 0) AS customer_top_box,
        coalesce(a.seller_attribute_answers, 0) AS seller_attribute_answers,
        coalesce(a.seller_top_box, 0) AS seller_top_box,
        coalesce(a.seller_top_two_box, 0) AS seller_top_two_box,
        coalesce(sv.tickets_opened, 0) AS tickets_opened,
        coalesce(sv.tickets_same_day, 0) AS tickets_same_day,
        coalesce(sv.tickets_within_hour, 0) AS tickets_within_hour,
        sv.response_minutes,
        coalesce(cv.customers_valued, 0) AS customers_valued,
        coalesce(cv.clv_12m, 0) AS clv_12m,
        coalesce(cv.customers_at_risk, 0) AS customers_at_risk,
        coalesce(lb.line_buyers, 0) AS line_buyers,
        coalesce(lb.line_rebuyers, 0) AS line_rebuyers,
        coalesce(lb.line_buyers_open, 0) AS line_buyers_open"""
