"""Sellers over their tenure: retention curves by enrolment cohort, the fast-start funnel, and
the downline at risk when a sponsor leaves or a leader lapses.

All counts are of the user's company (`cxm.warehouse.scoped`) and the segment filter. Curves
and the funnel filter by
the rank each seller held when they enrolled (their window's start: `SELLER_SEGMENTS_AT_ENROLMENT`),
not today's, which would keep only those who stayed long enough to rise; status, tenure and
training tier are as of the as-of date. Windows count once closed by the as-of date
(`cxm.state.windows`); the downline counts are distinct where one seller is reached twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from cxm.config import CompanyConfig
from cxm.metrics.compute import check_scope, data_range, window
from cxm.segments.filter import SegmentFilter
from cxm.segments.sql import (
    ACTIVE_DAYS,
    SELLER_SEGMENTS,
    SELLER_SEGMENTS_AT_ENROLMENT,
    filter_params,
)
from cxm.state.windows import (
    FIRST_SALE_DAYS,
    MONTH_DAYS,
    RETENTION_DAYS,
    SPONSOR_LEFT_DAYS,
)
from cxm.warehouse.scoped import Scoped


def _months_within(days: str) -> str:
    """Return the SQL count of months k = 0..$months whose day, round(k x MONTH_DAYS), is at
    most ``days``: the days only grow with k, so they are the first k; floor(days / MONTH_DAYS)
    is always one, the next may be (rounded down), none after (a month is over a day)."""
    k = f"floor(({days}) / {MONTH_DAYS})"
    return (
        f"greatest(0, least($months + 1, CAST({k} AS BIGINT) + 1 + CASE WHEN "
        f"CAST(round(({k} + 1) * {MONTH_DAYS}) AS INTEGER) <= ({days}) THEN 1 ELSE 0 END))"
    )


_CURVES = f"""
WITH b AS ({SELLER_SEGMENTS_AT_ENROLMENT}),
months AS (SELECT range AS month FROM range(0, $months + 1)),
cohort AS (
    SELECT CAST(date_trunc($grain, s.enrolled_on) AS DATE) AS cohort_start,
        CAST($observed AS DATE) - s.enrolled_on AS seen_days,
        s.terminated_on - s.enrolled_on AS stayed_days
    FROM sellers s JOIN b ON b.seller_id = s.seller_id
),
-- Month k counts a seller once their day round(k x {MONTH_DAYS}) is on or before $observed,
-- and keeps them while they left after that day: each seller is summed up by how many
-- months they were seen and stayed, not by one row per month.
counted AS (
    SELECT cohort_start,
        {_months_within("seen_days")} AS months_seen,
        CASE WHEN stayed_days IS NULL THEN $months + 1
             ELSE {_months_within("stayed_days - 1")} END AS months_stayed,
        count(*) AS sellers
    FROM cohort
    GROUP BY ALL
)
SELECT c.cohort_start, m.month,
    sum(c.sellers)::BIGINT AS sellers,
    sum(CASE WHEN m.month < c.months_stayed THEN c.sellers ELSE 0 END)::BIGINT AS retained
