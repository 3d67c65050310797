"""Every experiment error code (`cxm.errors.EXPERIMENT_CODES`) triggered once, named by field
and value, with nothing written; docs/errors.md ("Experiment errors") shows what each prints.

The cases run on the tiny company (`tests/fixtures/tiny_company/`) with X1 (imported: its
arms are in ``experiment_assignments``, S01 and S05 control, S02 and S06 treatment, all in the
US and Brazil) and T1 (defined by a strategist, not started) beside it.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cxm.access import Role, Scope, User
from cxm.config import load_config
from cxm.errors import EXPERIMENT_CODES, ExperimentError
from cxm.experiments import assign, readout, stats, store
from cxm.pipeline import open_scoped
from cxm.warehouse import audit
from tests.conftest import register_x1

CFG = load_config()
SAM = User(username="sam", name="Sam", email="s@x", role=Role.STRATEGIST)


def _define(path: Path, experiment_id: str = "T1", **change) -> store.Experiment:
    """A good definition on the tiny company's first quarter of 2026, with ``change``."""
    spec = dict(
        scenario_id=None,
        share=0.5,
        primary="orders",
        start=dt.date(2026, 1, 1),
        planned_end=dt.date(2026, 3, 31),
        user=SAM,
        cfg=CFG,
        path=store.experiments_path(path),
        audit_path=audit.audit_path(path),
    )
    name = change.pop("name", f"Test {experiment_id}")
    return store.create(experiment_id, name, "", **{**spec, **change})


def _read(path: Path, experiment_id: str, *markets: str):
    e = store.get(experiment_id, path=store.experiments_path(path))
    scope = Scope(markets=markets) if markets else Scope.everywhere()
    with open_scoped(scope, path=path) as company:
        readout.read(company, e, cfg=CFG, path=store.experiments_path(path))


def _start(path: Path, experiment_id: str):
    with open_scoped(Scope.everywhere(), path=path) as company:
        store.start(
            company,
            experiment_id,
            user=SAM,
            path=store.experiments_path(path),
            audit_path=audit.audit_path(path),
        )


_NO_EFFECT = stats.effect("orders", [1.0, 2.0, 3.0, 4.0], [False, False, True, True])

#: (trigger in words, code, what raises it given the warehouse's path).
EXPERIMENT_CASES: list[tuple[str, str, Callable[[Path], object]]] = [
    (
        "`cxm experiment create NEW ... --share 1.2`",
        "bad_share",
        lambda p: _define(p, "NEW", share=1.2),
    ),
    (
        "`stats.mde(sd=1, n_units=1000, share=0.5, power=1.5)`",
        "bad_probability",
        lambda p: stats.mde(1.0, 1000, 0.5, power=1.5),
    ),
    (
        "`stats.units_needed(effect=0, sd=1, share=0.5)`",
        "bad_effect",
        lambda p: stats.units_needed(0.0, 1.0, 0.5),
    ),
    (
        "`stats.mde(sd=0, n_units=1000, share=0.5)`",
        "bad_spread",
        lambda p: stats.mde(0.0, 1000, 0.5),
    ),
    (
        "`stats.effects` given values of 4 units and arms of 3",
        "shape_mismatch",
        lambda p: stats.effects(["orders"], np.ones((4, 1)), np.array([True, False, True])),
    ),
    (
        "`assign.assign` of the units U1, U2, U1",
        "duplicate_unit",
        lambda p: assign.assign(
            "NEW", pl.DataFrame({"unit_id": ["U1", "U2", "U1"], "stratum": ["a"] * 3}), 0.5
        ),
    ),
    (
        "`cxm experiment create NEW ... --team-rank Boss`",
        "unknown_rank",
        lambda p: _define(p, "NEW", unit="team", leader_rank="Boss"),
    ),
    (
        "`assign.team_units` of A sponsored by B and B by A",
        "sponsor_cycle",
        lambda p: assign.team_units(
            pl.DataFrame(
                {
                    "seller_id": ["A", "B"],
                    "sponsor_id": ["B", "A"],
                    "rank": ["Member", "Member"],
                    "market": ["US", "US"],
                }
            ),
            "Director",
            list(CFG.ranks),
        ),
    ),
    (
        "`stats.decision` on the primary KPI customer_retention_90d given only an orders effect",
        "no_readout",
        lambda p: stats.decision(
            [_NO_EFFECT],
            "customer_retention_90d",
            [],
            srm=stats.sample_ratio(2, 2, 0.5),
            running=False,
        ),
    ),
    (
        "`cxm experiment create NEW ... --primary no_such_kpi`",
        "unknown_kpi",
        lambda p: _define(p, "NEW", primary="no_such_kpi"),
    ),
    (
        "`cxm experiment create NEW ... --guardrail customer_nps`",
        "kpi_not_per_seller",
        lambda p: _define(p, "NEW", guardrails=("customer_nps",)),
    ),
    (
        "`cxm experiment create 'my test!' ...`",
        "bad_experiment_id",
        lambda p: _define(p, "my test!"),
    ),
    (
        "`cxm experiment create NEW --name ' ' ...` (blank)",
        "bad_name",
        lambda p: _define(p, "NEW", name=" "),
    ),
    (
        '`store.create(..., unit="market")`',
        "bad_unit",
        lambda p: _define(p, "NEW", unit="market"),
    ),
    (
        "`cxm experiment create NEW ... --start 2026-01-02`",
        "start_not_month_start",
        lambda p: _define(p, "NEW", start=dt.date(2026, 1, 2)),
    ),
    (
        "`cxm experiment create NEW ... --start 2026-01-01 --end 2026-03-30`",
        "bad_planned_end",
        lambda p: _define(p, "NEW", planned_end=dt.date(2026, 3, 30)),
    ),
    (
        "`cxm experiment create T1 ...` when T1 exists",
        "experiment_taken",
        lambda p: _define(p, "T1", name="Another name"),
    ),
    ("`cxm experiment report NOPE`", "unknown_experiment", lambda p: _read(p, "NOPE")),
    (
        "`cxm experiment start X1` (X1 was assigned elsewhere and imported)",
        "already_started",
        lambda p: _start(p, "X1"),
    ),
    ("`cxm experiment report T1` before T1 is started", "not_started", lambda p: _read(p, "T1")),
    (
        "`cxm experiment report X1 --scope CA` (X1's sellers are in the US and Brazil)",
        "no_units",
        lambda p: _read(p, "X1", "CA"),
    ),
    (
        "`cxm experiment export X1 --arm both --out x.csv`",
        "bad_arm",
        lambda p: store.check_arm("both", "--arm"),
    ),
]


