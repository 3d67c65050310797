"""The demo orders, generated in blocks of customers so memory stays flat at 50M orders.

Autoship customers reorder monthly until they cancel; repeat buyers come back at random gaps of
about 78 days; one-time buyers order once. Customers of sellers who follow up stop half as
often (so some one-time buyers come back). Orders stop when the customer's seller leaves.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

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
) -> list[Callable[[], pl.DataFrame]]:
    """Return one job per block of customers; each returns that block's orders as a frame of
    numeric codes, in the order they are to be numbered (`OrderNumbers`).

    Columns: customer, seller (0-based indexes), ordered_at, amount_cents, units, line,
    autoship, channel. Each block draws from a generator of its own (spawned from ``seed``), so
    the jobs can run in any order, or at once in threads, and give the same orders.
    """
    blocks = range(0, c.n, BLOCK)
    return [
        functools.partial(_block, b, c, lo, min(lo + BLOCK, c.n), as_of, ctx)
        for b, lo in zip(seed.spawn(len(blocks)), blocks, strict=True)
    ]


class OrderNumbers:
    """Numbers the blocks' orders 1, 2, ... across blocks: call it on each block in turn."""

    def __init__(self) -> None:
        self.next = 1

    def __call__(self, frame: pl.DataFrame) -> pl.DataFrame:
        first, self.next = self.next, self.next + frame.height
        return frame.with_columns(order_num=pl.int_range(first, self.next))


def _block(seed, c: Customers, lo: int, hi: int, as_of: int, ctx: cal.Context) -> pl.DataFrame:
    # Every draw below is made in the same order and size as ever (the data must not change);
    # the arithmetic around them is done in place where that gives the same numbers.
    rng = np.random.default_rng(seed)
    kind = c.kind[lo:hi]
    acquired = c.acquired[lo:hi].astype(np.int64)
    end = np.minimum(c.end[lo:hi], as_of).astype(np.int64)
    # After each order a customer stops with the chance of their kind (one-time buyers: 1),
    # halved when their seller follows up; autoship orders stop at the customer's end.
    stop = STOP_CHANCE[kind] * np.where(c.followed_up[lo:hi], cal.FOLLOW_UP_STOP_FACTOR, 1.0)
    k = rng.geometric(stop)
    k = np.where(kind == 0, np.minimum(k, (end - acquired) // 30 + 1), np.minimum(k, 40))

    cust = np.repeat(np.arange(lo, hi), k)
    j = _within_group_index(k)
    ckind = np.repeat(kind, k)
    n = len(cust)
    gap = rng.normal(0, 1.5, n)
    gap += 30.44
    repeat_gap = rng.exponential(cal.REPEAT_GAP_DAYS, n)
    repeat_gap += 3
    np.copyto(gap, repeat_gap, where=ckind != 0)
    del repeat_gap
    some = k > 0
    first = (np.cumsum(k) - k)[some]  # the row of each customer's first order (j == 0)
    gap[first] = rng.integers(0, 3, len(first))
    csum = np.cumsum(gap)
    before = np.zeros(len(k))
    before[some] = csum[first] - gap[first]
    del gap
    csum -= np.repeat(before, k)
    day = csum.astype(np.int64)
    day += np.repeat(acquired, k)
    del csum
    keep = np.flatnonzero(day <= np.repeat(end, k))
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
    favourite = (ckind == 0) & (j >= 0) & (rng.random(n) < 0.85)
    favourite |= (ckind == 1) & (rng.random(n) < 0.6)
    line = ctx.pick_regular_line(rng, market)
    np.copyto(line, c.favourite_line[cust], where=favourite)
    del favourite
    # Planted: the one-time line appears only on a customer's first order.
    p_one_time = P_ONE_TIME[ckind]
    one_time = (j == 0) & ctx.one_time_in_market[market] & (rng.random(n) < p_one_time)
    line[one_time] = ctx.one_time_line
    del market, p_one_time, one_time

    units = rng.poisson(0.5, n)
    units += 1
    np.minimum(units, 6, out=units)
    dollars = ctx.line_price[line] * units
    dollars *= rng.lognormal(-0.03, 0.25, n)
    factor = SEASON_AMOUNT[month_of(day)]
    # The average order shrinks over the last AOV_SHRINK_DAYS (a factor of 1 before them).
    late = np.flatnonzero(day > as_of - cal.AOV_SHRINK_DAYS)
    factor[late] *= 1 - cal.AOV_SHRINK * np.clip(
        (day[late] - (as_of - cal.AOV_SHRINK_DAYS)) / cal.AOV_SHRINK_DAYS, 0, 1
    )
    dollars *= factor
    del factor, late
    dollars *= 100
    np.round(dollars, out=dollars)
    np.maximum(dollars, 99, out=dollars)
    cents = dollars.astype(np.int64)
    del dollars

    autoship = (ckind == 0) & (j > 0)
    del ckind, j
    channel = np.where(rng.random(n) < 0.9, 2, 0).astype(np.int8)
    np.copyto(channel, categorical(rng, CHANNELS_OTHER, n), where=~autoship, casting="unsafe")
    # Orders land between 07:00 and 23:00.
    seconds = rng.integers(7 * 3600, 23 * 3600, n)
    order = _chronological(day, seconds - 7 * 3600)
    cust = cust[order]
    return pl.DataFrame(
        {
            "customer": cust,
            "seller": c.seller[cust],
            "ordered_at": as_datetime(microseconds(day[order], seconds[order])),
            "amount_cents": cents[order],
            "units": units[order],
            "line": line[order],
            "autoship": autoship[order],
            "channel": channel[order],
        }
    )


P_ONE_TIME = np.array(  # by kind: autoship, repeat, one-time
    [0.0, cal.ONE_TIME_LINE_SHARE_REPEAT_BUYERS, cal.ONE_TIME_LINE_SHARE_ONE_TIME_BUYERS]
)


def _chronological(day: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Return the order that sorts rows by (day, second), ties kept in row order.

    The same as a stable argsort of the timestamps; done as two stable sorts of 16-bit keys
    (numpy sorts those by radix, about twice as fast as sorting the 64-bit timestamps).
    """
    lo = int(day.min()) if len(day) else 0
    if len(day) and (int(day.max()) - lo >= 1 << 16 or int(second.max()) >= 1 << 16):
        return np.argsort(microseconds(day, second), kind="stable")
    by_second = np.argsort(second.astype(np.uint16), kind="stable")
    days = (day[by_second] - lo).astype(np.uint16)
    return by_second[np.argsort(days, kind="stable")]
