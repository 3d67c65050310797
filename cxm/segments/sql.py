"""A `SegmentFilter` as parameterised SQL over the seller facts.

`seller_base` is the one query every seller-grain KPI reads: one row per seller enrolled by the
as-of date, with the seller's segment as of that date (rank, market, language, status, tenure
band, training tier, cohort) and one column per measure (docs/metrics.md). Every value from the
filter is a bind parameter; the only names spliced into the text are dimension and measure
names from this package's declarations. The market scope is not here: the facts read are
already the user's company (`cxm.warehouse.scoped`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from cxm.config import CompanyConfig
from cxm.segments.cut import CUT_CTES, SELLER_MONTHS
from cxm.segments.filter import TENURE_BANDS, TRAINING_TIERS, Dimension, SegmentFilter
from cxm.segments.periods import Period
from cxm.state.facts import MAXES as FACT_MAXES
from cxm.state.facts import SUMS as FACT_SUMS
from cxm.state.seller_state import ACTIVE_DAYS, NEW_DAYS
from cxm.state.windows import (
    FIRST_SALE_DAYS,
    REORDER_DAYS,
    RETENTION_12M_DAYS,
    RETENTION_DAYS,
    SPONSOR_LEFT_DAYS,
)

#: Days in the window behind "used the app" (ACTIVE_DAYS and NEW_DAYS: the seller state's).
APP_DAYS = 7
#: The attributes each side is asked about, and compared with corporate on (the gap).
CUSTOMER_QUESTIONS = ("quality", "value", "service", "ease", "delivery")
SELLER_QUESTIONS = ("tools", "training", "service", "ease")
CUSTOMER_QS = ", ".join(f"'{q}'" for q in CUSTOMER_QUESTIONS)
SELLER_QS = ", ".join(f"'{q}'" for q in SELLER_QUESTIONS)
#: The month facts summed over a period (flows) and the last days kept (maxima).
FLOW_SUMS = ", ".join(
    [*(f"sum({c}) AS {c}" for c in FACT_SUMS), *(f"max({c}) AS {c}" for c in FACT_MAXES)]
)


@dataclass(frozen=True)
class Window:
    """The dates a query needs: the period's bounds cut at the as-of date, and the day the
    observation windows are seen from (`cxm.state.windows`)."""

    period: Period
    as_of: dt.date  # the day point-in-time measures are taken
    start: dt.date
    end: dt.date  # min(period end, as_of)
    #: The view's as-of date: an observation window counts once it has closed by this day,
    #: even when that is after the period's end. None: ``as_of``.
    observed: dt.date | None = None
    #: The first day of ``as_of``'s month when the facts hold days of it after ``as_of`` (a
    #: compared span ending mid-month): that month is read from the raw tables (`segments.cut`).
    cut: dt.date | None = None
    #: The as-of date of the segments the load stored (`STORED_SEGMENTS`), when known: a
    #: window as of that very day reads each seller's segment from there (``$stored``).
    stored: dt.date | None = None

    @classmethod
    def of(cls, period: Period, as_of: dt.date) -> Window:
        """Return the window of ``period`` seen from ``as_of`` (the period's end, or earlier).

        >>> w = Window.of(Period.parse("2025-Q4"), dt.date(2026, 3, 31))
        >>> w.end, w.observed_on
        (datetime.date(2025, 12, 31), datetime.date(2026, 3, 31))
        """
        at = min(period.end, as_of)
        return cls(period=period, as_of=at, start=period.start, end=at, observed=as_of)

    @property
    def observed_on(self) -> dt.date:
        """Return the day observation windows must have closed by to count."""
        return self.observed or self.as_of

    @property
    def partial(self) -> bool:
        """Return whether the data stop before the period ends."""
        return self.end < self.period.end

    def params(self) -> dict:
        """Return the window's bind parameters."""
        this_month = self.as_of.replace(day=1)
        before = Period.month_of(this_month).previous().start
        return {
            "as_of": self.as_of,
            "start": self.start,
            "end": self.end,
            "m0": this_month,
            "m1": before,
            "period_days": (self.end - self.start).days + 1,
            "observed": self.observed_on,
            "period_end": self.period.end,
            "cut": self.cut,
            "stored": self.stored is not None
            and self.stored == self.as_of == self.end
            and self.cut is None,
        }


def _case(expr: str, bands: tuple[tuple[str, int], ...]) -> str:
    # Labels and thresholds are this package's constants, not user text.
    arms = " ".join(f"WHEN {expr} >= {lo} THEN '{label}'" for label, lo in reversed(bands))
    return f"CASE {arms} END"


def filter_params(where: SegmentFilter, cfg: CompanyConfig) -> dict:
    """Return the bind parameters of the segment filter (the scope is the data's own)."""

    def listed(values):
        return list(values) if values else None

    return {
        "f_markets": listed(where.markets),
        "f_languages": listed(where.languages),
        "f_ranks": listed(where.ranks),
        "f_rank_min": cfg.rank_index(where.rank_at_least) if where.rank_at_least else None,
        "f_statuses": listed(where.statuses),
        "f_tenure": listed(where.tenure_bands),
        "f_tiers": listed(where.training_tiers),
        "f_cohorts": listed(where.cohorts),
    }


#: The conditions `filter_params` binds; applied to the seller base.
SEGMENT_WHERE = """
    ($f_markets IS NULL OR list_contains($f_markets, market))
    AND ($f_languages IS NULL OR list_contains($f_languages, language))
    AND ($f_ranks IS NULL OR list_contains($f_ranks, rank))
    AND ($f_rank_min IS NULL OR rank_index >= $f_rank_min)
    AND ($f_statuses IS NULL OR list_contains($f_statuses, status))
    AND ($f_tenure IS NULL OR list_contains($f_tenure, tenure_band))
    AND ($f_tiers IS NULL OR list_contains($f_tiers, training_tier))
    AND ($f_cohorts IS NULL OR list_contains($f_cohorts, cohort))"""

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


#: The table each load stores every seller's segment in, as of the data's as-of date (both
#: ranks: held then, and held at enrolment), so that the many readers of a view of that day
#: (the default one) filter it instead of deriving it again per query (`store_segments`).
STORED_SEGMENTS = "fact_seller_segments"
#: The stored table's segment columns, in `_SEGMENT_COLUMNS`' order, for each rank.
_STORED_COLUMNS = {
    "as_of": "seller_id, market, language, rank_index, rank, status, tenure_band, "
    "training_tier, cohort, fast_start, live",
    "enrolment": "seller_id, market, language, enrolment_rank_index AS rank_index, "
    "enrolment_rank AS rank, status, tenure_band, training_tier, cohort, fast_start, live",
}


def _lean_base(rank_on: str, *, stored: bool = True) -> str:
    steps, fallback = _RANK_STEPS[rank_on]
    # ``$stored`` (`Window.params`) is a bound constant, so DuckDB folds the branch not taken
    # to nothing: a view as of the load's date scans the stored table only, any other reads
    # the facts as before (the same rows: tests/test_seller_segments.py).
    read, derived = (
        (
            f"SELECT {_STORED_COLUMNS[rank_on]} FROM {STORED_SEGMENTS} WHERE $stored\n    "
            "UNION ALL\n    ",
            "\n    WHERE NOT $stored",
        )
        if stored
        else ("", "")
    )
    return f"""
WITH
{CUT_CTES}
{_core_ctes(steps, fallback)}
base AS (
    {read}SELECT {_SEGMENT_COLUMNS}
    FROM ranked k
    JOIN dim_ranks dr ON dr.rank_index = k.rank_index
    LEFT JOIN recent r ON r.seller_id = k.seller_id
    LEFT JOIN done ON done.seller_id = k.seller_id{derived}
)
SELECT * FROM base WHERE {SEGMENT_WHERE}"""


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


def _seller_base(rank_on: str) -> str:
    steps, fallback = _RANK_STEPS[rank_on]
    return f"""
WITH
{CUT_CTES}
{_core_ctes(steps, fallback)}
flows AS (
    SELECT seller_id, {FLOW_SUMS}
    FROM {SELLER_MONTHS} m WHERE month BETWEEN $start AND $end
    GROUP BY seller_id
),
required AS (
{_REQUIRED}
),
frontline AS (
    SELECT sponsor_id AS seller_id, count(*) AS frontline_at_start
    FROM sellers
    WHERE {_FRONTLINE_IF}
    GROUP BY sponsor_id
),
customer_90d AS (
    -- A customer belongs to the period their day 90 falls in; open while it is after
    -- $observed. The bounds moved to the column so the sorted fact's zone maps skip old rows.
    SELECT seller_id,
        {_CUSTOMER_90D_SUMS}
    FROM fact_customers
    WHERE {_CUSTOMER_90D_WHERE}
    GROUP BY seller_id
),
answers AS (
    SELECT seller_id,
        {_ANSWER_SUMS}
    FROM fact_answers
    WHERE seller_id IS NOT NULL AND answered_on BETWEEN $start AND $end
    GROUP BY seller_id
),
service AS ({_SERVICE}),
line_buyers AS (
    -- First purchases of a product line by the serving seller, as customer_90d: the line
    -- reorder rate by seller segment comes from this one pass (by product line: LINE_BUYERS).
    SELECT lb.seller_id, {_line_sums("lb")}
    FROM fact_line_buyers lb WHERE {_line_where("lb")}
    GROUP BY lb.seller_id
),
valued AS (
    -- Predicted customer value exists for the data's as-of date only (cxm.metrics.value).
    SELECT seller_id, customers_valued, clv_12m, customers_at_risk
    FROM fact_seller_value WHERE scored_as_of = $as_of
),
base AS (
    SELECT {_SEGMENT_COLUMNS},
        {_MEASURE_COLUMNS}
    FROM ranked k
    JOIN dim_ranks dr ON dr.rank_index = k.rank_index
    JOIN required rq ON rq.rank_index = k.rank_index
    LEFT JOIN recent r ON r.seller_id = k.seller_id
    LEFT JOIN flows f ON f.seller_id = k.seller_id
    LEFT JOIN done ON done.seller_id = k.seller_id
    LEFT JOIN fact_compliance cp
        ON cp.seller_id = k.seller_id AND cp.rank_index = k.rank_index
    LEFT JOIN frontline fl ON fl.seller_id = k.seller_id
    LEFT JOIN customer_90d c9 ON c9.seller_id = k.seller_id
    LEFT JOIN answers a ON a.seller_id = k.seller_id
    LEFT JOIN service sv ON sv.seller_id = k.seller_id
    LEFT JOIN valued cv ON cv.seller_id = k.seller_id
    LEFT JOIN line_buyers lb ON lb.seller_id = k.seller_id
)
SELECT * FROM base WHERE {SEGMENT_WHERE}"""


#: One row per seller as of the as-of date, with their segment and every measure.
SELLER_BASE = _seller_base("as_of")
#: The same, with each seller's rank the one they held on their enrolment day.
SELLER_BASE_AT_ENROLMENT = _seller_base("enrolment")
#: One row per seller of the segment with their segment columns and ``live`` only, for a
#: query that filters sellers but reads none of the period's measures: the same rows and
#: columns as the bases, without their twelve joins (at 1,000,000 sellers, a second each).
SELLER_SEGMENTS = _lean_base("as_of")
SELLER_SEGMENTS_AT_ENROLMENT = _lean_base("enrolment")

#: The seller base's rows with their segment and service measures only, for a query that
#: reads no other measure (the median first response): the same values as `SELLER_BASE`'s
#: columns of those names, without its other joins.
SERVICE_BASE = f"""
WITH b AS ({SELLER_SEGMENTS}),
service AS ({_SERVICE})
SELECT b.*,
    coalesce(sv.tickets_opened, 0) AS tickets_opened,
    coalesce(sv.tickets_same_day, 0) AS tickets_same_day,
    coalesce(sv.tickets_within_hour, 0) AS tickets_within_hour,
    sv.response_minutes
FROM b LEFT JOIN service sv ON sv.seller_id = b.seller_id"""

#: What a load stores in `STORED_SEGMENTS`: every seller's segment as of ``$as_of`` with the
#: rank they held at enrolment beside it (the lean bases derived from the facts, unfiltered).
STORE_SEGMENTS = f"""
SELECT a.*, e.rank_index AS enrolment_rank_index, e.rank AS enrolment_rank,
    CAST($as_of AS DATE) AS as_of
FROM ({_lean_base("as_of", stored=False)}) a
JOIN ({_lean_base("enrolment", stored=False)}) e ON e.seller_id = a.seller_id
ORDER BY a.seller_id"""


def store_segments(con: duckdb.DuckDBPyConnection, cfg: CompanyConfig, as_of: dt.date) -> int:
    """(Re)build `STORED_SEGMENTS` as of ``as_of``; return its row count.

    Runs inside a load (or a scope's build, from the cut facts), on the company ``con`` holds,
    after the facts: every view as of the data's as-of date then reads each seller's segment
    from one stored row instead of deriving rank, activity and courses again per query.
    """
    win = Window.of(Period.month_of(as_of), as_of)
    params = {**win.params(), **filter_params(SegmentFilter(period=win.period), cfg)}
    used = {k: v for k, v in params.items() if f"${k}" in STORE_SEGMENTS}
    con.execute(f"CREATE OR REPLACE TABLE {STORED_SEGMENTS} AS {STORE_SEGMENTS}", used)
    return con.execute(f"SELECT count(*) FROM {STORED_SEGMENTS}").fetchall()[0][0]


#: The window parameters each month of `by_month_sums` reads from its row of ``months``.
_MONTH_PARAMS = ("as_of", "start", "end", "m0", "m1", "observed", "period_end")


def _per_month(text: str, alias: str) -> str:
    # The window's parameters read from the month's row ``alias`` (our own names only).
    return re.sub(
        r"\$(\w+)",
        lambda m: f"{alias}.w_{m[1]}" if m[1] in _MONTH_PARAMS else m[0],
        text,
    )


def base_columns() -> dict[str, str]:
    """Return the seller base's columns: each name and its SQL (over ``k``, ``r``, ``f``...).

    >>> cols = base_columns()
    >>> cols["live_at_start"], cols["live"], cols["response_minutes"]
    ('k.was_live', 'k.is_live', 'sv.response_minutes')
    """
    text = re.sub(r"--[^\n]*", "", f"{_SEGMENT_COLUMNS}, {_MEASURE_COLUMNS}")
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):  # top-level commas (none inside the columns' texts)
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    out = {}
    for part in (" ".join(p.split()) for p in parts):
        expr, _, name = part.rpartition(" AS ")
        out[name if expr else part.rpartition(".")[2]] = expr or part
    return out


