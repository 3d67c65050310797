"""What the warehouse holds, per market, inside a user's scope: the Data page's numbers.

Not KPIs (those live in ``cxm.metrics``): plain counts of what was loaded, so a user can
check that the data they expect is there.
"""

from __future__ import annotations

import duckdb
import polars as pl

from cxm.access import Scope

_MARKET_SUMMARY = """
WITH s AS (
    SELECT market, count(*) AS sellers, count(terminated_on) AS terminated_sellers
    FROM sellers WHERE $markets IS NULL OR list_contains($markets, market) GROUP BY market
), c AS (
    SELECT market, count(*) AS customers
    FROM customers WHERE $markets IS NULL OR list_contains($markets, market) GROUP BY market
), o AS (
    SELECT c.market, count(*) AS orders, sum(o.amount) AS revenue_amount,
           max(o.ordered_at) AS last_order_at
    FROM orders o JOIN customers c USING (customer_id)
    WHERE $markets IS NULL OR list_contains($markets, c.market) GROUP BY c.market
)
SELECT market, coalesce(sellers, 0) AS sellers,
       coalesce(terminated_sellers, 0) AS terminated_sellers,
       coalesce(customers, 0) AS customers, coalesce(orders, 0) AS orders,
       coalesce(revenue_amount, 0)::DOUBLE AS revenue_amount, last_order_at
FROM s FULL JOIN c USING (market) FULL JOIN o USING (market)
ORDER BY sellers DESC, market
"""


def market_summary(con: duckdb.DuckDBPyConnection, *, scope: Scope) -> pl.DataFrame:
    """Return one row per market in ``scope``: sellers, terminated sellers, customers, orders,
    revenue (company currency) and the time of the last order.

    A market's orders are those of its customers. Markets outside the scope never leave the
    database: the filter is a bound parameter of the query.
    """
    markets = list(scope.markets) if scope.markets is not None else None
    return con.sql(_MARKET_SUMMARY, params={"markets": markets}).pl()
