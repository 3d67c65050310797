"""The demo's two experiments: who was assigned to which arm, and the one true effect planted.

Drawn by a generator of their own (``SeedSequence([seed, EXPERIMENT_STREAM])``), after every
other table, so the draws of the rest of the demo, and every row they make, are what they were
before experiments existed. The finished experiment's effect is *added* orders only: some
customers of its treatment sellers who did not reorder within 90 days of their first order do,
once, after the experiment started (docs/demo-data.md, "Experiments").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from cxm.warehouse.demo._field import Customers, Field
from cxm.warehouse.demo._sampling import US_PER_DAY

#: The stream of the demo's seed the experiments draw from (never shared with other tables).
EXPERIMENT_STREAM = 23
EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class DemoExperiment:
    """One planted experiment, as the demo's definitions describe it (``cxm.experiments``)."""

    id: str
    name: str
    hypothesis: str
    start: dt.date
    planned_end: dt.date
    share: float
    primary: str
    guardrails: tuple[str, ...]
    #: Of the treatment sellers' customers whose 90-day window closes in the experiment and
    #: who did not reorder within it, the share who reorder once because of the treatment.
    reorder_uplift: float


#: The finished experiment (its 90-day windows all closed by the demo's as-of date) and the
#: running one (its planned end after the as-of date). Windows are whole months: the seller
#: facts are kept by month.
EXPERIMENTS = (
    DemoExperiment(
        id="EXP-REMIND",
        name="Reorder reminders",
        hypothesis="Reminding sellers of customers who have not reordered wins reorders.",
        start=dt.date(2026, 4, 1),
        planned_end=dt.date(2026, 6, 30),
        share=0.5,
        primary="customer_retention_90d",
        guardrails=("revenue_per_live_seller", "active_rate"),
        reorder_uplift=0.30,
    ),
    DemoExperiment(
        id="EXP-COACH",
        name="Fast-start coaching",
        hypothesis="Coaching prompts for new and quiet sellers raise activity.",
        start=dt.date(2026, 9, 1),
        planned_end=dt.date(2026, 12, 31),
        share=0.5,
        primary="active_rate",
        guardrails=("revenue_per_live_seller",),
        reorder_uplift=0.0,
    ),
)


def _day(d: dt.date) -> int:
    return (d - EPOCH).days


def assignments(rng: np.random.Generator, f: Field, n_ranks: int) -> pl.DataFrame:
    """Return each experiment's arms: sellers in the field on its first day, stratified by
    market x rank, ``round(share * n)`` of each stratum in treatment (numbers, not ids)."""
    frames = []
    for e, exp in enumerate(EXPERIMENTS):
        start = _day(exp.start)
        units = np.flatnonzero((f.enrolled < start) & (f.end >= start))
        stratum = f.market[units].astype(np.int64) * n_ranks + f.rank[units]
        order = np.lexsort((rng.random(len(units)), stratum))  # random order inside a stratum
        units, stratum = units[order], stratum[order]
        starts = np.flatnonzero(np.r_[True, stratum[1:] != stratum[:-1]])
        sizes = np.diff(np.r_[starts, len(units)])
        within = np.arange(len(units)) - np.repeat(starts, sizes)
        treated = within < np.repeat(np.round(exp.share * sizes), sizes)
        frames.append(
            pl.DataFrame(
                {
                    "experiment": np.full(len(units), e, dtype=np.int64),
                    "seller": units.astype(np.int64),
                    "treatment": treated,
                    "assigned_on": pl.Series(np.full(len(units), start, np.int32)).cast(pl.Date),
                }
            )
        )
    return pl.concat(frames).sort("experiment", "seller")


def watched(f: Field, c: Customers, arms: pl.DataFrame) -> np.ndarray:
    """Return, per customer, whether their seller is in the treatment of an experiment that
    plants reorders: the customers whose first orders `first_orders` keeps."""
    sellers = np.zeros(f.n, dtype=bool)
    for e, exp in enumerate(EXPERIMENTS):
        if exp.reorder_uplift:
            mine = arms.filter((pl.col("experiment") == e) & pl.col("treatment"))
            sellers[mine.get_column("seller").to_numpy()] = True
    return sellers[c.seller]