FROM counted c JOIN months m ON m.month < c.months_seen
GROUP BY c.cohort_start, m.month
"""


def retention_curves(
    company: Scoped,
    *,
    grain: str = "year",
    months: int = 24,
    where: SegmentFilter,
    cfg: CompanyConfig,
) -> pl.DataFrame:
    """Return the share of each enrolment cohort still enrolled k months after joining.

    One row per cohort (its first day, by ``grain``: "quarter" or "year") and month k =
    0..``months``: sellers, retained, retained_share. Rank is the one each seller held at
    enrolment; the rest of the segment is taken as of the filter's as-of date. Tenure is
    observed up to the view's as-of date (the filter's, else the data's), and a month is
    counted only for the sellers who have reached it by then, so a young cohort's curve is
    short, not falsely flat. Terminated on the day they reached month k counts as gone.
    """
    if grain not in ("quarter", "year"):
        raise ValueError(f"grain must be quarter or year, not {grain!r}")
    where.check(cfg)
    check_scope(where, company.scope)
    con = company.con
    data = data_range(company)
    win = window(where, data)
    params = {**win.params(), **filter_params(where, cfg), "grain": grain, "months": months}
    out = con.sql(_CURVES, params={k: v for k, v in params.items() if f"${k}" in _CURVES}).pl()
    return out.with_columns((pl.col("retained") / pl.col("sellers")).alias("retained_share")).sort(
        "cohort_start", "month"
    )


_FUNNEL = f"""
WITH b AS ({SELLER_SEGMENTS_AT_ENROLMENT}),
e AS (
    SELECT s.enrolled_on, s.terminated_on,
        CASE WHEN f.first_sale_on < s.enrolled_on + {FIRST_SALE_DAYS} THEN 1 ELSE 0 END
            AS sold_early,
        CASE WHEN s.terminated_on IS NULL OR s.terminated_on > s.enrolled_on + {RETENTION_DAYS}
             THEN 1 ELSE 0 END AS in_at_90d,
        CASE WHEN s.enrolled_on + {FIRST_SALE_DAYS} <= $observed THEN 1 ELSE 0 END AS past_30d,
        CASE WHEN s.enrolled_on + {RETENTION_DAYS} <= $observed THEN 1 ELSE 0 END AS past_90d
    FROM sellers s JOIN b ON b.seller_id = s.seller_id
    JOIN fact_sellers f ON f.seller_id = s.seller_id
    WHERE s.enrolled_on BETWEEN $start AND $end
)
SELECT count(*) AS enrolled,
    sum(past_30d) AS reached_30d,
    sum(past_30d * sold_early) AS first_sale_30d,
    sum(1 - past_30d) AS open_30d,
    sum(past_90d) AS reached_90d,
    sum(past_90d * sold_early) AS first_sale_30d_of_90d,
    sum(past_90d * in_at_90d) AS in_at_90d,
    sum(past_90d * sold_early * in_at_90d) AS sold_and_in_at_90d,
    sum(1 - past_90d) AS open_90d
FROM e
"""


def fast_start_funnel(
    company: Scoped, *, where: SegmentFilter, cfg: CompanyConfig
) -> dict[str, int]:
    """Return the fast-start funnel of the sellers who enrolled in the filter's period.

    Keys: enrolled; reached_30d (day 30 passed by the view's as-of date), first_sale_30d (of
    those, a sale in days 0-29), open_30d (day 30 still to come); reached_90d (day 90 passed),
    first_sale_30d_of_90d, in_at_90d (still enrolled on day 90), sold_and_in_at_90d (both),
    open_90d. A step counts only the sellers whose window for it has closed: a seller who
    enrolled last week is open, not a drop-off. The rank filter is the rank at enrolment.

    Three enrolled on 2026-10-01, 10-20 and 10-25, seen on 2026-10-31: day 30 of the first is
    10-31, so reached_30d = 1 and open_30d = 2, whatever the other two go on to do.
    """
    where.check(cfg)
    check_scope(where, company.scope)
    con = company.con
    win = window(where, data_range(company))
    params = {**win.params(), **filter_params(where, cfg)}
    row = con.sql(_FUNNEL, params={k: v for k, v in params.items() if f"${k}" in _FUNNEL}).pl()
    return {k: int(v or 0) for k, v in row.row(0, named=True).items()}


_AT_RISK = f"""
WITH b AS ({SELLER_SEGMENTS}),
orphaned AS (
    SELECT b.seller_id, b.market, b.language, b.rank, b.rank_index, p.seller_id AS sponsor_id
    FROM b JOIN sellers s ON s.seller_id = b.seller_id
    JOIN sellers p ON p.seller_id = s.sponsor_id
    WHERE b.live = 1 AND p.terminated_on BETWEEN $as_of - {SPONSOR_LEFT_DAYS - 1} AND $as_of
)
-- The empty grouping set is the headline: a sponsor whose downline spans rows counts once.
SELECT market, language, rank, count(*) AS sellers_whose_sponsor_left,
       count(DISTINCT sponsor_id) AS sponsors_who_left, grouping(market) AS is_total
