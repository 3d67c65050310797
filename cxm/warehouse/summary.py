"""What the warehouse holds, per market, in a user's company: the Data page's numbers.

Not KPIs (those live in ``cxm.metrics``): plain counts of what was loaded, so a user can
check that the data they expect is there.
"""

from __future__ import annotations

import polars as pl

from cxm.warehouse.scoped import Scoped

_MARKET_SUMMARY = """
WITH s AS (
    SELECT market, count(*) AS sellers, count(terminated_on) AS terminated_sellers
    FROM sellers GROUP BY market
), c AS (
    SELECT market, count(*) AS customers
    FROM customers GROUP BY market
), o AS (
    SELECT c.market, count(*) AS orders, sum(o.amount) AS revenue_amount,
           max(o.ordered_at) AS last_order_at
    FROM orders o JOIN customers c USING (customer_id)
    GROUP BY c.market
)
SELECT market, coalesce(sellers, 0) AS sellers,
       coalesce(terminated_sellers, 0) AS terminated_sellers,
       coalesce(customers, 0) AS customers, coalesce(orders, 0) AS orders,
       coalesce(revenue_amount, 0)::DOUBLE AS revenue_amount, last_order_at
FROM s FULL JOIN c USING (market) FULL JOIN o USING (market)
ORDER BY sellers DESC, market
"""


def market_summary(company: Scoped) -> pl.DataFrame:
    """Return one row per market of the user's company: sellers, terminated sellers,
    customers, orders, revenue (company currency) and the time of the last order.

    A market's orders are those of its customers. A scoped user's company holds only their
    markets (`cxm.warehouse.scoped`), so no count from outside them can reach this.
    """
    return company.con.sql(_MARKET_SUMMARY).pl()
