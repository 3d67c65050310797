"""The seller base of several months summed by segment in one pass (the KPI cube's)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from cxm.segments.sql._base import base_columns
from cxm.segments.sql._columns import (
    _ANSWER_SUMS,
    _CUSTOMER_90D_SUMS,
    _CUSTOMER_90D_WHERE,
    _FRONTLINE_IF,
    _RANK_STEPS,
    _RANKED_FLAGS,
    _RECENT,
    _REQUIRED,
    _SERVICE_SUMS,
    _STATUS,
    _line_sums,
    _line_where,
)
from cxm.segments.sql._window import Window
from cxm.state.facts import MAXES as FACT_MAXES
from cxm.state.windows import (
    REORDER_DAYS,
)

#: The window parameters each month of `by_month_sums` reads from its row of ``months``.
_MONTH_PARAMS = ("as_of", "start", "end", "m0", "m1", "observed", "period_end")


def _per_month(text: str, alias: str) -> str:
    # The window's parameters read from the month's row ``alias`` (our own names only).
    return re.sub(
        r"\$(\w+)",
        lambda m: f"{alias}.w_{m[1]}" if m[1] in _MONTH_PARAMS else m[0],
        text,
    )


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
