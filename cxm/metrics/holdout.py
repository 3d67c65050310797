"""The check of the customer value model on a holdout, as the BG/NBD paper draws it.

At each load (`cxm.metrics.value.build` calls `check`), BG/NBD is refitted on a sample of
customers with the last `HOLDOUT_WEEKS` weeks held out; its predictions for those weeks are
compared with what the customers did, by repeat purchases in calibration (figure 2:
``clv_calibration``) and week by week (figure 4: ``clv_tracking``), per market. `calibration`
reads them back, summed over the markets a user may see.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import polars as pl

from cxm.errors import CxmError
from cxm.metrics import clv
from cxm.state.engine import Engine
from cxm.warehouse.scoped import Scoped

#: The holdout the model is checked on, and the most customers sampled for that check.
HOLDOUT_WEEKS = 26
CHECK_SAMPLE = 200_000
#: Repeat purchases in calibration grouped as 0, 1, ..., 6, "7+" (the paper's figure 2).
TOP_FREQUENCY = 7


def empty_calibration() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "market": pl.String,
            "bucket": pl.Int64,
            "customers": pl.UInt32,
            "actual": pl.Float64,
            "predicted": pl.Float64,
        }
    )


def empty_tracking() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "market": pl.String,
            "week": pl.Int64,
            "actual": pl.Float64,
            "predicted": pl.Float64,
        }
    )


#: Purchase days of a sample of customers, for the holdout check: every ``{every}``-th customer
#: by the engine's hash of their id (`Engine.draw`: the same sample at every load of the same
#: data, on every engine), up to the as-of date (``dim_as_of``). The customers are the value
#: summary's (``value_summary``, `cxm.metrics.value.SUMMARY`: those of ``fact_customers``
#: who first bought by the as-of date, the only ones with purchase days up to it), their
#: hash computed there once.
_SAMPLE_DAYS = """
WITH sampled AS (
    SELECT customer_id, market FROM value_summary WHERE {picked}
)
SELECT s.customer_id, s.market, CAST(o.ordered_at AS DATE) AS day
FROM orders o JOIN sampled s ON s.customer_id = o.customer_id CROSS JOIN dim_as_of a
WHERE CAST(o.ordered_at AS DATE) <= a.as_of
GROUP BY s.customer_id, s.market, CAST(o.ordered_at AS DATE)"""


def check(engine: Engine, as_of: dt.date, customers: int) -> tuple[pl.DataFrame, ...]:
    """Return (calibration by frequency, weekly tracking) per market on a holdout.

    Fitted on purchase days up to ``as_of`` - `HOLDOUT_WEEKS` weeks (company-wide, one fit on
    the sample), then predicted for each sampled customer over the holdout and compared with
    what they did. ``engine`` picks the sample's purchase days from ``value_summary`` (staged
    by `cxm.metrics.value.build`); the driver does the rest.
    """
    every = max(1, customers // CHECK_SAMPLE)
    # ``every`` is an integer computed here, never user text; ``hashed`` is
    # `Engine.draw` of the customer's id.
    picked = "TRUE" if every == 1 else f"hashed % {int(every)} = 0"
    days = engine.frame(_SAMPLE_DAYS.format(picked=picked)).sort("customer_id", "day")
    cut = as_of - dt.timedelta(weeks=HOLDOUT_WEEKS)
    before = days.filter(pl.col("day") <= cut)
    after = days.filter(pl.col("day") > cut)
    cal = (
        before.group_by("customer_id", "market")
        .agg(
            (pl.len() - 1).cast(pl.Float64).alias("frequency"),
            ((pl.col("day").max() - pl.col("day").min()).dt.total_days() / 7).alias("recency"),
            ((pl.lit(cut) - pl.col("day").min()).dt.total_days() / 7).alias("T"),
        )
        .sort("customer_id")
    )  # the fit's input in one order: the same fit on every engine
    empty = (empty_calibration(), empty_tracking())
    if cal.height == 0 or int((cal["frequency"] > 0).sum()) == 0:
        return empty
    x, t_x, T = (cal[c].cast(pl.Float64).to_numpy() for c in ("frequency", "recency", "T"))
    try:
        bg = clv.fit_bgnbd(x, t_x, T)
    except CxmError:
        return empty
    actual = after.join(cal.select("customer_id"), on="customer_id").with_columns(
        ((pl.col("day") - pl.lit(cut)).dt.total_days().cast(pl.Int64) + 6).floordiv(7).alias("week")
    )
    held = cal.join(actual.group_by("customer_id").len("holdout"), on="customer_id", how="left")
    held = held.with_columns(
        pl.col("holdout").fill_null(0),
        pl.Series("predicted", bg.expected_purchases(float(HOLDOUT_WEEKS), x, t_x, T)),
        pl.col("frequency").clip(upper_bound=TOP_FREQUENCY).cast(pl.Int64).alias("bucket"),
    )
    calibration = (
        held.group_by("market", "bucket")
        .agg(
            pl.len().alias("customers"),
            pl.col("holdout").sum().cast(pl.Float64).alias("actual"),
            pl.col("predicted").sum().alias("predicted"),
        )
        .sort("market", "bucket")
    )
    weeks = np.arange(1, HOLDOUT_WEEKS + 1, dtype=np.float64)
    by_market = []
    for (market,), part in cal.with_row_index("i").group_by("market", maintain_order=True):
        idx = part["i"].to_numpy()
        ahead = bg.expected_purchases_over(weeks, x[idx], t_x[idx], T[idx])
        predicted = [float(week.sum()) for week in ahead]
        done = (
            actual.filter(pl.col("market") == market)
            .group_by("week")
            .len()
            .sort("week")
            .select("week", pl.col("len").cum_sum().cast(pl.Float64).alias("actual"))
        )
        frame = pl.DataFrame({"week": weeks.astype(np.int64), "predicted": predicted})
        by_market.append(
            frame.join(done, on="week", how="left").with_columns(
                pl.col("actual").forward_fill().fill_null(0.0), pl.lit(market).alias("market")
            )
        )
    tracking = pl.concat(by_market).select("market", "week", "actual", "predicted")
    return calibration, tracking


def calibration(
    company: Scoped, *, markets: Sequence[str] = ()
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return the holdout check summed over the user's company's markets (or ``markets``).

    (by frequency: ``bucket`` 0..7 with 7 meaning 7 or more, ``customers``, ``actual`` and
    ``predicted`` mean repeat purchases in the holdout; weekly: ``week``, cumulative
    ``actual`` and ``predicted`` repeat purchases). Empty frames when nothing was checked.
    A market outside the user's company has no rows there.
    """
    con = company.con
    params = {"markets": list(markets) or None}
    where = "WHERE $markets IS NULL OR list_contains($markets, market)"
    by_frequency = con.sql(
        f"""SELECT bucket, sum(customers) AS customers,
                   sum(actual) / sum(customers) AS actual,
                   sum(predicted) / sum(customers) AS predicted
            FROM clv_calibration {where} GROUP BY bucket ORDER BY bucket""",
        params=params,
    ).pl()
    weekly = con.sql(
        f"""SELECT week, sum(actual) AS actual, sum(predicted) AS predicted
            FROM clv_tracking {where} GROUP BY week ORDER BY week""",
        params=params,
    ).pl()
    return by_frequency, weekly
