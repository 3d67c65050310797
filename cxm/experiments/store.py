"""Experiment definitions, kept beside the warehouse, and their assignment frozen at start.

An experiment is a saved scenario (treatment) tried against the published weights (control) on
a share of the field: name, hypothesis, scenario, share, unit (the seller, or the team under a
leader of a chosen rank), primary and guardrail KPIs, start and planned end. Definitions live in
a SQLite file beside the warehouse (``cxm.duckdb`` -> ``cxm.experiments.sqlite``), for the
reason scenarios do: a load replaces the warehouse file whole, and definitions must outlive it.

Who may do what is checked here: anyone signed in may read; a strategist or an admin may create
and start (each audited). Starting draws the assignment once (`assign.assign`, stratified by
market x rank, a hash of experiment and unit) over the starter's company as they see it, and
writes it; a second start is refused, so the arms never change. An experiment run and assigned
elsewhere comes in through the warehouse table ``experiment_assignments`` instead (the demo's
two do); `assignments` reads whichever holds it, always through the user's company, so a scoped
reader gets their markets' sellers only.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict

from cxm.access import Role, User, require_role
from cxm.config import CompanyConfig
from cxm.errors import ExperimentError
from cxm.experiments import assign as assigning
from cxm.metrics.kpis import get as get_kpi
from cxm.warehouse import audit
from cxm.warehouse._sqlite import open_private
from cxm.warehouse.scoped import Scoped
from cxm.warehouse.store import warehouse_path

CREATE_ROLES = (Role.STRATEGIST, Role.ADMIN)
ARMS = ("control", "treatment")
MAX_NAME = 80
Unit = Literal["seller", "team"]
Status = Literal["draft", "running", "finished"]
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")

_DDL = """
CREATE TABLE IF NOT EXISTS experiments (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    hypothesis TEXT NOT NULL,
    scenario_id INTEGER,
    share REAL NOT NULL,
    unit TEXT NOT NULL,
    leader_rank TEXT,
    primary_kpi TEXT NOT NULL,
    guardrails TEXT NOT NULL,
    start TEXT NOT NULL,
    planned_end TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at TEXT NOT NULL,
    source TEXT NOT NULL,
    started_by TEXT,
    started_at TEXT
);
CREATE TABLE IF NOT EXISTS assignments (
    experiment_id TEXT NOT NULL REFERENCES experiments (id),
    seller_id TEXT NOT NULL,
    unit_id TEXT NOT NULL,
    arm TEXT NOT NULL,
    assigned_on TEXT NOT NULL,
    PRIMARY KEY (experiment_id, seller_id)
)"""
_COLUMNS = (
    "id name hypothesis scenario_id share unit leader_rank primary_kpi guardrails start "
    "planned_end author created_at source started_by started_at"
).split()


class Experiment(BaseModel):
    """One experiment's definition. ``source``: made in cxm, or the demo's planted one (its
    assignment is in the warehouse's ``experiment_assignments``, as an imported one's is)."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    hypothesis: str
    scenario_id: int | None
    share: float
    unit: Unit
    leader_rank: str | None
    primary: str
    guardrails: tuple[str, ...]
    start: dt.date
    planned_end: dt.date
    author: str
    created_at: dt.datetime
    source: Literal["cxm", "demo"] = "cxm"
    started_by: str | None = None
    started_at: dt.datetime | None = None

    @property
    def kpis(self) -> tuple[str, ...]:
        """The primary KPI, then the guardrails."""
        return (self.primary, *(g for g in self.guardrails if g != self.primary))

    def status(self, as_of: dt.date) -> Status:
        """Draft before it is started (a cxm experiment), running until its planned end has
        passed by the data's as-of date, finished after."""
        if self.source == "cxm" and self.started_at is None:
            return "draft"
        return "running" if as_of < self.planned_end else "finished"

    def window(self, as_of: dt.date) -> tuple[dt.date, dt.date]:
        """The days read: from the start to the planned end, or the as-of date before it."""
        return self.start, min(self.planned_end, as_of)

    def describe(self) -> str:
        """One line for lists and captions."""
        unit = "sellers" if self.unit == "seller" else f"teams under a {self.leader_rank}"
        return (
            f"{self.name} ({self.id}): {self.share:.0%} of {unit} in treatment, "
            f"{self.start} to {self.planned_end}, primary KPI {self.primary}"
        )


