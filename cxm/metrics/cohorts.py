"""Sellers over their tenure: retention curves by enrolment cohort, the fast-start funnel, and
the downline at risk when a sponsor leaves or a leader lapses.

All counts respect the market scope and the segment filter's market, language and cohort
choices (rank and status are as of the data's as-of date).
"""

from __future__ import annotations

import duckdb
import polars as pl

from cxm.access import Scope
from cxm.config import CompanyConfig
from cxm.metrics.compute import check_scope, data_range, window
from cxm.segments.filter import SegmentFilter
from cxm.segments.sql import ACTIVE_DAYS, SELLER_BASE, filter_params

_CURVES = f"""
WITH b AS ({SELLER_BASE}),
months AS (SELECT range AS month FROM range(0, $months + 1)),
cohort AS (
    SELECT s.seller_id, s.enrolled_on, s.terminated_on,
        CAST(date_trunc($grain, s.enrolled_on) AS DATE) AS cohort_start
    FROM sellers s JOIN b ON b.seller_id = s.seller_id
)
SELECT c.cohort_start, m.month,
    count(*) AS sellers,
    sum(CASE WHEN c.terminated_on IS NULL
             OR c.terminated_on > c.enrolled_on + CAST(round(m.month * 30.4375) AS INTEGER)
        THEN 1 ELSE 0 END)::BIGINT AS retained
FROM cohort c CROSS JOIN months m
WHERE c.enrolled_on + CAST(round(m.month * 30.4375) AS INTEGER) <= $observed
GROUP BY c.cohort_start, m.month
"""


def retention_curves(
    con: duckdb.DuckDBPyConnection,
    *,
    grain: str = "year",
    months: int = 24,
    where: SegmentFilter,
    scope: Scope,
    cfg: CompanyConfig,
) -> pl.DataFrame:
    """Return the share of each enrolment cohort still enrolled k months after joining.

    One row per cohort (its first day, by ``grain``: "quarter" or "year") and month k =
    0..``months``: sellers, retained, retained_share. The segment is taken as of the filter's
    as-of date; tenure is observed up to the data's as-of date, and a month is counted only
    for the sellers who have reached it by then, so a young cohort's curve is short, not
    falsely flat. Terminated on the day they reached month k counts as gone.
    """
    if grain not in ("quarter", "year"):
        raise ValueError(f"grain must be quarter or year, not {grain!r}")
    where.check(cfg)
    check_scope(where, scope)
    data = data_range(con)
    win = window(where, data)
    params = {
        **win.params(),
        **filter_params(where, scope, cfg),
        "grain": grain,
        "months": months,
        "observed": data.as_of,
    }
    out = con.sql(_CURVES, params={k: v for k, v in params.items() if f"${k}" in _CURVES}).pl()
    return out.with_columns((pl.col("retained") / pl.col("sellers")).alias("retained_share")).sort(
        "cohort_start", "month"
    )


_FUNNEL = f"""
WITH b AS ({SELLER_BASE})
SELECT count(*) AS enrolled,
    sum(CASE WHEN s.enrolled_on + 30 <= $observed THEN 1 ELSE 0 END) AS reached_30d,
    sum(CASE WHEN s.enrolled_on + 30 <= $observed AND f.first_sale_on < s.enrolled_on + 30
        THEN 1 ELSE 0 END) AS first_sale_30d,
    sum(CASE WHEN s.enrolled_on + 90 <= $observed THEN 1 ELSE 0 END) AS reached_90d,
    sum(CASE WHEN s.enrolled_on + 90 <= $observed AND f.first_sale_on < s.enrolled_on + 30
             AND (s.terminated_on IS NULL OR s.terminated_on > s.enrolled_on + 90)
        THEN 1 ELSE 0 END) AS sold_and_in_at_90d,
    sum(CASE WHEN s.enrolled_on + 90 <= $observed
             AND (s.terminated_on IS NULL OR s.terminated_on > s.enrolled_on + 90)
        THEN 1 ELSE 0 END) AS in_at_90d
FROM sellers s JOIN b ON b.seller_id = s.seller_id
JOIN fact_sellers f ON f.seller_id = s.seller_id
WHERE s.enrolled_on BETWEEN $start AND $end
"""


