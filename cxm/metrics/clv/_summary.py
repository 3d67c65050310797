"""Per-customer frequency, recency, age and spend from a transaction table: the input every
CLV model reads. Polars in, Polars out; the models themselves take numpy arrays.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from cxm.metrics.clv._errors import ModelError

#: Days per time unit.
UNITS = {"W": 7.0, "D": 1.0}


def summary(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    customer: str,
    date: str,
    amount: str | None = None,
    calibration_end: dt.date,
    holdout_end: dt.date | None = None,
    unit: str = "W",
) -> pl.DataFrame:
    """Return one row per customer who bought by ``calibration_end`` (inclusive).

    Purchases are counted by day: all orders of a customer on one day are one purchase, their
    amounts summed (as in the literature and lifetimes' ``summary_data_from_transaction_data``
    with days as the period). Columns, time in ``unit`` (W weeks = 7 days, D days):

    - ``frequency``: purchase days minus 1 (repeat purchases, x),
    - ``recency``: last purchase day minus first (t_x),
    - ``T``: calibration end minus first purchase day (age),
    - ``monetary_value``: mean of the repeat days' totals, first day left out; 0 when x = 0
      (only with ``amount``),
    - with ``holdout_end``: ``frequency_holdout`` (purchase days after the calibration end up to
      ``holdout_end``), ``duration_holdout`` and, with ``amount``, ``monetary_value_holdout``
      (mean of those days' totals, 0 when none; lifetimes averages the holdout's single
      orders there instead). Customers first seen in the holdout are left out, as a model
      fitted on the calibration period knows nothing of them.

    Rows are sorted by customer. Dates may be Date, Datetime (the day is kept) or YYYY-MM-DD
    text.

    Examples
    --------
    C1 buys on Jan 1 (two orders, 10 + 5) and Jan 15 (20): x = 1, t_x = 2 weeks, T = 4 weeks,
    monetary 20. C2 buys once, on Jan 29: x = 0, T = 0.

    >>> orders = pl.DataFrame({"c": ["C1", "C1", "C1", "C2"],
    ...     "d": ["2026-01-01", "2026-01-01", "2026-01-15", "2026-01-29"],
    ...     "amt": [10.0, 5.0, 20.0, 7.0]})
    >>> summary(orders, customer="c", date="d", amount="amt",
    ...         calibration_end=dt.date(2026, 1, 29)).rows()
    [('C1', 1, 2.0, 4.0, 20.0), ('C2', 0, 0.0, 0.0, 0.0)]
    """
    if unit not in UNITS:
        raise ModelError("bad_unit", f'unit "{unit}" is not W (weeks) or D (days)')
    lazy = frame.lazy()
    names = lazy.collect_schema().names()
    for role, name in (("customer", customer), ("date", date), ("amount", amount)):
        if name is not None and name not in names:
            raise ModelError(
                "unknown_column",
                f'{role} column "{name}" is not in the data; its columns are ' + ", ".join(names),
            )
    cal = _as_date(calibration_end, "calibration_end")
    end = cal
    if holdout_end is not None:
        end = _as_date(holdout_end, "holdout_end")
        if end <= cal:
            raise ModelError(
                "bad_period",
                f"holdout_end {end} must come after calibration_end {cal}",
            )
    days = UNITS[unit]
    money = pl.col(amount).cast(pl.Float64) if amount else pl.lit(0.0)
    daily = (
        lazy.select(
            pl.col(customer).alias("_c"), _day(lazy, date).alias("_day"), money.alias("_amt")
        )
        .filter(pl.col("_day") <= end)
        .group_by("_c", "_day")
        .agg(pl.col("_amt").sum())
    )
    try:
        daily = daily.collect()
    except pl.exceptions.InvalidOperationError as exc:
        raise ModelError(
            "bad_value", f'date column "{date}" has values that are not YYYY-MM-DD dates'
        ) from exc
    calib = daily.filter(pl.col("_day") <= cal)
    if calib.height == 0:
        raise ModelError("no_customers", f"no purchase on or before the calibration end {cal}")
    first = pl.col("_day").min()
    x = pl.len() - 1
    out = calib.group_by("_c").agg(
        frequency=x.cast(pl.Int64),
        recency=(pl.col("_day").max() - first).dt.total_days() / days,
        T=(pl.lit(cal) - first).dt.total_days() / days,
        _total=pl.col("_amt").sum(),
        _first=pl.col("_amt").sort_by("_day").first(),
    )
    out = out.with_columns(
        monetary_value=pl.when(pl.col("frequency") > 0)
        .then((pl.col("_total") - pl.col("_first")) / pl.col("frequency"))
        .otherwise(0.0)
    ).drop("_total", "_first")
    if not amount:
        out = out.drop("monetary_value")
    if holdout_end is not None:
        later = (
            daily.filter(pl.col("_day") > cal)
            .group_by("_c")
            .agg(frequency_holdout=pl.len().cast(pl.Int64), _sum=pl.col("_amt").sum())
        )
        out = out.join(later, on="_c", how="left").with_columns(
            pl.col("frequency_holdout").fill_null(0),
            duration_holdout=pl.lit((end - cal).days / days),
            monetary_value_holdout=pl.when(pl.col("frequency_holdout") > 0)
            .then(pl.col("_sum") / pl.col("frequency_holdout"))
            .otherwise(0.0),
        )
        out = out.drop("_sum" if amount else ["_sum", "monetary_value_holdout"])
    return out.sort("_c").rename({"_c": customer})


def _as_date(value, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ModelError("bad_period", f'{name} "{value}" is not a YYYY-MM-DD date') from exc


def _day(lazy: pl.LazyFrame, date: str) -> pl.Expr:
    dtype = lazy.collect_schema()[date]
    col = pl.col(date)
    if dtype == pl.String:
        return col.str.to_date("%Y-%m-%d", strict=True)
    return col.cast(pl.Date)