def prepare(template: Path, path: Path) -> Path:
    """Copy the tiny company's warehouse to ``path`` and define X1 and T1 beside it."""
    shutil.copyfile(template, path)
    register_x1(path, started_by="demo", started_at=dt.datetime(2026, 1, 1))
    _define(path, "T1")
    return path


@pytest.fixture
def prepared(tiny_warehouse_template, tmp_path) -> Path:
    return prepare(tiny_warehouse_template, tmp_path / "cxm.duckdb")


def test_every_experiment_code_has_a_case():
    assert [c for c in EXPERIMENT_CODES if c not in {case[1] for case in EXPERIMENT_CASES}] == []


@pytest.mark.parametrize(
    ("trigger", "code", "run"), EXPERIMENT_CASES, ids=[c[1] for c in EXPERIMENT_CASES]
)
def test_each_experiment_error_is_named_and_changes_nothing(prepared, trigger, code, run):
    before = store.list_all(path=store.experiments_path(prepared))
    trail = audit.entries(path=audit.audit_path(prepared))
    with pytest.raises(ExperimentError) as caught:
        run(prepared)
    assert caught.value.code == code
    # The message names the field and the value, then the code.
    assert str(caught.value).startswith(f'{caught.value.field}: "{caught.value.value}" ')
    assert str(caught.value).endswith(f"[{code}].")
    # Nothing written: the same definitions (T1 still unstarted), no new audit entry.
    assert store.list_all(path=store.experiments_path(prepared)) == before
    assert audit.entries(path=audit.audit_path(prepared)).equals(trail)


def experiment_errors_doc(workdir: Path, template: Path) -> list[str]:
    """Return docs/errors.md's section on experiments: each code, its rule, what its case
    prints."""
    path = prepare(template, workdir / "experiments.duckdb")
    lines = [
        "# Experiment errors",
        "",
        "A bad experiment definition, design, assignment, readout or export stops with an "
        "`ExperimentError` naming the field and the value; nothing is computed or written (the "
        "cases of `tests/test_experiment_errors.py`, on the tiny company with the imported "
        "experiment X1 and the unstarted T1 beside it). `cxm experiment` prints the message and "
        "ends with exit code 1.",
        "",
    ]
    for code, rule in EXPERIMENT_CODES.items():
        lines += [f"## `{code}`", "", rule, ""]
        for trigger, _, run in (c for c in EXPERIMENT_CASES if c[1] == code):
            with pytest.raises(ExperimentError) as caught:
                run(path)
            lines += [f"- Trigger: {trigger}", f"  - `{caught.value}`"]
        lines.append("")
    return lines