def experiments_path(warehouse: str | Path | None = None) -> Path:
    """Return the experiments file beside the warehouse."""
    return warehouse_path(warehouse).with_suffix(".experiments.sqlite")


def _connect(path: Path | None) -> sqlite3.Connection:
    return open_private(path or experiments_path(), _DDL)


def _row(values) -> Experiment:
    r = dict(zip(_COLUMNS, values, strict=True))
    return Experiment(
        **{k: r[k] for k in ("id", "name", "hypothesis", "scenario_id", "share", "unit")},
        leader_rank=r["leader_rank"],
        primary=r["primary_kpi"],
        guardrails=tuple(json.loads(r["guardrails"])),
        start=dt.date.fromisoformat(r["start"]),
        planned_end=dt.date.fromisoformat(r["planned_end"]),
        author=r["author"],
        created_at=dt.datetime.fromisoformat(r["created_at"]),
        source=r["source"],
        started_by=r["started_by"],
        started_at=dt.datetime.fromisoformat(r["started_at"]) if r["started_at"] else None,
    )


def check_kpi(kpi_id: str, field: str) -> str:
    """Return the KPI id when it has a value per seller; raise `ExperimentError` otherwise."""
    try:
        kpi = get_kpi(kpi_id)
    except Exception:  # the registry's own error names the KPI; ours names the field too
        raise ExperimentError(
            field, kpi_id, "unknown_kpi", "is not a KPI of the registry (docs/metrics.md)"
        ) from None
    if kpi.grain != "seller" or kpi.kind not in ("sum", "count", "ratio"):
        raise ExperimentError(
            field,
            kpi_id,
            "kpi_not_per_seller",
            "has no value per seller (an experiment reads sums and ratios of the seller base)",
        )
    return kpi.id


def check_arm(arm: str, field: str = "arm") -> str:
    """Return ``arm`` when it is control or treatment; raise `ExperimentError` otherwise."""
    if arm not in ARMS:
        raise ExperimentError(field, arm, "bad_arm", "is not control or treatment")
    return arm


def check_definition(
    *,
    experiment_id: str,
    name: str,
    share: float,
    unit: str,
    leader_rank: str | None,
    primary: str,
    guardrails: tuple[str, ...],
    start: dt.date,
    planned_end: dt.date,
    cfg: CompanyConfig,
) -> str:
    """Check a definition's values; return the cleaned name. Raise `ExperimentError`."""
    if not _ID.match(experiment_id or ""):
        raise ExperimentError(
            "id", experiment_id, "bad_experiment_id", "is not 1-40 letters, digits, _ or -"
        )
    clean = " ".join((name or "").split())
    if not clean or len(clean) > MAX_NAME:
        raise ExperimentError("name", name, "bad_name", f"must be 1 to {MAX_NAME} characters")
    if not (isinstance(share, int | float) and 0 < share < 1):
        raise ExperimentError("share", share, "bad_share", "is not strictly between 0 and 1")
    if unit not in ("seller", "team"):
        raise ExperimentError("unit", unit, "bad_unit", "is not seller or team")
    if unit == "team" and leader_rank not in cfg.ranks:
        raise ExperimentError(
            "leader_rank", leader_rank, "unknown_rank", "is not on the configured rank ladder"
        )
    check_kpi(primary, "primary")
    for g in guardrails:
        check_kpi(g, "guardrails")
    if start.day != 1:
        raise ExperimentError(
            "start",
            start,
            "start_not_month_start",
            "is not a month's first day (facts are monthly)",
        )
    next_day = planned_end + dt.timedelta(days=1)
    if planned_end <= start or next_day.day != 1:
        raise ExperimentError(
            "planned_end",
            planned_end,
            "bad_planned_end",
            f"is not a month's last day after the start {start}",
        )
    return clean