def _by_month_sources() -> dict[str, str]:
    # Each of the base's per-seller sources (by its alias) per seller and month, as the base's
    # CTE of the same alias sums it over one window. A row of `fact_seller_months` is one
    # seller's month (its first day, unique per seller): the window's flows are the row of
    # ``$start`` (which is ``$m0``), its recent activity the rows of ``$m0`` and ``$m1``. Each
    # month condition keeps the base's text; an equality beside it lets the join hash.
    day90 = f"CAST(date_trunc('month', {{}} + {REORDER_DAYS}) AS DATE) = mo.w_month"
    in_month = (
        "CAST(date_trunc('month', {0}) AS DATE) = mo.w_month "
        "AND {0} BETWEEN mo.w_start AND mo.w_end"
    )
    last = ", ".join(FACT_MAXES)
    return {
        "r": f"""SELECT m.seller_id, mo.w_month, {_per_month(_RECENT, "mo")}
    FROM (SELECT seller_id, month, {last} FROM fact_seller_months m) m
    JOIN months mo ON m.month = mo.w_m0 OR m.month = mo.w_m1
    GROUP BY m.seller_id, mo.w_month, mo.w_as_of""",
        "f": """SELECT m.seller_id, mo.w_month, {f}
    FROM fact_seller_months m JOIN months mo ON m.month = mo.w_m0""",
        "fl": f"""SELECT sponsor_id AS seller_id, mo.w_month, count(*) AS frontline_at_start
    FROM sellers JOIN months mo ON {_per_month(_FRONTLINE_IF, "mo")}
    GROUP BY sponsor_id, mo.w_month""",
        "c9": f"""SELECT seller_id, mo.w_month, {_per_month(_CUSTOMER_90D_SUMS, "mo")}
    FROM fact_customers
    JOIN months mo ON {day90.format("first_order_on")}
        AND {_per_month(_CUSTOMER_90D_WHERE, "mo")}
    WHERE first_order_on BETWEEN $w_first - {REORDER_DAYS} AND $w_last - {REORDER_DAYS}
    GROUP BY seller_id, mo.w_month""",
        "a": f"""SELECT seller_id, mo.w_month, {_ANSWER_SUMS}
    FROM fact_answers JOIN months mo ON {in_month.format("answered_on")}
    WHERE seller_id IS NOT NULL AND answered_on BETWEEN $w_first AND $w_last
    GROUP BY seller_id, mo.w_month""",
        "sv": f"""SELECT seller_id, mo.w_month, {_SERVICE_SUMS}
    FROM fact_tickets JOIN months mo ON {in_month.format("opened_on")}
    WHERE opened_on BETWEEN $w_first AND $w_last
    GROUP BY seller_id, mo.w_month""",
        "cv": """SELECT seller_id, mo.w_month, customers_valued, clv_12m, customers_at_risk
    FROM fact_seller_value JOIN months mo ON scored_as_of = mo.w_as_of""",
        "lb": f"""SELECT lb.seller_id, mo.w_month, {_per_month(_line_sums("lb"), "mo")}
    FROM fact_line_buyers lb
    JOIN months mo ON {day90.format("lb.first_on")} AND {_per_month(_line_where("lb"), "mo")}
    GROUP BY lb.seller_id, mo.w_month""",
    }


