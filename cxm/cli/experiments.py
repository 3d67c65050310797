"""Experiments on the command line: experiment create, start, list, power, report, export."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import math
from pathlib import Path
from typing import Annotated

import typer

from cxm import access
from cxm.cli._common import ScopeOption, Warehouse, _check_out, _fail, _scope, app, out
from cxm.errors import CxmError
from cxm.warehouse import audit

experiment_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Experiments: a saved scenario tried on a random part of the field (docs/experiments.md).",
)
app.add_typer(experiment_app, name="experiment")

ExperimentId = Annotated[str, typer.Argument(help="The experiment's id, e.g. EXP-REMIND.")]
Day = Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"])]


def _operator(scope: list[str] | None) -> access.User:
    return access.User(
        username=getpass.getuser(),
        name=f"{getpass.getuser()} (command line)",
        email="operator@localhost",
        role=access.Role.ADMIN,
        scope=_scope(scope),
    )


def _print(text: str) -> None:
    out.print(text, markup=False, highlight=False, soft_wrap=True)


def _number(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


@experiment_app.command("create")
def create(
    experiment_id: ExperimentId,
    name: Annotated[str, typer.Option(help="A name people read.")],
    primary: Annotated[str, typer.Option(help="The primary KPI, e.g. customer_retention_90d.")],
    start: Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="A month's first day.")],
    end: Annotated[
        dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="The planned end, a month's last day.")
    ],
    hypothesis: Annotated[str, typer.Option(help="What the treatment should do.")] = "",
    scenario: Annotated[
        int | None, typer.Option(help="The saved scenario tried (treatment).")
    ] = None,
    share: Annotated[float, typer.Option(help="The share of units in treatment.")] = 0.5,
    guardrail: Annotated[list[str] | None, typer.Option(help="A guardrail KPI (repeat).")] = None,
    team_rank: Annotated[
        str | None,
        typer.Option(help="Randomise teams under leaders of this rank, not single sellers."),
    ] = None,
    warehouse: Warehouse = None,
) -> None:
    """Define an experiment (nothing is assigned until `cxm experiment start`); audited."""
    from cxm.config import load_config
    from cxm.experiments import store
    from cxm.whatif import scenarios

    try:
        e = store.create(
            experiment_id,
            name,
            hypothesis,
            scenario_id=scenario,
            share=share,
            unit="team" if team_rank else "seller",
            leader_rank=team_rank,
            primary=primary,
            guardrails=tuple(guardrail or ()),
            start=start.date(),
            planned_end=end.date(),
            user=_operator(None),
            cfg=load_config(),
            path=store.experiments_path(warehouse),
            audit_path=audit.audit_path(warehouse),
            scenario_exists=lambda i: scenarios.get(i, path=scenarios.scenarios_path(warehouse)),
        )
    except CxmError as exc:
        _fail(exc)
    _print(f"Created {e.describe()}.")


@experiment_app.command("start")
def start(
    experiment_id: ExperimentId, scope: ScopeOption = None, warehouse: Warehouse = None
) -> None:
    """Draw the experiment's arms over the field (as --scope sees it), once; audited."""
    from cxm.experiments import store
    from cxm.pipeline import open_scoped

    try:
        user = _operator(scope)
        with open_scoped(user.scope, path=warehouse) as company:
            arms = store.start(
                company,
                experiment_id,
                user=user,
                path=store.experiments_path(warehouse),
                audit_path=audit.audit_path(warehouse),
            )
    except CxmError as exc:
        _fail(exc)
    n_t = arms.filter(arms["arm"] == "treatment").height
    _print(f"Started {experiment_id}: {arms.height:,} sellers, {n_t:,} in treatment.")


@experiment_app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    warehouse: Warehouse = None,
) -> None:
    """List the experiments, newest start first, with their status on the data's as-of date."""
    from cxm.experiments import store
    from cxm.metrics.compute import data_range
    from cxm.pipeline import open_scoped

    try:
        found = store.list_all(path=store.experiments_path(warehouse))
        with open_scoped(access.Scope.everywhere(), path=warehouse) as company:
            as_of = data_range(company).as_of
    except CxmError as exc:
        _fail(exc)
    if as_json:
        rows = [{**e.model_dump(mode="json"), "status": e.status(as_of)} for e in found]
        _print(json.dumps(rows, indent=2))
        return
    if not found:
        _print("No experiments yet: define one with `cxm experiment create`.")
    for e in found:
        _print(f"{e.status(as_of):<9} {e.describe()}")


@experiment_app.command("power")
def power(
    kpi: Annotated[str, typer.Option(help="The primary KPI.")],
    months: Annotated[int, typer.Option(min=1, max=12, help="Whole months the test runs.")] = 3,
    share: Annotated[float, typer.Option(help="The share of units in treatment.")] = 0.5,
    scope: ScopeOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    warehouse: Warehouse = None,
) -> None:
    """The minimum detectable effect of a test of --months on --kpi with --share in treatment."""
    from cxm.config import load_config
    from cxm.experiments import readout, store
    from cxm.pipeline import open_scoped

    try:
        store.check_kpi(kpi, "kpi")
        with open_scoped(_scope(scope), path=warehouse) as company:
            d = readout.design(company, kpi, months=months, share=share, cfg=load_config())
    except CxmError as exc:
        _fail(exc)
    if as_json:
        _print(json.dumps({k: _number(v) for k, v in d.__dict__.items()}, indent=2))
    else:
        _print(d.describe() + ".")


