"""The demo orders, generated in blocks of customers so memory stays flat at 50M orders.

Autoship customers reorder monthly until they cancel; repeat buyers come back at random gaps of
about 78 days; one-time buyers order once. Customers of sellers who follow up stop half as
often (so some one-time buyers come back). Orders stop when the customer's seller leaves.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import polars as pl

from cxm.warehouse.demo import _calibration as cal
from cxm.warehouse.demo._field import Customers
from cxm.warehouse.demo._sampling import as_datetime, categorical, microseconds, month_of

BLOCK = 1_000_000  # customers per block
CHANNELS_OTHER = np.array([0.5, 0.2, 0.2, 0.1])  # seller_link, party, online_shop, phone


def _within_group_index(counts: np.ndarray) -> np.ndarray:
    """Return 0, 1, ... k-1 for each group of ``counts[i]`` repeated rows."""
    total = int(counts.sum())
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total, dtype=np.int64) - starts


STOP_CHANCE = np.array([cal.AUTOSHIP_MONTHLY_CANCEL, cal.REPEAT_STOP_CHANCE, 1.0])  # by kind
SEASON_AMOUNT = np.array([0.97, 0.97, 1.0, 1.0, 1.02, 1.0, 0.98, 0.98, 1.0, 1.02, 1.06, 1.12])


def order_blocks(
    seed: np.random.SeedSequence, c: Customers, as_of: int, ctx: cal.Context
) -> Iterator[pl.DataFrame]:
    """Yield the orders of each block of customers as a frame of numeric codes.

    Columns: order_num (1-based, unique across blocks), customer, seller (0-based indexes),
    ordered_at, amount_cents, units, line, autoship, channel.
    """
    next_num = 1
    blocks = range(0, c.n, BLOCK)
    for b, lo in zip(seed.spawn(len(blocks)), blocks, strict=True):
        rng = np.random.default_rng(b)
        frame = _block(rng, c, np.arange(lo, min(lo + BLOCK, c.n)), as_of, ctx)
        frame = frame.with_columns(order_num=pl.int_range(next_num, next_num + frame.height))
        next_num += frame.height
        yield frame


def _block(rng, c: Customers, ids: np.ndarray, as_of: int, ctx: cal.Context) -> pl.DataFrame:
    kind = c.kind[ids]
    acquired = c.acquired[ids].astype(np.int64)
    end = np.minimum(c.end[ids], as_of).astype(np.int64)
    # After each order a customer stops with the chance of their kind (one-time buyers: 1),
    # halved when their seller follows up; autoship orders stop at the customer's end.
    stop = STOP_CHANCE[kind] * np.where(c.followed_up[ids], cal.FOLLOW_UP_STOP_FACTOR, 1.0)
    k = rng.geometric(stop)
    auto = kind == 0
    k = np.where(auto, np.minimum(k, (end - acquired) // 30 + 1), np.minimum(k, 40))

    cust = np.repeat(ids, k)
    j = _within_group_index(k)
    ckind = np.repeat(kind, k)
    n = len(cust)
    gap = np.where(
        ckind == 0,
        30.44 + rng.normal(0, 1.5, n),
        rng.exponential(cal.REPEAT_GAP_DAYS, n) + 3,
    )
    gap[j == 0] = rng.integers(0, 3, int((j == 0).sum()))
    csum = np.cumsum(gap)
    first = np.cumsum(k) - k
    before = np.zeros(len(k))
    some = k > 0
    before[some] = csum[first[some]] - gap[first[some]]
    offset = csum - np.repeat(before, k)
    day = np.repeat(acquired, k) + offset.astype(np.int64)
    keep = day <= np.repeat(end, k)
    cust, j, ckind, day = cust[keep], j[keep], ckind[keep], day[keep]
    # Autoship customers add a one-off order (j = -1) to some months, 5-25 days after a shipment.
    add = np.flatnonzero((ckind == 0) & (j > 0) & (rng.random(len(cust)) < cal.AUTOSHIP_ADD_ON))
    add_day = day[add] + rng.integers(5, 26, len(add))
    fits = add_day <= np.minimum(c.end[cust[add]], as_of)
    add, add_day = add[fits], add_day[fits]
    cust = np.concatenate([cust, cust[add]])
    j = np.concatenate([j, np.full(len(add), -1)])
    ckind = np.concatenate([ckind, ckind[add]])
    day = np.concatenate([day, add_day])
    n = len(cust)

    market = c.market[cust]
    favourite = c.favourite_line[cust]
    line = np.where(
        (ckind == 0) & (j >= 0) & (rng.random(n) < 0.85) | (ckind == 1) & (rng.random(n) < 0.6),
        favourite,
        ctx.pick_regular_line(rng, market),
    )
    # Planted: the one-time line appears only on a customer's first order.
    p_one_time = np.where(
        ckind == 2,
        cal.ONE_TIME_LINE_SHARE_ONE_TIME_BUYERS,
        np.where(ckind == 1, cal.ONE_TIME_LINE_SHARE_REPEAT_BUYERS, 0.0),
    )
    one_time = (j == 0) & ctx.one_time_in_market[market] & (rng.random(n) < p_one_time)
    line = np.where(one_time, ctx.one_time_line, line).astype(np.int8)

    units = np.minimum(1 + rng.poisson(0.5, n), 6)
    shrink = 1 - cal.AOV_SHRINK * np.clip(
        (day - (as_of - cal.AOV_SHRINK_DAYS)) / cal.AOV_SHRINK_DAYS, 0, 1
    )
    dollars = ctx.line_price[line] * units * rng.lognormal(-0.03, 0.25, n)
    dollars *= SEASON_AMOUNT[month_of(day)] * shrink
    cents = np.maximum(np.round(dollars * 100), 99).astype(np.int64)

    autoship = (ckind == 0) & (j > 0)
    channel = np.where(
        autoship,
        np.where(rng.random(n) < 0.9, 2, 0),
        categorical(rng, CHANNELS_OTHER, n),
    ).astype(np.int8)
    # Orders land between 07:00 and 23:00.
    at = microseconds(day, rng.integers(7 * 3600, 23 * 3600, n))
    order = np.argsort(at, kind="stable")
    return pl.DataFrame(
        {
            "customer": cust[order],
            "seller": c.seller[cust][order],
            "ordered_at": as_datetime(at[order]),
            "amount_cents": cents[order],
            "units": units[order].astype(np.int64),
            "line": line[order],
            "autoship": autoship[order],
            "channel": channel[order],
        }
    )
