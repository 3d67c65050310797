"""Customer-level exports: the at-risk customers of a segment, for a reorder campaign.

Only customers who consented to personalised contact (``consent_personalization``) are
written, and never a name or contact detail (the warehouse holds none: customers are ids);
how many were left out for want of consent is said in the stamp. Predicted value is as of the
data's as-of date (it is refitted at each load), whatever the period chosen for the segment.
"""

from __future__ import annotations

import datetime as dt

from cxm.config import CompanyConfig
from cxm.metrics.compute import check_scope, data_range, window
from cxm.metrics.value import AT_RISK
from cxm.reports.segment import SegmentTable, Stamp
from cxm.segments.filter import SegmentFilter
from cxm.segments.sql import SELLER_BASE, filter_params
from cxm.warehouse.scoped import Scoped

_AT_RISK = f"""
WITH b AS ({SELLER_BASE})
SELECT v.customer_id, v.seller_id, c.market, c.language, b.rank AS seller_rank,
       c.consent_personalization AS consented, v.p_alive, v.purchases_12m,
       v.expected_spend, v.clv_12m
FROM fact_customer_value v
JOIN b ON b.seller_id = v.seller_id
JOIN customers c ON c.customer_id = v.customer_id
WHERE v.at_risk = 1
ORDER BY v.clv_12m DESC, v.customer_id"""


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
    where.check(cfg)
    check_scope(where, company.scope)
    con = company.con
    data = data_range(company)
    win = window(where, data)
    params = {**win.params(), **filter_params(where, cfg)}
    rows = con.sql(_AT_RISK, params={k: v for k, v in params.items() if f"${k}" in _AT_RISK}).pl()
    kept = rows.filter("consented").drop("consented")
    stamp = Stamp.of(
        company,
        title=f"At-risk customers (probability still active under {AT_RISK:.0%}) who "
        "consented to personalised contact",
        where=where,
        as_of=data.as_of,
        rows=kept.height,
        generated_by=generated_by,
        now=now,
        min_n=cfg.min_n,
        left_out=f"{rows.height - kept.height:,} at-risk customers without consent to "
        "personalised contact; no names or contact details are held",
    )
    return SegmentTable(frame=kept, stamp=stamp)