@experiment_app.command("report")
def report(
    experiment_id: ExperimentId,
    scope: ScopeOption = None,
    cuped: Annotated[bool, typer.Option("--cuped/--no-cuped", help="CUPED (default on).")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    warehouse: Warehouse = None,
) -> None:
    """Read an experiment: per KPI the lift with its 95% and always-valid intervals, p and q,
    n per arm; the sample-ratio check; the decision. --scope reads only those markets' units.

    When the experiment tries a saved scenario, each KPI that shows a what-if priority also
    gets the model's prediction: the relative change the what-if model expects from the
    scenario against the published weights on the treatment arm's sellers (compare it with
    the measured relative lift).

    --json prints one object per KPI (kpi, lift, lift_rel, ci_low, ci_high, p_value,
    n_control, n_treatment, ..., predicted: the model's relative change, null where it
    predicts none), or {"withheld": why} when the sample-ratio check failed.
    """
    from cxm.config import load_config
    from cxm.experiments import readout, store
    from cxm.pipeline import open_scoped

    try:
        cfg = load_config()
        e = store.get(experiment_id, path=store.experiments_path(warehouse))
        with open_scoped(_scope(scope), path=warehouse) as company:
            r = readout.read(
                company, e, cfg=cfg, cuped=cuped, path=store.experiments_path(warehouse)
            )
            if e.scenario_id is not None and not r.withheld:
                r = readout.with_prediction(r, _prediction(company, e, cfg, warehouse))
    except CxmError as exc:
        _fail(exc)
    if as_json:
        if r.withheld:
            _print(json.dumps({"withheld": r.withheld}))
            raise typer.Exit(1)
        rows = [{k: _number(v) for k, v in row.items()} for row in r.rows()]
        _print(json.dumps(rows, indent=2))
        return
    _print(f"{e.describe()}; {r.status} on {r.as_of}; {r.scope}.")
    _print(
        f"Split: {r.srm.n_control:,} control, {r.srm.n_treatment:,} treatment "
        f"({r.srm.observed_share:.1%} treatment, planned {r.srm.planned_share:.0%}; "
        f"sample-ratio p = {r.srm.p_value:.3g})."
    )
    for x in r.overall():
        _print(
            f"  {x.kpi:<26} lift {x.lift:+.4g} [{x.ci_low:+.4g}, {x.ci_high:+.4g}] "
            f"always-valid [{x.seq_ci_low:+.4g}, {x.seq_ci_high:+.4g}] p {x.p_value:.3g} "
            f"q {x.q_value if x.q_value is None else round(x.q_value, 4)} "
            f"n {x.n_control:,}/{x.n_treatment:,}"
            + _predicted_words(r.predicted_change(x.kpi), x.lift_rel)
        )
    _print(r.decision)
    if r.withheld:
        raise typer.Exit(1)


def _prediction(company, e, cfg, warehouse):
    """The what-if model's effect of ``e``'s scenario against the published weights on the
    treatment arm's sellers in ``company`` (`readout.predict`)."""
    from cxm.experiments import readout, store
    from cxm.whatif import scenarios
    from cxm.whatif.compare import load_field

    saved_at = scenarios.scenarios_path(warehouse)
    field = load_field(company, cfg)
    published = scenarios.published(field.catalog, path=saved_at)
    tried = scenarios.get(e.scenario_id, path=saved_at)
    return readout.predict(
        field,
        store.assignments(company, e, path=store.experiments_path(warehouse)),
        control=(published.weights, published.guardrails),
        treatment=(tried.weights, tried.guardrails),
    )


def _predicted_words(predicted: float | None, measured: float) -> str:
    if predicted is None:
        return ""
    seen = "not measured" if math.isnan(measured) else f"{measured:+.1%}"
    return f" | model predicted {predicted:+.1%} relative, measured {seen}"


@experiment_app.command("export")
def export(
    experiment_id: ExperimentId,
    arm: Annotated[str, typer.Option(help="control or treatment.")],
    out_file: Annotated[Path, typer.Option("--out", help="A .csv or .parquet file.")],
    scope: ScopeOption = None,
    warehouse: Warehouse = None,
) -> None:
    """Write one arm's recommendations for the field platform (control: the published
    weights; treatment: the experiment's scenario), stamped and audited."""
    from cxm.config import load_config
    from cxm.experiments import store
    from cxm.pipeline import open_scoped
    from cxm.reports.recommendations import experiment_recommendations
    from cxm.whatif import scenarios
    from cxm.whatif.compare import load_field, rank

    suffix = out_file.suffix.lower().lstrip(".")
    _check_out(out_file, suffix if suffix in ("csv", "parquet") else "csv or .parquet")
    try:
        store.check_arm(arm, "--arm")
        user = _operator(scope)
        e = store.get(experiment_id, path=store.experiments_path(warehouse))
        saved_at = scenarios.scenarios_path(warehouse)
        with open_scoped(user.scope, path=warehouse) as company:
            field = load_field(company, load_config())
            arms = store.assignments(company, e, path=store.experiments_path(warehouse))
        published = scenarios.published(field.catalog, path=saved_at)
        if arm == "treatment" and e.scenario_id is not None:
            sc = scenarios.get(e.scenario_id, path=saved_at)
            ranking = rank(field, sc.weights, sc.guardrails)
        else:
            ranking = rank(field, published.weights, published.guardrails)
        data = experiment_recommendations(
            user,
            field,
            e,
            arms,
            arm,
            ranking,
            suffix,
            audit_path=audit.audit_path(warehouse),
            scenarios_path=saved_at,
        )
    except CxmError as exc:
        _fail(exc)
    out_file.write_bytes(data)
    _print(f"Wrote the {arm} arm's recommendations of {experiment_id} to {out_file}.")
