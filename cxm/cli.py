"""The ``cxm`` command: thin over the library functions the pages call.

Results go to stdout, problems to stderr; exit 1 for rejected input, 2 for usage errors.
``docs/cli.md`` is generated from the ``--help`` of each command (``make docs``).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import warnings
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from cxm import access
from cxm.errors import CxmError
from cxm.pipeline import build_demo, import_dir
from cxm.reports import ExportFormat
from cxm.warehouse import audit, store
from cxm.warehouse.demo import DEFAULT_AS_OF, DemoSpec
from cxm.warehouse.importer import export_raw

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="cxm: customer and seller experience analytics for direct sellers.",
)
out = Console()
err = Console(stderr=True)

_DEFAULT_AS_OF = dt.datetime.combine(DEFAULT_AS_OF, dt.time())
Warehouse = Annotated[
    Path | None,
    typer.Option(
        "--warehouse", help="Warehouse file (default: $CXM_WAREHOUSE or data/cxm.duckdb)."
    ),
]


class Format(StrEnum):
    parquet = "parquet"
    csv = "csv"


def _fail(exc: CxmError) -> None:
    err.print(str(exc), markup=False, highlight=False)
    raise typer.Exit(1)


@app.command()
def demo(
    sellers: Annotated[int, typer.Option(help="Sellers ever enrolled (100 to 5,000,000).")] = 2_000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data.")] = 7,
    as_of: Annotated[
        dt.datetime,
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%d"],
            help="Last day of the demo history.",
            show_default=f"{DEFAULT_AS_OF}",
        ),
    ] = _DEFAULT_AS_OF,
    years: Annotated[int, typer.Option(help="Years of history up to --as-of.")] = 5,
    warehouse: Warehouse = None,
) -> None:
    """Build the synthetic demo company into the warehouse, replacing what is there.

    Example: cxm demo --sellers 100000 --seed 7
    """
    try:
        spec = DemoSpec(sellers=sellers, seed=seed, as_of=as_of.date(), years=years)
    except ValidationError as exc:
        for e in exc.errors():
            option = "--" + str(e["loc"][0]).replace("_", "-")
            why = e["msg"].removeprefix("Value error, ")
            err.print(
                f"{option}: {e['input']} is not allowed: {why[0].lower()}{why[1:]}.", markup=False
            )
        raise typer.Exit(2) from exc
    with Progress(
        TextColumn("{task.description:<22}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as bar:
        task = bar.add_task("starting", total=1.0)
        try:
            path = build_demo(
                spec,
                warehouse,
                progress=lambda stage, done: bar.update(task, description=stage, completed=done),
            )
        except CxmError as exc:
            bar.stop()
            _fail(exc)
    _print_status(path)


@app.command("import")
def import_(
    directory: Annotated[Path, typer.Argument(help="Folder of <table>.csv or .parquet files.")],
    warehouse: Warehouse = None,
) -> None:
    """Validate the table files in DIRECTORY and load them, all or nothing.

    Files are named after tables (sellers.csv, orders.parquet, ...); each replaces that table.
    On any problem every one is listed and the warehouse is left exactly as it was.

    Example: cxm import exports/acme-2026-11/
    """
    try:
        result = import_dir(directory, path=warehouse)
    except CxmError as exc:
        _fail(exc)
    out.print(
        f"Imported {', '.join(f'{t} ({n:,} rows)' for t, n in result.rows.items())} "
        f"into {result.path}.",
        markup=False,
    )


@app.command("export-raw")
def export_raw_(
    directory: Annotated[Path, typer.Argument(help="Folder to write <table>.<format> files to.")],
    format: Annotated[Format, typer.Option("--format", help="File format.")] = Format.parquet,
    warehouse: Warehouse = None,
) -> None:
    """Write every warehouse table to DIRECTORY, in the layout `cxm import` reads.

    Example: cxm export-raw backup/ --format csv
    """
    try:
        files = export_raw(directory, path=warehouse, fmt=format.value)
    except CxmError as exc:
        _fail(exc)
    out.print(f"Wrote {len(files)} files to {directory}.", markup=False)


@app.command()
def status(warehouse: Warehouse = None) -> None:
    """Show what the warehouse holds: the last load and each table's row count.

    Example: cxm status
    """
    try:
        _print_status(store.warehouse_path(warehouse))
    except CxmError as exc:
        _fail(exc)


def _print_status(path: Path) -> None:
    with store.open_readonly(path) as con:
        counts = store.table_counts(con)
        load = store.last_load(con)
    table = RichTable(title=f"{path}", show_edge=False)
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in counts.items():
        table.add_row(name, f"{n:,}")
    out.print(table)
    if load:
        out.print(
            f"Last load: {load['kind']} at {load['loaded_at']:%Y-%m-%d %H:%M}, "
            f"{load['source']}; data as of {load['data_as_of'] or 'unknown'}.",
            markup=False,
        )


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

    Purchases are counted by day, time in weeks (a month is 4.345 weeks).

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
        if file.suffix.lower() == ".csv":
            header = pl.read_csv(file, n_rows=0).columns
            ids = {customer_col: pl.String} if customer_col in header else None
            frame = pl.read_csv(file, infer_schema_length=10_000, schema_overrides=ids)
        else:
            frame = pl.read_parquet(file)
        for option, name in (
            ("--customer-col", customer_col),
            ("--date-col", date_col),
            ("--amount-col", amount_col),
        ):
            if name not in frame.columns:
                problems.append(
                    f"{option}: column {name!r} is not in {file.name}; its columns are "
                    + ", ".join(frame.columns)
                    + "."
                )
    if problems:
        for problem in problems:
            err.print(problem, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2)
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
            table.write_csv(predictions)
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


PeriodOption = Annotated[
    str, typer.Option(help="A month 2026-10, a quarter 2026-Q3 or a year 2026.")
]
AsOfOption = Annotated[
    dt.datetime | None,
    typer.Option("--as-of", formats=["%Y-%m-%d"], help="A month end, or the data's as-of."),
]
MarketOption = Annotated[
    list[str] | None, typer.Option("--market", help="Only these markets (repeat).")
]


def _check_out(out_file: Path, suffix: str, why: str = "") -> None:
    """Exit 2 naming --out when the file name or its folder will not do."""
    if out_file.suffix.lower() != f".{suffix}":
        err.print(f"--out: {out_file} does not end in .{suffix}{why}.")
        raise typer.Exit(2)
    if not out_file.parent.is_dir():
        err.print(f"--out: the folder {out_file.parent} does not exist.")
        raise typer.Exit(2)


def _segment_filter(period: str, as_of: dt.datetime | None, market: list[str] | None):
    """Return the filter the report commands ask for (BadFilter names a bad period)."""
    from cxm.segments import Period, SegmentFilter

    return SegmentFilter(
        period=Period.parse(period),
        as_of=as_of.date() if as_of else None,
        markets=tuple(market or ()),
    )


@app.command()
def report(
    kpi: Annotated[
        list[str], typer.Option("--kpi", help="KPI id (repeat for more); see docs/metrics.md.")
    ],
    period: PeriodOption,
    out_file: Annotated[Path, typer.Option("--out", help="The file to write.")],
    by: Annotated[
        list[str] | None,
        typer.Option("--by", help="Dimension to break down by (repeat, up to three)."),
    ] = None,
    fmt: Annotated[ExportFormat, typer.Option("--format", help="File format.")] = (
        ExportFormat.CSV
    ),
    as_of: AsOfOption = None,
    market: MarketOption = None,
    warehouse: Warehouse = None,
) -> None:
    """Write KPIs by segment to a CSV, XLSX or Parquet file stamped with what it holds.

    Small segments (n under the company's minimum) keep their n and lose their value.
    The command line runs on the server, so its scope is every market.

    Example: cxm report --kpi active_rate --kpi revenue --by market --by rank
    --period 2026-Q3 --format xlsx --out q3.xlsx
    """
    import getpass

    from cxm.config import load_config
    from cxm.reports import segment_table, write
    from cxm.reports.export import export_entry

    _check_out(out_file, fmt.value, f" (--format {fmt.value})")
    try:
        where = _segment_filter(period, as_of, market)
        with store.open_readonly(store.warehouse_path(warehouse)) as con:
            table = segment_table(
                con,
                kpi,
                by=by or [],
                where=where,
                scope=access.Scope.everywhere(),
                cfg=load_config(),
                generated_by=f"{getpass.getuser()} (command line)",
            )
        write(table, fmt, out_file)
        audit.record(
            export_entry(table, fmt, out_file.read_bytes(), getpass.getuser(), "command line"),
            path=audit.audit_path(warehouse),
        )
    except CxmError as exc:
        _fail(exc)
    out.print(
        f"Wrote {table.stamp.rows:,} rows ({table.stamp.suppressed:,} suppressed) to {out_file}.",
        markup=False,
        highlight=False,
    )


@app.command("board-pack")
def board_pack_(
    period: PeriodOption,
    out_file: Annotated[Path, typer.Option("--out", help="The PDF to write.")],
    as_of: AsOfOption = None,
    market: MarketOption = None,
    warehouse: Warehouse = None,
) -> None:
    """Write the board pack PDF: headline KPIs, the experience gap, KPIs by market and rank.

    Every page's footer states the filters, period, as-of date and scope.

    Example: cxm board-pack --period 2026-Q3 --out board-pack.pdf
    """
    import getpass

    from cxm.config import load_config
    from cxm.ui.board_pack import board_pack, pack_entry

    _check_out(out_file, "pdf")
    operator = access.User(
        username=getpass.getuser(),
        name=f"{getpass.getuser()} (command line)",
        email="operator@localhost",
        role=access.Role.ADMIN,
    )
    try:
        where = _segment_filter(period, as_of, market)
        with store.open_readonly(store.warehouse_path(warehouse)) as con:
            pdf = board_pack(
                con, user=operator, where=where, scope=access.Scope.everywhere(), cfg=load_config()
            )
        out_file.write_bytes(pdf)
        audit.record(
            pack_entry(where, access.Scope.everywhere(), pdf, operator.username, "command line"),
            path=audit.audit_path(warehouse),
        )
    except CxmError as exc:
        _fail(exc)
    out.print(f"Wrote the board pack to {out_file}.", markup=False, highlight=False)


@app.command("demo-users")
def demo_users(
    credentials: Annotated[
        Path | None,
        typer.Option(help="Credentials file (default: $CXM_CREDENTIALS or data/credentials.yaml)."),
    ] = None,
    show: Annotated[bool, typer.Option("--show", help="Only print the demo logins.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="Write without printing.")] = False,
) -> None:
    """Write the demo logins (bcrypt-hashed) to the credentials file and print them.

    Example: cxm demo-users
    """
    path = access.credentials_path() if credentials is None else credentials
    if not show:
        access.write_demo_credentials(path)
    if quiet:
        return
    out.print(f"Demo logins (stored hashed in {path}):", markup=False)
    for username, _, role, markets, password in access.DEMO_USERS:
        scope = ", ".join(markets) if markets else "all markets"
        out.print(f"  {username:<11} {password:<22} {role.value:<10} {scope}", markup=False)


def main() -> None:
    """Run the command line."""
    app(prog_name="cxm")


if __name__ == "__main__":
    sys.exit(main())
