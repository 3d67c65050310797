"""Reading a transaction file for the CLV models, checked as the importer checks its files.

Every bad row is named (file, row, column, value, rule, code), all at once, capped per kind
with the total; nothing is fitted on a file with any. The calibration end must lie inside the
purchases. Nothing here fits a model: `summary` and the fits read what this returns.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from cxm.errors import ImportIssue, TransactionsRejected
from cxm.metrics.clv._errors import ModelError

_ROW = "__row"
#: Issues listed per (column, code); the total is always counted.
PER_CHECK = 20


def read_transactions(path: str | Path, *, customer: str, date: str, amount: str) -> pl.DataFrame:
    """Return the file's transactions as customer (text), date (Date), amount (Float64).

    Rows count as a spreadsheet shows them: in a CSV the header is row 1, in Parquet the first
    record is row 1. A customer id that is blank, a date that is missing or not YYYY-MM-DD (a
    Date or Datetime column in Parquet is taken as it is), an amount that is missing, not a
    number or negative: each is an issue with its import code.

    Raises
    ------
    TransactionsRejected
        With every bad row (up to 20 per column and code listed, all counted).
    ModelError
        ``unknown_column`` when a named column is not in the file.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_text("c,d,a\\nA,2026-01-05,10\\n,2026-01-06,-2\\n")
    >>> try:
    ...     read_transactions(p, customer="c", date="d", amount="a")
    ... except TransactionsRejected as e:
    ...     print(str(e))
    t.csv rejected: 2 problems. Nothing was fitted.
    t.csv row 3, c: is empty; every transaction needs a customer id [missing_value].
    t.csv row 3, a: "-2" is negative; amounts are 0 or more [negative_amount].
    """
    path = Path(path)
    name = path.name
    if path.suffix.lower() == ".csv":
        try:
            raw = pl.read_csv(path, infer_schema=False)
        except pl.exceptions.PolarsError as exc:
            raise TransactionsRejected(
                name,
                [
                    ImportIssue(
                        file=name,
                        code="malformed_csv",
                        message=f"could not be read as CSV ({type(exc).__name__}: "
                        "a row with more fields than the header, or an unclosed quote?)",
                    )
                ],
            ) from exc
        raw = raw.with_row_index(_ROW, offset=2)
    else:
        raw = pl.read_parquet(path).with_row_index(_ROW, offset=1)
    for role, col in (("customer", customer), ("date", date), ("amount", amount)):
        if col not in raw.columns:
            raise ModelError(
                "unknown_column",
                f'{role} column "{col}" is not in {name}; its columns are '
                + ", ".join(c for c in raw.columns if c != _ROW),
            )
    frame = raw.select(
        _ROW,
        _text(raw, customer).alias("c_text"),
        _text(raw, date).alias("d_text"),
        _text(raw, amount).alias("a_text"),
        pl.col(customer).cast(pl.String).str.strip_chars().alias("customer"),
        _as_date(raw, date).alias("date"),
        _as_number(raw, amount).alias("amount"),
    )
    issues: list[ImportIssue] = []
    total = 0
    checks = [
        (pl.col("customer").fill_null("") == "", customer, "c_text", "missing_value",
         "is empty; every transaction needs a customer id"),
        (pl.col("d_text").is_null(), date, "d_text", "missing_value",
         "is empty; every transaction needs a date"),
        (pl.col("d_text").is_not_null() & pl.col("date").is_null(), date, "d_text", "bad_date",
         "is not a date written YYYY-MM-DD"),
        (pl.col("a_text").is_null(), amount, "a_text", "missing_value",
         "is empty; every transaction needs an amount"),
        (pl.col("a_text").is_not_null() & pl.col("amount").is_null(), amount, "a_text",
         "not_a_number", "is not a number (write 12.50, no currency sign or commas)"),
        (pl.col("amount") < 0, amount, "a_text", "negative_amount",
         "is negative; amounts are 0 or more"),
    ]  # fmt: skip
    bad_rows = []
    for mask, column, shown, code, message in checks:
        bad = frame.filter(mask.fill_null(False))
        total += bad.height
        listed = bad.head(PER_CHECK).select(
            _ROW,
            pl.lit(column).alias("column"),
            pl.lit(code).alias("code"),
            pl.col(shown).alias("value"),
            pl.lit(message).alias("message"),
        )
        bad_rows.append(listed)
    if total:
        listed = pl.concat(bad_rows).sort(_ROW, maintain_order=True)
        for rec in listed.iter_rows(named=True):
            value = rec["value"]
            issues.append(
                ImportIssue(
                    file=name,
                    row=rec[_ROW],
                    column=rec["column"],
                    value=None if value in (None, "") else _clip(value),
                    code=rec["code"],
                    message=rec["message"],
                )
            )
        raise TransactionsRejected(name, issues, total)
    return frame.select("customer", "date", "amount")


def check_calibration(
    frame: pl.DataFrame, source: str, calibration_end: dt.date, holdout_end: dt.date | None
) -> None:
    """Refuse a calibration or holdout end outside the purchases of ``frame`` (its ``date``).

    A model fitted to a calibration end long after the last purchase reads every customer as
    gone for that long: it fits, but the numbers mean nothing.

    >>> f = pl.DataFrame({"date": [dt.date(2026, 1, 5), dt.date(2026, 3, 1)]})
    >>> check_calibration(f, "t.csv", dt.date(2029, 6, 30), None)
    Traceback (most recent call last):
    ...
    cxm.metrics.clv._errors.ModelError: --calibration-end 2029-06-30 is outside the purchases in t.csv (2026-01-05 to 2026-03-01); choose a day in that range [calibration_outside_purchases].
    """  # noqa: E501
    first, last = frame["date"].min(), frame["date"].max()
    for option, day in (("--calibration-end", calibration_end), ("--holdout-end", holdout_end)):
        if day is not None and not first <= day <= last:
            raise ModelError(
                "calibration_outside_purchases",
                f"{option} {day} is outside the purchases in {source} ({first} to {last}); "
                "choose a day in that range",
            )


def _text(raw: pl.DataFrame, col: str) -> pl.Expr:
    dtype = raw.schema[col]
    e = pl.col(col) if dtype == pl.String else pl.col(col).cast(pl.String)
    return pl.when(e.str.strip_chars() != "").then(e)


def _as_date(raw: pl.DataFrame, col: str) -> pl.Expr:
    dtype = raw.schema[col]
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        return pl.col(col).cast(pl.Date)
    return pl.col(col).cast(pl.String).str.strip_chars().str.to_date("%Y-%m-%d", strict=False)


def _as_number(raw: pl.DataFrame, col: str) -> pl.Expr:
    dtype = raw.schema[col]
    if dtype.is_numeric():
        parsed = pl.col(col).cast(pl.Float64)
    else:
        text = pl.col(col).cast(pl.String).str.strip_chars()
        parsed = pl.when(text.str.contains(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")).then(
            text.cast(pl.Float64, strict=False)
        )
    return pl.when(parsed.is_finite()).then(parsed)


def _clip(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."
