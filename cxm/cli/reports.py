"""Files for people: report, board-pack."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cxm import access
from cxm.cli._common import (
    AsOfOption,
    MarketOption,
    PeriodOption,
    ScopeOption,
    Warehouse,
    _check_out,
    _fail,
    _scope,
    _segment_filter,
    app,
    err,
    out,
)
from cxm.errors import CxmError
from cxm.experiments.store import experiments_path
from cxm.reports import ExportFormat
from cxm.warehouse import audit


class Compare(StrEnum):
    """What a report's change is measured against (docs/metrics.md, Periods and comparisons)."""

    previous = "previous"
    year = "year"


CompareOption = Annotated[
    Compare,
    typer.Option(
        "--compare",
        help="Compare with the previous period or the same period a year earlier; "
        "like for like when the data stops inside the period.",
    ),
]


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
    compare: CompareOption = Compare.previous,
    scope: ScopeOption = None,
    warehouse: Warehouse = None,
) -> None:
    """Write KPIs by segment to a CSV, XLSX or Parquet file stamped with what it holds.

    Small segments (n under the company's minimum) keep their n and lose their value.
    Previous and change are like for like: a period the data stops inside is compared with
    the same days of the previous period (--compare previous) or of the same period a year
    earlier (--compare year). The command line runs on the server, so its scope is every
    market; --scope runs it exactly as a user who sees only those markets would (an admin
    checking what a user gets).

    Example: cxm report --kpi active_rate --kpi revenue --by market --by rank
    --period 2026-Q3 --compare year --format xlsx --out q3.xlsx
    """
    import getpass

    from cxm.config import load_config
    from cxm.pipeline import open_scoped
    from cxm.reports import segment_table, write
    from cxm.reports.export import export_entry

    _check_out(out_file, fmt.value, f" (--format {fmt.value})")
    try:
        where = _segment_filter(period, as_of, market).model_copy(update={"compare": compare.value})
        with open_scoped(_scope(scope), path=warehouse) as company:
            table = segment_table(
                company,
                kpi,
                by=by or [],
                where=where,
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
        f"Wrote {table.stamp.rows:,} rows ({table.stamp.suppressed:,} suppressed) to {out_file}; "
        f"compared: {table.stamp.compared}.",
        markup=False,
        highlight=False,
    )


@app.command("board-pack")
def board_pack_(
    period: PeriodOption,
    out_file: Annotated[Path, typer.Option("--out", help="The PDF to write.")],
    as_of: AsOfOption = None,
    market: MarketOption = None,
    compare: CompareOption = Compare.previous,
    scope: ScopeOption = None,
    scenario: Annotated[
        int | None,
        typer.Option(help="A saved what-if scenario's id (default: the last published one)."),
    ] = None,
    weights: Annotated[
        str | None,
        typer.Option(help="What-if weights instead of a saved scenario: retention:2,cart_size:1."),
    ] = None,
    warehouse: Warehouse = None,
) -> None:
    """Write the board pack PDF: what changed and the targets, the headline KPIs with their
    12-month lines, the experience gap, a what-if scenario's gains and costs against the
    catalog's weights, and an appendix by market and rank.

    Every page's footer states the filters, period, comparison, as-of date and scope.

    Example: cxm board-pack --period 2026-Q4 --out board-pack.pdf
    """
    import getpass

    from cxm.config import load_config
    from cxm.pipeline import open_scoped
    from cxm.ui.board_pack import board_pack, pack_entry
    from cxm.whatif import scenarios
    from cxm.whatif.weights import Weights

    _check_out(out_file, "pdf")
    operator = access.User(
        username=getpass.getuser(),
        name=f"{getpass.getuser()} (command line)",
        email="operator@localhost",
        role=access.Role.ADMIN,
    )
    if scenario is not None and weights is not None:
        err.print("--scenario and --weights both choose the what-if scenario; give one of them.")
        raise typer.Exit(2)
    try:
        where = _segment_filter(period, as_of, market).model_copy(update={"compare": compare.value})
        saved = scenarios.scenarios_path(warehouse)
        if weights is not None:
            chosen = Weights.parse(weights, where="--weights")
        elif scenario is not None:
            chosen = scenarios.get(scenario, path=saved)
        else:
            last = scenarios.last_publication(path=saved)
            chosen = last[0] if last else None
        as_user = _scope(scope)
        with open_scoped(as_user, path=warehouse) as company:
            pdf = board_pack(
                company,
                user=operator,
                where=where,
                cfg=load_config(),
                scenario=chosen,
                experiments=experiments_path(warehouse),
            )
        out_file.write_bytes(pdf)
        audit.record(
            pack_entry(where, as_user, pdf, operator.username, "command line"),
            path=audit.audit_path(warehouse),
        )
    except CxmError as exc:
        _fail(exc)
    out.print(f"Wrote the board pack to {out_file}.", markup=False, highlight=False)
