"""The what-if preview on the command line: whatif."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from cxm import access
from cxm.cli._common import (
    MarketOption,
    ScopeOption,
    Warehouse,
    _check_out,
    _fail,
    _scope,
    app,
    err,
    out,
)
from cxm.errors import CxmError
from cxm.warehouse import audit


@app.command()
def whatif(
    weights: Annotated[
        str | None,
        typer.Option(
            help="Priority weights, e.g. retention:2,cart_size:0.5 (others 0); "
            "default: the published scenario's weights."
        ),
    ] = None,
    preset: Annotated[
        str | None, typer.Option(help="A preset of the catalog, e.g. retention_quarter.")
    ] = None,
    caps: Annotated[
        bool | None,
        typer.Option("--caps/--no-caps", help="Apply the caps (default: as published)."),
    ] = None,
    mandatory: Annotated[
        bool | None,
        typer.Option(
            "--mandatory/--no-mandatory", help="Keep mandatory actions (default: as published)."
        ),
    ] = None,
    market: MarketOption = None,
    scope: ScopeOption = None,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Write every seller's recommendations (.csv or .parquet)."),
    ] = None,
    warehouse: Warehouse = None,
) -> None:
    """Preview a change of KPI priorities against what is published, for every seller.

    What is published is the scenario published last (the catalog's weights before any), and
    the first line says which. Prints the share of sellers whose first action changes (by
    market), the most common changes and the expected progress per priority; --out writes
    each seller's three recommended actions with their main reasons, stamped and audited.
    --market previews only those markets' sellers; --scope runs exactly as a user who sees
    only those markets would (the company as if it held only them).

    Example: cxm whatif --weights retention:3,repeat_customers:2,cart_size:1 --market BR
    """
    import getpass

    from cxm.config import load_config
    from cxm.pipeline import open_scoped
    from cxm.reports.recommendations import export_recommendations
    from cxm.whatif import scenarios, summary
    from cxm.whatif.compare import Guardrails, compare, load_field, rank
    from cxm.whatif.weights import Weights

    if weights and preset:
        err.print("--weights and --preset: give one of them, not both.")
        raise typer.Exit(2)
    if out_file is not None:
        suffix = out_file.suffix.lower().lstrip(".")
        _check_out(out_file, suffix if suffix in ("csv", "parquet") else "csv or .parquet")
    try:
        operator = access.User(
            username=getpass.getuser(),
            name=f"{getpass.getuser()} (command line)",
            email="operator@localhost",
            role=access.Role.ADMIN,
            scope=_scope(scope),
        )
        cfg = load_config()
        for code in market or ():
            if code not in cfg.market_codes:
                raise scenarios.ScenarioError(
                    "unknown_market", f'--market: "{code}" is not a configured market.'
                )
        with open_scoped(operator.scope, path=warehouse) as company:
            field = load_field(company, cfg)
        if market:  # only these markets' sellers, on the data of the whole scope
            field = field.subset(field.mask(market=market))
        saved_at = scenarios.scenarios_path(warehouse)
        published = scenarios.published(field.catalog, path=saved_at)
        if preset is not None:
            if preset not in field.catalog.presets:
                raise scenarios.ScenarioError(
                    "unknown_preset",
                    f'--preset: "{preset}" is not a preset; the catalog has '
                    f"{', '.join(field.catalog.presets)}.",
                )
            chosen = Weights.of(field.catalog.presets[preset].weights)
        elif weights is not None:
            chosen = Weights.parse(weights, where="--weights")
        else:
            chosen = published.weights
        guard = Guardrails(
            mandatory=published.guardrails.mandatory if mandatory is None else mandatory,
            caps=published.guardrails.caps if caps is None else caps,
        )
        ranking = rank(field, chosen, guard)
        baseline = field.baseline(published.guardrails, published.weights)
        result = compare(field, ranking, baseline=baseline)
        if out_file is not None:
            data = export_recommendations(
                operator,
                field,
                ranking,
                out_file.suffix.lower().lstrip("."),
                audit_path=audit.audit_path(warehouse),
                scenarios_path=saved_at,
            )
            out_file.write_bytes(data)
    except CxmError as exc:
        _fail(exc)
    out.print(
        f"Published: {published.describe()}: {published.weights.describe()}.",
        markup=False,
        highlight=False,
    )
    out.print(
        f"{chosen.describe()}: {result.changed:,} of {result.sellers:,} sellers "
        f"({result.changed_share:.1%}) get a different first action than with what is "
        "published.",
        markup=False,
        highlight=False,
    )
    table = RichTable(show_edge=False)
    for name in ("market", "sellers", "changed", "share"):
        table.add_column(name, justify="left" if name == "market" else "right")
    for row in result.changed_by["market"].iter_rows(named=True):
        share = "" if row["share"] is None else f"{row['share']:.1%}"
        table.add_row(row["segment"], f"{row['sellers']:,}", f"{row['changed']:,}", share)
    out.print(table)
    moves = result.transition.filter(result.transition["baseline"] != result.transition["scenario"])
    for row in moves.head(5).iter_rows(named=True):
        out.print(f"  {row['sellers']:>9,}  {row['baseline']} -> {row['scenario']}", markup=False)
    out.print(summary.effect(result.effect).describe(), markup=False, highlight=False)
    for row in result.effect.iter_rows(named=True):
        change = "" if row["change"] is None else f" ({row['change']:+.0%})"
        out.print(
            f"  {row['label']:<20} {row['baseline']:8.1f} -> {row['scenario']:8.1f}{change}",
            markup=False,
        )
    if out_file is not None:
        out.print(
            f"Wrote {result.sellers:,} sellers' recommendations to {out_file}.",
            markup=False,
            soft_wrap=True,
        )
