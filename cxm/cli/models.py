"""The customer-value model on any order file: clv."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from pathlib import Path
from typing import Annotated

import typer

from cxm.cli._common import (
    _fail,
    app,
    err,
    out,
)
from cxm.errors import CxmError
from cxm.warehouse import cells


@app.command()
def clv(
    file: Annotated[Path, typer.Argument(help="Transactions as .csv or .parquet.")],
    calibration_end: Annotated[
        dt.datetime,
        typer.Option(
            "--calibration-end", formats=["%Y-%m-%d"], help="Last day the models learn from."
        ),
    ],
    holdout_end: Annotated[
        dt.datetime | None,
        typer.Option(
            "--holdout-end",
            formats=["%Y-%m-%d"],
            help="Also compare predicted and actual purchases up to this day.",
        ),
    ] = None,
    customer_col: Annotated[str, typer.Option(help="Customer id column.")] = "customer_id",
    date_col: Annotated[str, typer.Option(help="Purchase date column (YYYY-MM-DD).")] = "date",
    amount_col: Annotated[str, typer.Option(help="Purchase amount column.")] = "amount",
    months: Annotated[int, typer.Option(help="Horizon of the predictions, in months.")] = 12,
    discount: Annotated[float, typer.Option(help="Monthly discount rate of the value.")] = 0.01,
    predictions: Annotated[
        Path | None,
        typer.Option(help="Write one row per customer to this .csv or .parquet file."),
    ] = None,
) -> None:
    """Fit BG/NBD and Gamma-Gamma to FILE and print parameters, errors and fit as JSON.

    Purchases are counted by day, time in weeks (a month is 4.345 weeks). The file is checked
    as cxm import checks its files: a blank customer id, a date that is not YYYY-MM-DD, an
    amount that is missing, not a number or negative is named with its row and code, all at
    once, and nothing is fitted; so is a calibration or holdout end outside the purchases.

    Example: cxm clv orders.csv --calibration-end 2026-06-30 --predictions clv.parquet
    """
    import polars as pl

    from cxm.metrics import clv as model

    problems = []
    if not file.is_file():
        problems.append(f"FILE: {file} does not exist or is not a file.")
    elif file.suffix.lower() not in {".csv", ".parquet"}:
        problems.append(f"FILE: {file} is not a .csv or .parquet file.")
    if predictions is not None and predictions.suffix.lower() not in {".csv", ".parquet"}:
        problems.append(f"--predictions: {predictions} must end in .csv or .parquet.")
    if holdout_end is not None and holdout_end <= calibration_end:
        problems.append(
            f"--holdout-end: {holdout_end:%Y-%m-%d} must come after --calibration-end "
            f"{calibration_end:%Y-%m-%d}."
        )
    if not 1 <= months <= 1200:
        problems.append(f"--months: {months} must be 1 to 1200.")
    if not discount > -1:
        problems.append(f"--discount: {discount} must be above -1 (0.01 is 1% a month).")
    if not problems:
        header = (
            pl.read_csv(file, n_rows=0).columns
            if file.suffix.lower() == ".csv"
            else list(pl.read_parquet_schema(file))
        )
        for option, name in (
            ("--customer-col", customer_col),
            ("--date-col", date_col),
            ("--amount-col", amount_col),
        ):
            if name not in header:
                problems.append(
                    f"{option}: column {name!r} is not in {file.name}; its columns are "
                    + ", ".join(header)
                    + "."
                )
    if problems:
        for problem in problems:
            err.print(problem, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    try:
        # Every bad row named at once, then the calibration end inside the purchases.
        frame = model.read_transactions(
            file, customer=customer_col, date=date_col, amount=amount_col
        )
        model.check_calibration(
            frame,
            file.name,
            calibration_end.date(),
            holdout_end.date() if holdout_end else None,
        )
    except CxmError as exc:
        _fail(exc)
    frame = frame.rename({"customer": customer_col, "date": date_col, "amount": amount_col})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", model.SeriesCapped)
        try:
            result, table = _fit_clv(
                model,
                frame,
                calibration_end.date(),
                holdout_end,
                customer_col,
                date_col,
                amount_col,
                months,
                discount,
            )
        except CxmError as exc:
            _fail(exc)
    result["notes"] = [str(w.message) for w in caught]
    if predictions is not None:
        if predictions.suffix.lower() == ".csv":
            cells.write_csv(table, predictions)  # customer ids are the file's: safe to open
        else:
            table.write_parquet(predictions)
    out.print(json.dumps(result, indent=2), markup=False, highlight=False, soft_wrap=True)


def _fit_clv(model, frame, calibration_end, holdout_end, customer, date, amount, months, d):
    """Return the JSON-ready fit and the per-customer predictions table for `clv`."""
    summary = model.summary(
        frame,
        customer=customer,
        date=date,
        amount=amount,
        calibration_end=calibration_end,
        holdout_end=holdout_end.date() if holdout_end else None,
    )
    x, tx, age, m = (summary[c].to_numpy() for c in ("frequency", "recency", "T", "monetary_value"))
    fit = model.fit_bgnbd(x, tx, age)
    gg = model.fit_gamma_gamma(x, m)
    horizon = months * model.PER_MONTH["W"]
    table = summary.select(customer, "frequency", "recency", "T", "monetary_value").with_columns(
        p_alive=fit.p_alive(x, tx, age),
        expected_purchases=fit.expected_purchases(horizon, x, tx, age),
        expected_spend=gg.expected_spend(x, m),
        clv=model.customer_value(fit, gg, x, tx, age, m, months=months, monthly_discount=d),
    )
    result = {
        "customers": summary.height,
        "repeat_buyers": int((x > 0).sum()),
        "calibration_end": str(calibration_end),
        "months": months,
        "monthly_discount": d,
        "bg_nbd": fit.to_dict(),
        "gamma_gamma": gg.to_dict(),
        "total_clv": float(table["clv"].sum()),
    }
    if holdout_end is not None:
        weeks = float(summary["duration_holdout"][0])
        result["holdout"] = {
            "end": f"{holdout_end:%Y-%m-%d}",
            "weeks": weeks,
            "actual_purchases": int(summary["frequency_holdout"].sum()),
            "predicted_purchases": float(fit.expected_purchases(weeks, x, tx, age).sum()),
        }
    return result, table
