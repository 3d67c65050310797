"""The experience gap: what corporate believes against what customers and sellers report.

Per attribute (quality, value, service, ease, delivery, tools, training): the share of
corporate answers rating it "superior" (top box, 5 of 5, as in the Bain study where 80% of
CEOs and 8% of their customers said so) minus the share of customers (or sellers) who do, in
percentage points (pp); top-two-box (4 or 5) beside it. Which attributes drive customer NPS, an
importance-weighted gap index, and the focus areas (importance against gap). Corporate answers
belong to their market only: for a breakdown by rank or language the corporate side is the
whole filtered market set.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from cxm.config import CompanyConfig
from cxm.metrics.compute import check_scope, data_range, window
from cxm.segments.filter import Dimension, SegmentFilter, parse_dimension
from cxm.segments.order import sort_segments
from cxm.segments.sql import CUSTOMER_QUESTIONS, SELLER_QUESTIONS, SELLER_SEGMENTS, filter_params
from cxm.warehouse.scoped import Scoped

ATTRIBUTES = ("quality", "value", "service", "ease", "delivery", "tools", "training")
CUSTOMER_ATTRIBUTES = CUSTOMER_QUESTIONS

_ANSWERS = f"""
WITH b AS ({SELLER_SEGMENTS})
SELECT {{dims}} a.question AS attribute, a.respondent_type,
    count(*) AS answers,
    sum(CASE WHEN a.score = 5 THEN 1 ELSE 0 END) AS top_box,
    sum(CASE WHEN a.score >= 4 THEN 1 ELSE 0 END) AS top_two_box
FROM fact_answers a JOIN b ON b.seller_id = a.seller_id
WHERE a.question <> 'nps' AND a.answered_on BETWEEN $start AND $end
GROUP BY {{group}} a.question, a.respondent_type
"""

_CORPORATE = """
SELECT {dims} question AS attribute, count(*) AS answers,
    sum(CASE WHEN score = 5 THEN 1 ELSE 0 END) AS top_box,
    sum(CASE WHEN score >= 4 THEN 1 ELSE 0 END) AS top_two_box
FROM fact_answers
WHERE respondent_type = 'corporate' AND question <> 'nps'
  AND answered_on BETWEEN $start AND $end
  AND ($f_markets IS NULL OR list_contains($f_markets, market))
GROUP BY {group} question
"""


def attribute_gaps(
    company: Scoped,
    *,
    by: Sequence[Dimension | str] = (),
    where: SegmentFilter,
    cfg: CompanyConfig,
) -> pl.DataFrame:
    """Return one row per segment and attribute: top-box shares and the gaps, in pp.

    Columns: the dimensions, attribute, corporate_share, customer_share, seller_share (top
    box, 0..1), the same ``*_top_two_share``, customer_gap_pp and seller_gap_pp (corporate
    minus customer / seller), and n_corporate, n_customer, n_seller. A side with no answers
    gives null shares and a null gap, never 0. Segments come in the order they are listed
    everywhere (`cxm.segments.order`: ranks up the ladder), attributes in `ATTRIBUTES` order.
    """
    where.check(cfg)
    check_scope(where, company.scope)
    con = company.con
    dims = [parse_dimension(str(d)).value for d in by]
    win = window(where, data_range(company))
    params = {**win.params(), **filter_params(where, cfg)}
    cols = "".join(f"b.{d}, " for d in dims)
    sql = _ANSWERS.format(dims=cols, group=cols)
    counts = [pl.col(c).cast(pl.Float64) for c in ("answers", "top_box", "top_two_box")]
    answers = (
        con.sql(sql, params={k: v for k, v in params.items() if f"${k}" in sql})
        .pl()
        .with_columns(counts)
    )
    corp_dims = "market, " if "market" in dims else ""
    csql = _CORPORATE.format(dims=corp_dims, group=corp_dims)
    corporate = (
        con.sql(csql, params={k: v for k, v in params.items() if f"${k}" in csql})
        .pl()
        .with_columns(counts)
    )

    asked = {"customer": CUSTOMER_QUESTIONS, "seller": SELLER_QUESTIONS}

    def side(kind: str) -> pl.DataFrame:
        # Each side counts only the attributes it is asked about (and compared on).
        part = answers.filter(
            pl.col("respondent_type") == kind, pl.col("attribute").is_in(asked[kind])
        )
        return part.select(
            *dims,
            "attribute",
            pl.col("answers").alias(f"n_{kind}"),
            (pl.col("top_box") / pl.col("answers")).alias(f"{kind}_share"),
            (pl.col("top_two_box") / pl.col("answers")).alias(f"{kind}_top_two_share"),
        )

    corp = corporate.select(
        *(["market"] if corp_dims else []),
        "attribute",
        pl.col("answers").alias("n_corporate"),
        (pl.col("top_box") / pl.col("answers")).alias("corporate_share"),
        (pl.col("top_two_box") / pl.col("answers")).alias("corporate_top_two_share"),
    )
    grid = pl.concat(
        [side("customer").select(*dims, "attribute"), side("seller").select(*dims, "attribute")]
    )
    if dims and "market" not in dims:
        grid = pl.concat(
            [grid, grid.select(*dims).unique().join(corp.select("attribute"), how="cross")]
        )
    else:
        grid = pl.concat([grid, corp.select(*dims, "attribute")])
    grid = grid.unique().sort([*dims, "attribute"])
    out = (
        grid.join(side("customer"), on=[*dims, "attribute"], how="left")
        .join(side("seller"), on=[*dims, "attribute"], how="left")
        .join(corp, on=[*(["market"] if corp_dims else []), "attribute"], how="left")
    )
    return (
        out.with_columns(
            (100 * (pl.col("corporate_share") - pl.col("customer_share"))).alias("customer_gap_pp"),
            (100 * (pl.col("corporate_share") - pl.col("seller_share"))).alias("seller_gap_pp"),
            *(
                pl.col(f"n_{k}").fill_null(0).cast(pl.Int64)
                for k in ("customer", "seller", "corporate")
            ),
        )
        .with_columns(pl.col("attribute").cast(pl.Enum(ATTRIBUTES)))
        .sort("attribute")
        .pipe(sort_segments, cfg, dims)  # segments in ladder order, attributes within
    )


_DRIVERS = f"""
WITH b AS ({SELLER_SEGMENTS}),
answers AS (
    SELECT a.response_id, a.seller_id, a.question, a.score, a.answered_on,
           r.respondent_id
    FROM fact_answers a
    JOIN survey_responses r ON r.response_id = a.response_id
    JOIN b ON b.seller_id = a.seller_id
    WHERE a.respondent_type = 'customer' AND a.answered_on BETWEEN $start AND $end
),
nps AS (SELECT respondent_id, answered_on, score FROM answers WHERE question = 'nps')
SELECT a.question AS attribute, corr(a.score, n.score) AS correlation, count(*) AS n
FROM answers a JOIN nps n ON n.respondent_id = a.respondent_id
    AND n.answered_on = a.answered_on