def fast_start_funnel(
    con: duckdb.DuckDBPyConnection, *, where: SegmentFilter, scope: Scope, cfg: CompanyConfig
) -> dict[str, int]:
    """Return the fast-start funnel of the sellers who enrolled in the filter's period.

    Keys: enrolled; reached_30d, first_sale_30d (of those past day 30, a sale in days 0-29);
    reached_90d, in_at_90d (still enrolled on day 90), sold_and_in_at_90d (both). Sellers
    whose 30 or 90 days are not over by the data's as-of date are not counted at that step.
    """
    where.check(cfg)
    check_scope(where, scope)
    data = data_range(con)
    win = window(where, data)
    params = {**win.params(), **filter_params(where, scope, cfg), "observed": data.as_of}
    row = con.sql(_FUNNEL, params={k: v for k, v in params.items() if f"${k}" in _FUNNEL}).pl()
    return {k: int(v or 0) for k, v in row.row(0, named=True).items()}


_AT_RISK = f"""
WITH b AS ({SELLER_BASE}),
orphaned AS (
    SELECT b.seller_id, b.market, b.language, b.rank, p.seller_id AS sponsor_id,
           p.terminated_on AS sponsor_left_on
    FROM b JOIN sellers s ON s.seller_id = b.seller_id
    JOIN sellers p ON p.seller_id = s.sponsor_id
    WHERE b.live = 1 AND p.terminated_on BETWEEN $as_of - 89 AND $as_of
)
SELECT market, language, rank, count(*) AS sellers_whose_sponsor_left,
       count(DISTINCT sponsor_id) AS sponsors_who_left
FROM orphaned GROUP BY market, language, rank ORDER BY sellers_whose_sponsor_left DESC
"""

_LAPSED_LEADERS = f"""
WITH RECURSIVE b AS ({SELLER_BASE}),
leaders AS (
    SELECT b.seller_id, b.market, b.language, b.rank
    FROM b LEFT JOIN fact_seller_months r
        ON r.seller_id = b.seller_id
        AND r.month >= CAST(date_trunc('month', $as_of - 90) AS DATE)
    WHERE b.live = 1 AND b.rank_index >= $leader_rank
    GROUP BY b.seller_id, b.market, b.language, b.rank
    HAVING coalesce(max(greatest(r.last_sale_on, r.last_enrollment_on, r.last_app_on)),
                    DATE '1900-01-01') <= $as_of - {2 * ACTIVE_DAYS}
),
team(leader, seller_id) AS (
    SELECT l.seller_id, s.seller_id FROM leaders l
    JOIN sellers s ON s.sponsor_id = l.seller_id
    UNION ALL
    SELECT t.leader, s.seller_id FROM team t JOIN sellers s ON s.sponsor_id = t.seller_id
)
SELECT l.seller_id, l.market, l.language, l.rank,
    -- The tree is walked through every market; only sellers in the user's scope are counted.
    count(t.seller_id) FILTER (
        WHERE (s.terminated_on IS NULL OR s.terminated_on > $as_of)
        AND ($scope IS NULL OR list_contains($scope, s.market))
    ) AS live_team
FROM leaders l
LEFT JOIN team t ON t.leader = l.seller_id
LEFT JOIN sellers s ON s.seller_id = t.seller_id
GROUP BY l.seller_id, l.market, l.language, l.rank
ORDER BY live_team DESC, l.seller_id
"""


def downline_at_risk(
    con: duckdb.DuckDBPyConnection,
    *,
    where: SegmentFilter,
    scope: Scope,
    cfg: CompanyConfig,
    leader_rank: str = "Manager",
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (orphaned, lapsed_leaders) as of the filter's as-of date.

    ``orphaned``: live sellers whose sponsor left in the 90 days up to the as-of date, by
    market, language and rank, with how many sponsors left. ``lapsed_leaders``: live sellers
    at ``leader_rank`` or above with no sale, enrolment or app use in the last 60 days, each
    with the live size of their whole downline (everyone below them) inside ``scope``: a
    downline crosses markets, and a scoped user never reads a count of sellers outside
    theirs. Largest first.
    """
    where.check(cfg)
    check_scope(where, scope)
    win = window(where, data_range(con))
    params = {
        **win.params(),
        **filter_params(where, scope, cfg),
        "leader_rank": cfg.rank_index(leader_rank),
    }

    def run(sql: str) -> pl.DataFrame:
        return con.sql(sql, params={k: v for k, v in params.items() if f"${k}" in sql}).pl()

    return run(_AT_RISK), run(_LAPSED_LEADERS)
