"""What every command shares: the Typer app, the consoles, the common options and checks."""

from __future__ import annotations

import datetime as dt
import getpass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cxm.errors import CxmError, ImportRejected, WarehouseFailure
from cxm.warehouse.demo import DEFAULT_AS_OF

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
    """Print ``exc`` on stderr and exit: 1 for rejected input, a failure's own exit code
    (`cxm.errors.FAILURES`, docs/errors.md) for a damaged warehouse, a full disk, ..."""
    # soft_wrap: one problem a line, never cut at the terminal's width.
    err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
    if isinstance(exc, WarehouseFailure):
        if exc.path is not None:  # the pages never show it; the operator at the shell needs it
            err.print(f"Path: {exc.path}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code)
    raise typer.Exit(1)


def _fail_load(exc: CxmError, label: str, warehouse: Path | None) -> None:
    """Audit a load that ``exc`` stopped as "import failed" (a refusal is not a failure),
    then `_fail`."""
    if not isinstance(exc, ImportRejected):
        from cxm.warehouse import audit

        user = getpass.getuser()
        path = audit.audit_path(warehouse)
        audit.record_failed_load(user, "command line", "all markets", label, exc, path=path)
    _fail(exc)


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


ScopeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--scope",
        help="Run exactly as a user who sees only this market (repeat): the company as if it "
        "held only these markets. Default: every market.",
    ),
]


def _scope(markets: list[str] | None):
    """Return the `Scope` --scope asks for; BadFilter ``unknown_market`` names a bad code."""
    from cxm.access import Scope
    from cxm.config import load_config
    from cxm.errors import BadFilter

    if not markets:
        return Scope.everywhere()
    known = load_config().market_codes
    for code in markets:
        if code not in known:
            raise BadFilter(
                "--scope",
                code,
                "unknown_market",
                f"is not a configured market ({', '.join(known)})",
            )
    return Scope(markets=tuple(dict.fromkeys(markets)))


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
