"""The seller bases built from `_columns`' texts: the full base (every measure), the lean one
(segments only), the service-only one, and the segments each load stores."""

from __future__ import annotations

import datetime as dt
import re

import duckdb

from cxm.config import CompanyConfig
from cxm.segments.cut import CUT_CTES, SELLER_MONTHS
from cxm.segments.filter import SegmentFilter
from cxm.segments.periods import Period
from cxm.segments.sql._columns import (
    _ANSWER_SUMS,
    _CUSTOMER_90D_SUMS,
    _CUSTOMER_90D_WHERE,
    _FRONTLINE_IF,
    _MEASURE_COLUMNS,
    _RANK_STEPS,
    _REQUIRED,
    _SEGMENT_COLUMNS,
    _SERVICE,
    _core_ctes,
    _line_sums,
    _line_where,
)
from cxm.segments.sql._window import FLOW_SUMS, SEGMENT_WHERE, Window, filter_params

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


#: Product-line buyers of the period by the seller segment (and ``l.product_line``).
LINE_BUYERS = f"""
WITH b AS ({SELLER_BASE})
SELECT {{select}} {_line_sums("l")}
FROM fact_line_buyers l JOIN b ON b.seller_id = l.seller_id
WHERE {_line_where("l")}
{{group}}"""