FROM orphaned GROUP BY GROUPING SETS ((market, language, rank, rank_index), ())
ORDER BY is_total, sellers_whose_sponsor_left DESC, market, language, rank_index
"""

_LIVE_ON_AS_OF = "CASE WHEN s.terminated_on IS NULL OR s.terminated_on > $as_of THEN 1 ELSE 0 END"
_LAPSED_LEADERS = f"""
WITH RECURSIVE b AS ({SELLER_SEGMENTS}),
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
team(leader, seller_id, live) AS (
    SELECT l.seller_id, s.seller_id, {_LIVE_ON_AS_OF} FROM leaders l
    JOIN sellers s ON s.sponsor_id = l.seller_id
    UNION ALL
    SELECT t.leader, s.seller_id, {_LIVE_ON_AS_OF}
    FROM team t JOIN sellers s ON s.sponsor_id = t.seller_id
)
-- A seller has one sponsor, so a leader's downline holds each seller once: a count per
-- leader. Downlines nest (a lapsed leader below another): the total counts each seller
-- once, however many lapsed leaders they are below.
SELECT l.seller_id, l.market, l.language, l.rank,
    coalesce(sum(t.live), 0)::BIGINT AS live_team, 0 AS is_total
FROM leaders l LEFT JOIN team t ON t.leader = l.seller_id
GROUP BY l.seller_id, l.market, l.language, l.rank
UNION ALL
SELECT NULL, NULL, NULL, NULL,
    (SELECT count(DISTINCT seller_id) FROM team WHERE live = 1), 1
WHERE EXISTS (SELECT 1 FROM leaders)
ORDER BY is_total, live_team DESC, seller_id
"""

_LIVE = """
SELECT count(*) AS live FROM sellers
WHERE enrolled_on <= $as_of AND (terminated_on IS NULL OR terminated_on > $as_of)
"""


@dataclass(frozen=True)
class DownlineAtRisk:
    """The downline at risk on the as-of date, per row and in distinct headline totals.

    ``orphaned``: market, language, rank, sellers_whose_sponsor_left, sponsors_who_left (a
    sponsor whose downline spans several rows is in each). ``lapsed``: seller_id, market,
    language, rank, live_team (everyone below that leader; nested downlines overlap).
    The totals are distinct: ``sponsors_who_left`` counts each sponsor once, and
    ``live_below_lapsed`` each live seller once however many lapsed leaders are above them;
    ``live_sellers`` is every live seller of the user's company, the downlines' universe.
    """

    orphaned: pl.DataFrame
    lapsed: pl.DataFrame
    orphaned_sellers: int
    sponsors_who_left: int
    live_below_lapsed: int
    live_sellers: int


def downline_at_risk(
    company: Scoped,
    *,
    where: SegmentFilter,
    cfg: CompanyConfig,
    leader_rank: str = "Manager",
) -> DownlineAtRisk:
    """Return the sellers whose sponsor just left and the lapsed leaders, as of the as-of date.

    Orphaned: live sellers whose sponsor left in the 90 days up to the as-of date, by market,
    language and rank, with how many sponsors left. Lapsed leaders: live sellers at
    ``leader_rank`` or above with no sale, enrolment or app use in the last 60 days, each
    with the live size of their whole downline (everyone below them in the user's company: a
    scoped user's tree holds no seller outside their markets). Largest first.

    Leader A above leader B above seller C, both lapsed: A's row counts B and C (2), B's
    row C (1); the distinct total below lapsed leaders is 2, not 3.
    """
    where.check(cfg)
    check_scope(where, company.scope)
    con = company.con
    win = window(where, data_range(company))
    params = {
        **win.params(),
        **filter_params(where, cfg),
        "leader_rank": cfg.rank_index(leader_rank),
    }

    def run(sql: str) -> pl.DataFrame:
        return con.sql(sql, params={k: v for k, v in params.items() if f"${k}" in sql}).pl()

    def split(frame: pl.DataFrame, count: str) -> tuple[pl.DataFrame, dict]:
        rows = frame.filter(pl.col("is_total") == 0).drop("is_total")
        total = frame.filter(pl.col("is_total") == 1)
        return rows, (total.row(0, named=True) if total.height else {count: 0})

    orphaned, left = split(run(_AT_RISK), "sellers_whose_sponsor_left")
    lapsed, below = split(run(_LAPSED_LEADERS), "live_team")
    return DownlineAtRisk(
        orphaned=orphaned,
        lapsed=lapsed,
        orphaned_sellers=int(left["sellers_whose_sponsor_left"] or 0),
        sponsors_who_left=int(left.get("sponsors_who_left") or 0),
        live_below_lapsed=int(below["live_team"] or 0),
        live_sellers=int(run(_LIVE)["live"].item() or 0),
    )
