"""The demo orders' building blocks, on frames small enough to work out by hand."""

from __future__ import annotations

import numpy as np
import polars as pl

from cxm.warehouse.demo._experiments import first_orders
from cxm.warehouse.demo._orders import _chronological
from cxm.warehouse.demo._sampling import US_PER_DAY


def test_orders_are_put_in_time_order_with_same_second_orders_kept_in_their_drawn_order():
    day = np.array([20_000, 19_999, 20_000, 19_999, 20_000])
    second = np.array([50, 70, 10, 70, 50])
    # (19999, 70) rows 1 and 3, then (20000, 10) row 2, then (20000, 50) rows 0 and 4.
    assert _chronological(day, second).tolist() == [1, 3, 2, 0, 4]


def test_a_watched_customers_first_order_and_next_order_on_a_later_day_are_kept():
    def at(day: int, second: int) -> int:
        return day * US_PER_DAY + second * 1_000_000

    # In time order. Customer 5: first order day 100 (amount 1000), another the same day,
    # next on day 130 and day 120 is not theirs. Customer 7: one order only (day 120).
    # Customer 6 is not watched.
    orders = pl.DataFrame(
        {
            "customer": [5, 6, 5, 7, 5],
            "ordered_at": pl.Series(
                [at(100, 30_000), at(100, 31_000), at(100, 40_000), at(120, 0), at(130, 0)]
            ).cast(pl.Datetime("us")),
            "amount_cents": [1000, 2000, 3000, 4000, 5000],
            "units": [1, 2, 3, 4, 5],
            "line": pl.Series([0, 1, 2, 3, 4], dtype=pl.Int8),
            "channel": pl.Series([1, 1, 2, 3, 0], dtype=pl.Int8),
        }
    )
    watch = np.array([False] * 5 + [True, False, True])
    got = first_orders(orders, watch).sort("customer")
    assert got.select("customer", "first_day", "second_day", "amount_cents", "line").rows() == [
        (5, 100, 130, 1000, 0),
        (7, 120, -1, 4000, 3),
    ]