#: The aliases of the base's per-seller sources that `by_month_sums` reads by seller and month.
_SOURCES = ("r", "f", "fl", "c9", "a", "sv", "cv", "lb")


def by_month_sums(measures: Sequence[str], sums: dict[str, str]) -> str:
    """Return, for every month of ``$w_month`` (`month_params`), the seller base of that
    month summed by month, market, language, rank and status: ``sellers`` (the count) and
    each of ``sums`` (``sum(...)`` over the base's columns ``measures``), named by its key.

    The same sums as the base of each month read alone, in one pass, without joining every
    source to every seller-month (11 million of them at 1,000,000 sellers). Each source is
    read once and kept by seller and month (`_by_month_sources`); a seller-month no source
    holds a row for has every source's columns NULL, so it is summed as such with the
    seller's own columns only (``rows_all``: no join). The few million seller-months some
    source holds are summed twice more: with the sources joined (their true values and
    status) and again as if none did (subtracted, in the segment it was counted in). The
    columns' SQL is the base's own (`base_columns`): only the parameters become the month's.
    A sum of NULL-source values is of whole numbers (counts, flags; an amount is then 0), so
    the subtraction is exact.
    """
    assert all(v.startswith("sum(") for v in sums.values()), "only sums split this way"
    columns = base_columns()
    chosen = {m: columns[m] for m in measures}
    text = " ".join([_STATUS, *chosen.values()])
    used = [a for a in _SOURCES if re.search(rf"\b{a}\.", text)]
    flows = sorted({c for sql in chosen.values() for c in re.findall(r"\bf\.(\w+)", sql)})
    sources = {a: q.replace("{f}", ", ".join(flows)) for a, q in _by_month_sources().items()}
    aliases = "|".join(_SOURCES)
    steps, fallback = _RANK_STEPS["as_of"]
    assert "reached_on <= $as_of" in steps  # the lists below keep its condition

    def at(sql: str, *, none: bool = False) -> str:
        # The base's text for a seller-month (k): the compliance row of its rank is k's own
        # (`ranked`); with ``none``, every source's columns are NULL.
        sql = re.sub(r"\bcp\.(\w+)", r"k.cp_\1", _per_month(sql, "k"))
        return re.sub(rf"\b({aliases})\.\w+", "NULL", sql) if none else sql

    def summed(rows: str, *, none: bool, sign: str = "") -> str:
        on = "ON {0}.seller_id = k.seller_id AND {0}.w_month = k.w_month"
        joins = "".join(f"\n    LEFT JOIN src_{a} {a} {on.format(a)}" for a in used)
        joins = "" if none else joins
        select = ", ".join(f"{at(sql, none=none)} AS {name}" for name, sql in chosen.items())
        aggregates = ", ".join(f"{sign}{agg} AS {name}" for name, agg in sums.items())
        return f"""SELECT month, market, language, rank, status, {sign}count(*) AS sellers,
        {aggregates}
    FROM (
        SELECT k.w_month AS month, k.market, k.language, dr.rank AS rank,
            {at(_STATUS, none=none)} AS status, {select}
        FROM {rows} k
        JOIN dim_ranks dr ON dr.rank_index = k.rank_index
        JOIN required rq ON rq.rank_index = k.rank_index{joins}
    ) b
    GROUP BY month, market, language, rank, status"""

    # Only the columns of each seller-month that the sums read are kept.
    own = {c for sql in (_STATUS, *chosen.values()) for c in re.findall(r"\bk\.(\w+)", at(sql))}
    own = sorted(own - {"seller_id", "w_month", "market", "language", "rank_index"})
    own = [c for c in own if c != "cp_compliant_on"]

    def ranked(rows: str) -> str:
        return f"""SELECT seller_id, w_month, market, language, rank_index, {", ".join(own)},
        list_max([c.compliant_on FOR c IN compliance IF c.rank_index = rank_index])
            AS cp_compliant_on
    FROM (
        SELECT s.*, mo.*,
            coalesce(list_max([x.rank_index FOR x IN steps IF x.reached_on <= mo.w_as_of]),
                {fallback}) AS rank_index,
            {_per_month(_RANKED_FLAGS, "mo")}
        {rows}
    )"""

    months = ", ".join(f"unnest($w_{p}) AS w_{p}" for p in ("month", *_MONTH_PARAMS))
    ctes = "".join(f"src_{a} AS MATERIALIZED (\n    {sources[a]}\n),\n" for a in used)
    touched = "\n    UNION\n    ".join(f"SELECT seller_id, w_month FROM src_{a}" for a in used)
    some = """FROM touched t
        JOIN sellers_k s ON s.seller_id = t.seller_id
        JOIN months mo ON mo.w_month = t.w_month AND s.enrolled_on <= mo.w_end"""
    parts = "\n    UNION ALL BY NAME\n    ".join(
        [
            summed("rows_all", none=True),
            summed("rows_touched", none=False),
            summed("rows_touched", none=True, sign="-"),
        ]
    )
    return f"""
WITH
months AS (SELECT {months}),
sellers_k AS MATERIALIZED (
    -- Each seller with their rank steps and compliance rows (the month picks from these).
    SELECT s.*, st.steps, cp.compliance
    FROM fact_sellers s
    LEFT JOIN (
        SELECT seller_id, list({{'reached_on': reached_on, 'rank_index': rank_index}}) AS steps
        FROM fact_rank_steps GROUP BY seller_id
    ) st ON st.seller_id = s.seller_id
    LEFT JOIN (
        SELECT seller_id,
            list({{'rank_index': rank_index, 'compliant_on': compliant_on}}) AS compliance
        FROM fact_compliance GROUP BY seller_id
    ) cp ON cp.seller_id = s.seller_id
),
required AS (
{_REQUIRED}
),
{ctes}touched AS (
    {touched}
),
rows_all AS (
    {ranked("FROM sellers_k s JOIN months mo ON s.enrolled_on <= mo.w_end")}
),
rows_touched AS MATERIALIZED (
    {ranked(some)}
)
SELECT {", ".join(["month", "market", "language", "rank", "status"])},
    {", ".join(f"sum({c}) AS {c}" for c in ["sellers", *sums])}
FROM (
    {parts}
) parts
GROUP BY month, market, language, rank, status
HAVING sum(sellers) > 0"""


def month_params(windows: Sequence[Window]) -> dict:
    """Return the bind parameters of `by_month_sums` for one window per month."""
    params = [w.params() for w in windows]
    out = {f"w_{p}": [w[p] for w in params] for p in _MONTH_PARAMS}
    out["w_month"] = [w.period.start for w in windows]
    out["w_first"] = min(out["w_start"], default=None)
    out["w_last"] = max(out["w_period_end"], default=None)
    return out


def dimension_columns(by: tuple[Dimension, ...]) -> list[str]:
    """Return the base columns of the dimensions (their names are the enum's values)."""
    return [Dimension(d).value for d in by]


#: Product-line buyers of the period by the seller segment (and ``l.product_line``).
LINE_BUYERS = f"""
WITH b AS ({SELLER_BASE})
SELECT {{select}} {_line_sums("l")}
FROM fact_line_buyers l JOIN b ON b.seller_id = l.seller_id
WHERE {_line_where("l")}
{{group}}"""
