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

import duckdb
import numpy as np
import polars as pl

from cxm.warehouse.demo._field import Field
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


#: The treatment sellers' customers who, without the treatment, did not reorder within 90
#: days of a first order whose day 90 falls inside the experiment, with their first order.
_LAPSED = """
WITH t AS (SELECT sid(seller) AS seller_id, seller_end FROM treated),
c AS (SELECT cu.customer_id, cu.seller_id, t.seller_end
      FROM customers cu JOIN t ON t.seller_id = cu.seller_id),
d AS (SELECT o.customer_id, o.ordered_at, CAST(o.ordered_at AS DATE) AS day, o.amount, o.units,
             o.product_line, o.channel
      FROM orders o WHERE o.seller_id IN (SELECT seller_id FROM t)
        AND o.customer_id IN (SELECT customer_id FROM c)),
f AS (SELECT customer_id, min(day) AS first_on, arg_min(amount, ordered_at) AS amount,
             arg_min(units, ordered_at) AS units, arg_min(product_line, ordered_at) AS line,
             arg_min(channel, ordered_at) AS channel
      FROM d GROUP BY customer_id),
s AS (SELECT d.customer_id, min(d.day) AS second_on
      FROM d JOIN f ON f.customer_id = d.customer_id WHERE d.day > f.first_on
      GROUP BY d.customer_id)
SELECT f.customer_id, c.seller_id, c.seller_end,
       CAST(date_diff('day', DATE '1970-01-01', f.first_on) AS INTEGER) AS first_day,
       f.amount, f.units, f.line, f.channel
FROM f JOIN c ON c.customer_id = f.customer_id LEFT JOIN s ON s.customer_id = f.customer_id
WHERE f.first_on BETWEEN $lo AND $hi AND (s.second_on IS NULL OR s.second_on > f.first_on + 90)
ORDER BY f.customer_id"""


def planted_orders(
    rng: np.random.Generator,
    con: duckdb.DuckDBPyConnection,
    f: Field,
    arms: pl.DataFrame,
    as_of: int,
    detox: str,
    regular: str,
) -> pl.DataFrame:
    """Return the reorders the finished experiment's treatment caused (orders table columns).

    Each lapsed customer of a treatment seller reorders with chance ``reorder_uplift``, once,
    on a day drawn evenly from the experiment's first day (or the day after their first order)
    to day 89 after it, while their seller is still in the field and by the as-of date. The
    order repeats their first order's amount, units and channel (the one-time line is swapped
    for a regular one: it is never reordered).
    """
    frames = []
    for e, exp in enumerate(EXPERIMENTS):
        if not exp.reorder_uplift:
            continue
        start = _day(exp.start)
        mine = arms.filter((pl.col("experiment") == e) & pl.col("treatment"))
        treated = mine.select(
            "seller",
            seller_end=pl.Series(f.end[mine.get_column("seller").to_numpy()]).cast(pl.Int32),
        )
        con.register("treated", treated)
        try:
            bounds = {"lo": exp.start - dt.timedelta(90), "hi": exp.planned_end - dt.timedelta(90)}
            lapsed = con.sql(_LAPSED, params=bounds).pl()
        finally:
            con.unregister("treated")
        first = lapsed.get_column("first_day").to_numpy().astype(np.int64)
        lo = np.maximum(first + 1, start)
        day = lo + np.floor(rng.random(len(first)) * (first + 90 - lo)).astype(np.int64)
        seconds = rng.integers(7 * 3600, 23 * 3600, len(first))
        keep = (rng.random(len(first)) < exp.reorder_uplift) & (day <= as_of)
        keep &= day < lapsed.get_column("seller_end").to_numpy()
        frames.append(
            lapsed.filter(pl.Series(keep)).select(
                "customer_id",
                "seller_id",
                ordered_at=pl.Series(day[keep] * US_PER_DAY + seconds[keep] * 1_000_000).cast(
                    pl.Datetime("us")
                ),
                amount="amount",
                units="units",
                product_line=pl.when(pl.col("line") == detox)
                .then(pl.lit(regular))
                .otherwise(pl.col("line")),
                autoship=pl.lit(False),
                channel="channel",
            )
        )
    out = pl.concat(frames) if frames else pl.DataFrame()
    return out.sort("ordered_at", "customer_id").with_row_index("order_num", offset=1)