def first_orders(orders: pl.DataFrame, watch: np.ndarray) -> pl.DataFrame:
    """Return the first order of each watched customer in a block of orders (`order_blocks`'
    frame, in chronological order), and the day of their next order on a later day (-1: none).

    Columns: customer, first_day, second_day, amount_cents, units, line, channel. A customer's
    orders are all in one block, so the blocks' rows together are every watched customer's.
    """
    customer = orders.get_column("customer").to_numpy()
    rows = np.flatnonzero(watch[customer])
    customer = customer[rows]
    day = orders.get_column("ordered_at").to_numpy()[rows].astype(np.int64) // US_PER_DAY
    n = len(rows)
    lo = int(customer.min()) if n else 0
    key = customer - lo
    size = int(key.max()) + 1 if n else 0
    # The rows are in time order: a customer's first row is their first order.
    first = np.full(size, n, dtype=np.int64)
    np.minimum.at(first, key, np.arange(n))
    ids = np.flatnonzero(first < n)
    first_day = np.full(size, -1, dtype=np.int64)
    first_day[ids] = day[first[ids]]
    later = day > first_day[key]
    none = np.iinfo(np.int64).max
    second = np.full(size, none, dtype=np.int64)
    np.minimum.at(second, key[later], day[later])
    cols = orders.select("amount_cents", "units", "line", "channel")[rows[first[ids]]]
    return cols.with_columns(
        customer=pl.Series(ids + lo),
        first_day=pl.Series(first_day[ids]),
        second_day=pl.Series(np.where(second[ids] == none, -1, second[ids])),
    )


def planted_orders(
    rng: np.random.Generator,
    firsts: pl.DataFrame,
    c: Customers,
    f: Field,
    arms: pl.DataFrame,
    as_of: int,
    one_time_line: int,
) -> pl.DataFrame:
    """Return the reorders the finished experiment's treatment caused (a frame of codes).

    ``firsts``: the watched customers' first orders, by customer (`first_orders`). The lapsed
    customers of a treatment seller are those whose first order falls so that its day 90 is
    inside the experiment and who did not order again on a later day within 90 days of it.
    Each reorders with chance ``reorder_uplift``, once, on a day drawn evenly from the
    experiment's first day (or the day after their first order) to day 89 after it, while their
    seller is still in the field and by the as-of date. The order repeats their first order's
    amount, units and channel (the one-time line is swapped for the first line, a regular one:
    it is never reordered). Columns: order_num, customer, seller, ordered_at, amount_cents,
    units, line, channel.
    """
    frames = []
    for e, exp in enumerate(EXPERIMENTS):
        if not exp.reorder_uplift:
            continue
        start = _day(exp.start)
        mine = arms.filter((pl.col("experiment") == e) & pl.col("treatment"))
        treated = np.zeros(f.n, dtype=bool)
        treated[mine.get_column("seller").to_numpy()] = True
        lo, hi = _day(exp.start) - 90, _day(exp.planned_end) - 90
        customer = firsts.get_column("customer").to_numpy()
        first = firsts.get_column("first_day").to_numpy()
        second = firsts.get_column("second_day").to_numpy()
        seller = c.seller[customer]
        lapsed = (
            treated[seller] & (first >= lo) & (first <= hi) & ((second < 0) | (second > first + 90))
        )
        rows = np.flatnonzero(lapsed)  # by customer, as the draws below have always been
        first, seller = first[rows], seller[rows]
        lo = np.maximum(first + 1, start)
        day = lo + np.floor(rng.random(len(first)) * (first + 90 - lo)).astype(np.int64)
        seconds = rng.integers(7 * 3600, 23 * 3600, len(first))
        keep = (rng.random(len(first)) < exp.reorder_uplift) & (day <= as_of)
        keep &= day < f.end[seller]
        frames.append(
            firsts[rows[keep]].select(
                "customer",
                seller=pl.Series(seller[keep]),
                ordered_at=pl.Series(day[keep] * US_PER_DAY + seconds[keep] * 1_000_000).cast(
                    pl.Datetime("us")
                ),
                amount_cents="amount_cents",
                units="units",
                line=pl.when(pl.col("line") == one_time_line)
                .then(pl.lit(0, pl.Int8))
                .otherwise(pl.col("line")),
                channel="channel",
            )
        )
    out = pl.concat(frames)
    return out.sort("ordered_at", "customer").with_row_index("order_num", offset=1)