def create(
    experiment_id: str,
    name: str,
    hypothesis: str,
    *,
    scenario_id: int | None,
    share: float,
    unit: Unit = "seller",
    leader_rank: str | None = None,
    primary: str,
    guardrails: tuple[str, ...] = (),
    start: dt.date,
    planned_end: dt.date,
    user: User | None,
    cfg: CompanyConfig,
    path: Path | None = None,
    audit_path: Path | None = None,
    scenario_exists=None,
) -> Experiment:
    """Save a new experiment as ``user`` (strategist or admin), audited; nothing is assigned
    until it is started. ``scenario_exists(id)`` raises for an unknown scenario (the caller's
    `whatif.scenarios.get`)."""
    who = require_role(user, *CREATE_ROLES)
    clean = check_definition(
        experiment_id=experiment_id,
        name=name,
        share=share,
        unit=unit,
        leader_rank=leader_rank,
        primary=primary,
        guardrails=tuple(guardrails),
        start=start,
        planned_end=planned_end,
        cfg=cfg,
    )
    if scenario_id is not None and scenario_exists is not None:
        scenario_exists(scenario_id)
    now = dt.datetime.now().replace(microsecond=0)
    con = _connect(path)
    try:
        with con:
            con.execute(
                f"INSERT INTO experiments ({', '.join(_COLUMNS[:14])}) "
                f"VALUES ({', '.join('?' * 14)})",
                [
                    experiment_id,
                    clean,
                    " ".join((hypothesis or "").split()),
                    scenario_id,
                    float(share),
                    unit,
                    leader_rank if unit == "team" else None,
                    primary,
                    json.dumps(list(dict.fromkeys(guardrails))),
                    start.isoformat(),
                    planned_end.isoformat(),
                    who.username,
                    now.isoformat(sep=" "),
                    "cxm",
                ],
            )
    except sqlite3.IntegrityError:
        raise ExperimentError(
            "id", experiment_id, "experiment_taken", "or its name is taken; choose another"
        ) from None
    finally:
        con.close()
    found = get(experiment_id, path=path)
    _audit(who, "create experiment", found, audit_path)
    return found


def _audit(who: User, action: str, e: Experiment, audit_path: Path | None) -> None:
    audit.record(
        audit.Entry(
            username=who.username,
            role=who.role.value,
            action=action,
            what=f"experiment {e.id} {e.name}",
            filters=e.describe(),
            scope=who.scope.describe(),
            at=dt.datetime.now().replace(microsecond=0),
        ),
        path=audit_path,
    )


def register(experiments, *, path: Path | None = None) -> None:
    """Write (or overwrite) definitions whose assignment lives in the warehouse (the demo's)."""
    con = _connect(path)
    try:
        with con:
            for e in experiments:
                con.execute(
                    f"INSERT OR REPLACE INTO experiments ({', '.join(_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(_COLUMNS))})",
                    [
                        e.id,
                        e.name,
                        e.hypothesis,
                        None,
                        e.share,
                        "seller",
                        None,
                        e.primary,
                        json.dumps(list(e.guardrails)),
                        e.start.isoformat(),
                        e.planned_end.isoformat(),
                        "demo",
                        dt.datetime.combine(e.start, dt.time()).isoformat(sep=" "),
                        "demo",
                        "demo",
                        dt.datetime.combine(e.start, dt.time()).isoformat(sep=" "),
                    ],
                )
    finally:
        con.close()


def list_all(*, path: Path | None = None) -> list[Experiment]:
    """Every experiment, newest start first (empty when none)."""
    target = path or experiments_path()
    if not target.exists():
        return []
    con = _connect(target)
    try:
        rows = con.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM experiments ORDER BY start DESC, id"
        ).fetchall()
    finally:
        con.close()
    return [_row(r) for r in rows]


def get(experiment_id: str, *, path: Path | None = None) -> Experiment:
    """The experiment with this id; `ExperimentError` ``unknown_experiment`` when none."""
    found = [e for e in list_all(path=path) if e.id == experiment_id]
    if not found:
        raise ExperimentError(
            "experiment",
            experiment_id,
            "unknown_experiment",
            "is no experiment (cxm experiment list)",
        )
    return found[0]


