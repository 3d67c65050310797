"""Loading and looking at data: demo, import, export-raw, status, demo-users."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from cxm import access
from cxm.cli._common import (
    _DEFAULT_AS_OF,
    Format,
    Warehouse,
    _fail,
    _fail_load,
    app,
    err,
    out,
)
from cxm.errors import CxmError
from cxm.pipeline import build_demo, import_dir, prepare_users_scopes
from cxm.warehouse import store
from cxm.warehouse._membership import outside_membership
from cxm.warehouse.demo import DEFAULT_AS_OF, DemoSpec
from cxm.warehouse.importer import export_raw


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
    force: Annotated[
        bool, typer.Option("--force", help="Replace a warehouse that holds imported data.")
    ] = False,
    warehouse: Warehouse = None,
) -> None:
    """Build the synthetic demo company into the warehouse, replacing what is there.

    A warehouse whose last load was an import of company data is left alone unless --force.

    Example: cxm demo --sellers 100000 --seed 7
    """
    if not force:
        _refuse_to_replace_imported(store.warehouse_path(warehouse))
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
            _fail_load(exc, f"cxm demo --sellers {sellers}", warehouse)
    _prepare_scopes(path)
    _print_status(path)


def _prepare_scopes(path: Path) -> None:
    # Each scoped user's company is cut and derived now, not at their first view.
    try:
        for scope in prepare_users_scopes(path=path):
            err.print(f"Prepared the data of {scope.describe()}.", markup=False, highlight=False)
    except CxmError as exc:
        _fail(exc)


def _refuse_to_replace_imported(path: Path) -> None:
    if not path.exists():
        return
    try:
        with store.open_readonly(path) as con:
            load = store.last_load(con)
    except CxmError:
        return  # not a warehouse cxm can read: nothing of the company's to protect
    if load and load["kind"] == "import":
        err.print(
            f"{path} holds imported company data (loaded {load['loaded_at']:%Y-%m-%d %H:%M}); "
            "cxm demo would replace it. Run again with --force to replace it, or choose "
            "another --warehouse.",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)


@app.command("import")
def import_(
    directory: Annotated[Path, typer.Argument(help="Folder of <table>.csv or .parquet files.")],
    check: Annotated[
        bool, typer.Option("--check", help="Only validate: report problems, write nothing.")
    ] = False,
    derived: Annotated[
        Path | None,
        typer.Option(
            "--derived",
            help="A folder `cxm derive` wrote (on Spark, say) from the same files: its tables "
            "are loaded instead of deriving them here.",
        ),
    ] = None,
    warehouse: Warehouse = None,
) -> None:
    """Validate the table files in DIRECTORY and load them, all or nothing.

    Files are named after tables (sellers.csv, orders.parquet, ...); each replaces that table.
    On any problem every one is listed and the warehouse is left exactly as it was. With
    --check, every check runs and nothing is written. Timestamps are the market's local
    wall-clock time, written without a time zone (docs/schema.md). Orders dated outside their
    seller's membership load, with a warning on stderr: their count and the first rows.

    Example: cxm import exports/acme-2026-11/
    """
    try:
        result = import_dir(directory, path=warehouse, check_only=check, derived=derived)
    except CxmError as exc:
        _fail_load(exc, f"cxm import {directory}", warehouse)
    if not result.written:
        out.print(
            f"Checked {', '.join(f'{t} ({n:,} rows)' for t, n in result.rows.items())}: no "
            f"problems{' (warnings below)' if result.warning_total else ''}. Nothing was "
            f"written to {result.path}.",
            markup=False,
            soft_wrap=True,
        )
    else:
        out.print(
            f"Imported {', '.join(f'{t} ({n:,} rows)' for t, n in result.rows.items())} "
            f"into {result.path}.",
            markup=False,
            soft_wrap=True,
        )
        _prepare_scopes(result.path)
    for line in result.warning_lines():
        err.print(line, markup=False, highlight=False, soft_wrap=True)


class Engine(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


@app.command()
def derive(
    raw: Annotated[
        Path, typer.Option("--raw", help="Folder of raw <table>.parquet (as export-raw writes).")
    ],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write <table>/ Parquet to.")],
    engine: Annotated[Engine, typer.Option("--engine", help="Where to compute.")] = Engine.duckdb,
    as_of: Annotated[
        dt.datetime | None,
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%d"],
            help="The data's as-of date (default: the newest dated event, as a load's).",
        ),
    ] = None,
    master: Annotated[
        str | None,
        typer.Option(
            "--master",
            help="Spark master URL (spark://host:7077, yarn, local[4], ...; default local[2], "
            "or what spark-submit was given).",
        ),
    ] = None,
) -> None:
    """Derive every table a load derives from raw Parquet, on DuckDB or Apache Spark.

    Writes each table to OUT/<table>/ as Parquet with OUT/manifest.json (as-of date, engine
    and versions, row counts, columns and types); `cxm import RAW --derived OUT` loads them.
    Spark needs the spark extra (uv sync --extra spark) and Java 17 (docs/spark.md).

    Example: cxm derive --engine spark --raw lake/acme/ --out derived/acme/
    """
    from cxm.derive import derive_dir

    try:
        manifest = derive_dir(
            engine.value,
            raw,
            out_dir,
            as_of=as_of.date() if as_of else None,
            master=master,
        )
    except CxmError as exc:
        _fail(exc)
    listed = ", ".join(f"{t} ({v['rows']:,} rows)" for t, v in manifest["tables"].items())
    out.print(
        f"Derived {len(manifest['tables'])} tables as of {manifest['as_of']} on {engine.value} "
        f"into {out_dir}: {listed}.",
        markup=False,
        soft_wrap=True,
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
    out.print(f"Wrote {len(files)} files to {directory}.", markup=False, soft_wrap=True)


#: Orders outside membership `cxm status` names by id (all are counted).
STATUS_LISTED = 5


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
        outside, n_outside = outside_membership(con)
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
            soft_wrap=True,
        )
    if n_outside:
        shown = ", ".join(i.value.split()[0] for i in outside[:STATUS_LISTED])
        more = f" and {n_outside - STATUS_LISTED:,} more" if n_outside > STATUS_LISTED else ""
        err.print(
            f"Warning: {n_outside:,} order{'s are' if n_outside != 1 else ' is'} dated outside "
            "the seller's membership (before enrolment, or on or after the termination day) "
            f"and counted in every KPI [order_outside_membership]: {shown}{more}.",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


@app.command("demo-users")
def demo_users(
    credentials: Annotated[
        Path | None,
        typer.Option(help="Credentials file (default: $CXM_CREDENTIALS or data/credentials.yaml)."),
    ] = None,
    show: Annotated[
        bool, typer.Option("--show", help="Only print the demo logins; write nothing.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="Write without printing.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a credentials file that holds other users.")
    ] = False,
) -> None:
    """Write the demo logins (bcrypt-hashed) to the credentials file and print them.

    The file is replaced whole: one that holds users other than the demo's is left alone
    unless --force.

    Example: cxm demo-users
    """
    path = access.credentials_path() if credentials is None else credentials
    if not show:
        replaced = _other_users(path)
        if replaced and not force:
            err.print(
                f"{path} holds other users ({', '.join(replaced)}); cxm demo-users would replace "
                "them. Run again with --force to replace them, or choose another --credentials.",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(1)
        access.write_demo_credentials(path)
    if quiet:
        return
    notes = _demo_login_notes(path) if show else {}
    if show and not any(notes.values()):
        # `make run` stores them first, then shows them: say they are there, as they are.
        out.print(
            f"Demo logins (as stored, hashed, in {path}; this command wrote nothing):",
            markup=False,
            soft_wrap=True,
        )
    elif show:
        out.print(
            f"Demo logins (shown only: nothing was written to {path}; run without --show to "
            "store them there, hashed):",
            markup=False,
            soft_wrap=True,
        )
    else:
        out.print(f"Demo logins (stored hashed in {path}):", markup=False, soft_wrap=True)
    for username, _, role, markets, password in access.DEMO_USERS:
        scope = ", ".join(markets) if markets else "all markets"
        note = notes.get(username, "")
        line = f"  {username:<11} {password:<22} {role.value:<10} {scope}{note}"
        out.print(line, markup=False, soft_wrap=True)


def _other_users(path: Path) -> list[str]:
    """Return the users of the credentials file at ``path`` that are not demo users (or the
    reason it cannot be read, as one entry): what `demo_users` would replace."""
    if not path.exists():
        return []
    try:
        names = access.read_accounts(path)
    except CxmError as exc:
        return [f"a file cxm cannot read: {str(exc).splitlines()[0]}"]
    demo = {u[0] for u in access.DEMO_USERS}
    return sorted(set(names) - demo)


def _demo_login_notes(path: Path) -> dict[str, str]:
    """Return, per demo user, why its login would not work with the file at ``path`` (shown
    by --show, which writes nothing: the file may lack a demo user or hold another password)."""
    import bcrypt

    try:
        accounts = access.read_accounts(path)
    except CxmError:
        return {u[0]: f"  (not in {path})" for u in access.DEMO_USERS}
    notes = {}
    for username, _, _, _, password in access.DEMO_USERS:
        account = accounts.get(username)
        if account is None:
            notes[username] = f"  (not in {path})"
        elif not bcrypt.checkpw(password.encode(), account.password_hash.encode()):
            notes[username] = f"  ({path} holds another password)"
        elif account.disabled:
            notes[username] = f"  (disabled in {path})"
    return notes