WHERE a.question <> 'nps'
GROUP BY a.question
"""


def drivers(
    company: Scoped,
    *,
    where: SegmentFilter,
    cfg: CompanyConfig,
) -> pl.DataFrame:
    """Return how much each customer attribute drives customer NPS, in the segment.

    Method: across customers who answered the recommend question and the attribute on the
    same day, the Pearson correlation of the attribute's 1-5 score with the 0-10 recommend
    score; ``importance`` is each attribute's share of the positive correlations (negative
    ones count 0), so importances sum to 1. Columns: attribute, correlation, importance, n.
    """
    where.check(cfg)
    check_scope(where, company.scope)
    con = company.con
    win = window(where, data_range(company))
    params = {**win.params(), **filter_params(where, cfg)}
    out = con.sql(_DRIVERS, params={k: v for k, v in params.items() if f"${k}" in _DRIVERS}).pl()
    positive = pl.col("correlation").clip(lower_bound=0).fill_null(0).fill_nan(0)
    total = out.select(positive.sum()).item() if out.height else 0
    return out.with_columns(
        (positive / total if total else pl.lit(None, dtype=pl.Float64)).alias("importance")
    ).sort("attribute")


def focus_areas(gaps: pl.DataFrame, importance: pl.DataFrame) -> pl.DataFrame:
    """Return the gaps with each attribute's importance and its quadrant.

    Quadrants split at the mean importance and the mean gap of the rows given: "fix first"
    (important, wide gap), "maintain" (important, narrow gap), "watch" (less important, wide
    gap), "low priority". Also the importance-weighted gap index per segment
    (``gap_index_pp``: the sum over attributes of importance x customer gap).
    """
    rows = gaps.filter(pl.col("attribute").cast(pl.String).is_in(CUSTOMER_ATTRIBUTES))
    rows = rows.with_columns(pl.col("attribute").cast(pl.String)).join(
        importance.select(pl.col("attribute").cast(pl.String), "importance"),
        on="attribute",
        how="left",
    )
    mean_imp = rows.select(pl.col("importance").mean()).item()
    mean_gap = rows.select(pl.col("customer_gap_pp").mean()).item()
    important = pl.col("importance") >= mean_imp
    wide = pl.col("customer_gap_pp") >= mean_gap
    quadrant = (
        pl.when(important & wide)
        .then(pl.lit("fix first"))
        .when(important)
        .then(pl.lit("maintain"))
        .when(wide)
        .then(pl.lit("watch"))
        .otherwise(pl.lit("low priority"))
    )
    return rows.with_columns(quadrant.alias("quadrant"))


def gap_index(focus: pl.DataFrame, by: Sequence[str] = ()) -> pl.DataFrame:
    """Return the importance-weighted customer gap per segment, in points."""
    agg = (pl.col("importance") * pl.col("customer_gap_pp")).sum().alias("gap_index_pp")
    if by:
        return focus.group_by(list(by), maintain_order=True).agg(agg)
    return focus.select(agg)