#: The sellers who can be assigned on a start day: enrolled before it, not yet terminated.
_UNITS = """
    SELECT seller_id, sponsor_id, rank, market FROM sellers
    WHERE enrolled_on < $start AND (terminated_on IS NULL OR terminated_on >= $start)
    ORDER BY seller_id"""


def start(
    company: Scoped,
    experiment_id: str,
    *,
    user: User | None,
    path: Path | None = None,
    audit_path: Path | None = None,
) -> pl.DataFrame:
    """Draw and write the experiment's assignment, once, over ``company`` (the starter's view);
    return it (seller_id, unit_id, arm). Audited. A second start is refused."""
    who = require_role(user, *CREATE_ROLES)
    e = get(experiment_id, path=path)
    if e.started_at is not None:
        raise ExperimentError(
            "experiment",
            experiment_id,
            "already_started",
            f"was started by {e.started_by} on {e.started_at:%Y-%m-%d}; its arms are frozen",
        )
    sellers = company.con.sql(_UNITS, params={"start": e.start}).pl()
    if e.unit == "team":
        teams = assigning.team_units(sellers, e.leader_rank, list(_ranks(company)))
        sellers = sellers.join(teams, on="seller_id")
    else:
        sellers = sellers.with_columns(unit_id=pl.col("seller_id"))
    # A team's stratum is its leader's (the unit's own row); a seller's their own.
    strata = sellers.filter(pl.col("unit_id") == pl.col("seller_id")).select(
        "unit_id", stratum=pl.concat_str("market", "rank", separator="|")
    )
    units = sellers.select("unit_id").unique().join(strata, on="unit_id", how="left")
    units = units.with_columns(pl.col("stratum").fill_null("other"))
    arms = assigning.assign(experiment_id, units, e.share)
    out = sellers.select("seller_id", "unit_id").join(arms, on="unit_id").sort("seller_id")
    now = dt.datetime.now().replace(microsecond=0)
    con = _connect(path)
    try:
        with con:
            con.executemany(
                "INSERT INTO assignments VALUES (?, ?, ?, ?, ?)",
                [(experiment_id, s, u, a, e.start.isoformat()) for s, u, a in out.iter_rows()],
            )
            con.execute(
                "UPDATE experiments SET started_by = ?, started_at = ? WHERE id = ?",
                [who.username, now.isoformat(sep=" "), experiment_id],
            )
    finally:
        con.close()
    _audit(who, "start experiment", e, audit_path)
    return out


def _ranks(company: Scoped) -> list[str]:
    return [
        r
        for (r,) in company.con.execute("SELECT rank FROM dim_ranks ORDER BY rank_index").fetchall()
    ]


def assignments(company: Scoped, e: Experiment, *, path: Path | None = None) -> pl.DataFrame:
    """Return the experiment's arms for the sellers of ``company`` (seller_id, arm).

    From cxm's frozen assignment when cxm started it, else from the warehouse's
    ``experiment_assignments`` (already cut to the user's markets). Either way only sellers of
    the user's company are kept, so a scoped readout holds their markets' units alone.
    """
    con = company.con
    if e.source == "cxm":
        target = path or experiments_path()
        lite = sqlite3.connect(target) if target.exists() else None
        rows = (
            lite.execute(
                "SELECT seller_id, arm FROM assignments WHERE experiment_id = ?", [e.id]
            ).fetchall()
            if lite
            else []
        )
        if lite:
            lite.close()
        frame = pl.DataFrame(rows, schema={"seller_id": pl.String, "arm": pl.String}, orient="row")
        mine = con.sql("SELECT seller_id FROM sellers").pl()
        return frame.join(mine, on="seller_id").sort("seller_id")
    return con.sql(
        "SELECT seller_id, arm FROM experiment_assignments WHERE experiment_id = $id "
        "AND seller_id IN (SELECT seller_id FROM sellers) ORDER BY seller_id",
        params={"id": e.id},
    ).pl()
