"""Customer-level exports: the at-risk customers of a segment, for a reorder campaign.

Only customers who consented to personalised contact (``consent_personalization``) are
written, and never a name or contact detail (the warehouse holds none: customers are ids);
how many were left out for want of consent is said in the stamp. Predicted value is as of the
data's as-of date (it is refitted at each load), whatever the period chosen for the segment.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import NamedTuple

from cxm.access import User, require_role
from cxm.config import CompanyConfig
from cxm.metrics.compute import check_scope, data_range, window
from cxm.metrics.value import AT_RISK
from cxm.reports.export import EXPORT_ROLES, audit_export, export_for
from cxm.reports.segment import SegmentTable, Stamp
from cxm.segments.filter import SegmentFilter
from cxm.segments.sql import SELLER_SEGMENTS, filter_params
from cxm.warehouse import store
from cxm.warehouse.scoped import Scoped

TITLE = (
    f"At-risk customers (probability still active under {AT_RISK:.0%}) who consented to "
    "personalised contact"
)


class AtRiskCounts(NamedTuple):
    """How many at-risk customers an export writes (``rows``) and leaves out (``left_out``)."""

    rows: int
    left_out: int


_ROWS = f"""
WITH b AS ({SELLER_SEGMENTS})
SELECT v.customer_id, v.seller_id, c.market, c.language, b.rank AS seller_rank,
       c.consent_personalization AS consented, v.p_alive, v.purchases_12m,
       v.expected_spend, v.clv_12m
FROM fact_customer_value v
JOIN b ON b.seller_id = v.seller_id
JOIN customers c ON c.customer_id = v.customer_id
WHERE v.at_risk = 1"""
_AT_RISK = f"{_ROWS}\nORDER BY v.clv_12m DESC, v.customer_id"
# What a page says before anyone asks for the file: the counts, not 500,000 sorted rows,
# summed from the sellers' own counts (`cxm.metrics.value.PER_SELLER`): the same customers
# as `_ROWS` (each scored customer's serving seller, at risk), by consent.
_CONSENTED = "customers_at_risk_consented"
_COUNTS = f"""
WITH b AS ({SELLER_SEGMENTS})
SELECT coalesce(sum(v.{_CONSENTED}), 0) AS kept,
       coalesce(sum(v.customers_at_risk - v.{_CONSENTED}), 0) AS left_out
FROM fact_seller_value v
JOIN b ON b.seller_id = v.seller_id"""
# The same counts from every at-risk customer's row: for a warehouse an older load wrote,
# whose seller sums lack the consented count.
_COUNTS_BY_CUSTOMER = f"""
SELECT count(*) FILTER (WHERE consented) AS kept, count(*) FILTER (WHERE NOT consented) AS left_out
FROM ({_ROWS}) r"""


def at_risk_customers(
    company: Scoped,
    *,
    where: SegmentFilter,
    cfg: CompanyConfig,
    generated_by: str,
    now: dt.datetime | None = None,
) -> SegmentTable:
    """Return the consenting at-risk customers of ``where``'s sellers, most valuable first.

    Columns: customer_id, seller_id, market, language, seller_rank, p_alive, purchases_12m,
    expected_spend, clv_12m.
    """
    rel, data = _run(company, _AT_RISK, where, cfg)
    rows = rel.pl()
    kept = rows.filter("consented").drop("consented")
    stamp = Stamp.of(
        company,
        title=TITLE,
        where=where,
        as_of=data.as_of,
        rows=kept.height,
        generated_by=generated_by,
        now=now,
        min_n=cfg.min_n,
        left_out=left_out_text(rows.height - kept.height),
    )
    return SegmentTable(frame=kept, stamp=stamp)


def at_risk_file(
    company: Scoped,
    *,
    user: User | None,
    where: SegmentFilter,
    cfg: CompanyConfig,
    generated_by: str,
    path: str | Path | None = None,
) -> bytes:
    """Return the at-risk customers' CSV for ``user`` and record it in the audit trail
    (``path``: the trail's file, default beside the warehouse): what the page's download
    makes when pressed. Raises `NotAllowed`, before reading anything, unless ``user`` may
    take files."""
    require_role(user, *EXPORT_ROLES)
    table = at_risk_customers(company, where=where, cfg=cfg, generated_by=generated_by)
    data = export_for(user, table, "csv")
    audit_export(user, table, "csv", data, path=path)
    return data


def at_risk_counts(company: Scoped, *, where: SegmentFilter, cfg: CompanyConfig) -> AtRiskCounts:
    """Return how many rows `at_risk_customers` writes for ``where`` and how many it leaves
    out for want of consent, without building the rows (what a page says before a download).
    """
    held = store.table_columns(company.con, "fact_seller_value")
    sql = _COUNTS if _CONSENTED in held else _COUNTS_BY_CUSTOMER
    ((kept, left_out),) = _run(company, sql, where, cfg)[0].fetchall()
    return AtRiskCounts(rows=int(kept), left_out=int(left_out))


def left_out_text(n: int) -> str:
    """Return what an at-risk export leaves out, in words.

    >>> left_out_text(1234).split(";")[0]
    '1,234 at-risk customers without consent to personalised contact'
    """
    return (
        f"{n:,} at-risk customers without consent to personalised contact; no names or "
        "contact details are held"
    )


def _run(company: Scoped, sql: str, where: SegmentFilter, cfg: CompanyConfig):
    # Checked as every reader checks: the filter against the configuration and the scope.
    where.check(cfg)
    check_scope(where, company.scope)
    data = data_range(company)
    params = {**window(where, data).params(), **filter_params(where, cfg)}
    rel = company.con.sql(sql, params={k: v for k, v in params.items() if f"${k}" in sql})
    return rel, data
