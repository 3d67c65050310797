"""An experiment's arms as files for the field platform, and the what-if model's prediction
beside the measured effect, on the tiny company (`tests/fixtures/tiny_company/`).

The tiny company's ``experiment_assignments`` holds X1, an experiment run elsewhere: S01 and
S05 in control, S02 and S06 in treatment. Its seller state is as of 2026-03-02; S06 left on
2025-10-15 and S12 on 2026-01-31, so neither has recommendations. Markets: S01-S04 and S12 in
the US, S05-S08 and S11 in Brazil, S09 and S10 in Canada.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import io
import json
import sqlite3

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from cxm.access import NotAllowed, OutOfScope, Role, Scope, User
from cxm.cli import app
from cxm.config import load_config
from cxm.errors import ExperimentError
from cxm.experiments import store
from cxm.reports.recommendations import experiment_recommendations
from cxm.warehouse import audit
from cxm.whatif import compare, scenarios
from cxm.whatif.compare import GUARDED, load_field, rank
from cxm.whatif.weights import Weights
from tests.conftest import company

CFG = load_config()
NOW = dt.datetime(2026, 12, 6, 9, 30)
ANALYST_BR = User(
    username="ana", name="Ana", email="a@x", role=Role.ANALYST, scope=Scope(markets=("BR",))
)
ANALYST_US = User(
    username="uma", name="Uma", email="u@x", role=Role.ANALYST, scope=Scope(markets=("US",))
)
EXECUTIVE = User(username="eve", name="Eve", email="e@x", role=Role.EXECUTIVE)
STRATEGIST = User(username="sam", name="Sam", email="s@x", role=Role.STRATEGIST)

#: Two actions, no eligibility rules, no mandatory action, no cap: a seller's ranking is the
#: two actions by weight x impact x need, which makes the model's prediction a hand sum.
#: (The default catalog names course C04, which the tiny company lacks.)
CATALOG = """\
version: "tiny-1"
baseline: {retention: 1, repeat_customers: 1, cart_size: 1, sales: 1, business_building: 1,
           adoption: 1, compliance: 1}
follow_through: [0.30, 0.15, 0.08]
actions:
  - {id: reorder_reminder, label: Reorder reminder, description: d, impact: {retention: 0.8}}
  - {id: app_tour, label: App tour, description: d, impact: {adoption: 1.0}}
"""


@pytest.fixture
def tiny(tiny_warehouse, tmp_path, monkeypatch):
    """The tiny company with the small catalog in force and X1 defined beside it."""
    catalog = tmp_path / "actions.yaml"
    catalog.write_text(CATALOG, encoding="utf-8")
    monkeypatch.setenv("CXM_ACTIONS", str(catalog))
    x1 = store.Experiment(
        id="X1",
        name="Imported test",
        hypothesis="",
        scenario_id=None,
        share=0.5,
        unit="seller",
        leader_rank=None,
        primary="orders",
        guardrails=(),
        start=dt.date(2026, 1, 1),
        planned_end=dt.date(2026, 3, 31),
        author="demo",
        created_at=dt.datetime(2026, 1, 1),
        source="demo",
    )
    store.register([x1], path=store.experiments_path(tiny_warehouse))
    return tiny_warehouse


def _x1(path) -> store.Experiment:
    return store.get("X1", path=store.experiments_path(path))


def _export(path, user: User, arm: str, *markets: str, fmt: str = "csv", field_markets=None):
    """X1's ``arm`` file for ``user``, read through the company of ``markets`` (the field
    through ``field_markets`` when given: a field wider than the user's scope)."""
    with company(path, *markets) as c:
        field = load_field(c, CFG)
        arms = store.assignments(c, _x1(path), path=store.experiments_path(path))
    if field_markets is not None:
        with company(path, *field_markets) as c:
            field = load_field(c, CFG)
    return experiment_recommendations(
        user,
        field,
        _x1(path),
        arms,
        arm,
        rank(field, Weights.baseline(field.catalog)),
        fmt,
        audit_path=audit.audit_path(path),
        scenarios_path=scenarios.scenarios_path(path),
        now=NOW,
    )


def _stamp_and_rows(data: bytes) -> tuple[dict[str, str], pl.DataFrame]:
    lines = data.decode("utf-8-sig").splitlines()
    stamp = dict(line[2:].split(": ", 1) for line in lines if line.startswith("# "))
    return stamp, pl.read_csv(io.BytesIO(data), comment_prefix="#")


def _exports(path) -> pl.DataFrame:
    return audit.entries(path=audit.audit_path(path), actions=["export"])


def test_a_scoped_analysts_arm_file_holds_only_their_markets_sellers_of_that_arm(tiny):
    data = _export(tiny, ANALYST_BR, "control", "BR")
    stamp, rows = _stamp_and_rows(data)
    # X1's control arm is S01 (US) and S05 (BR): Brazil's analyst gets S05 alone.
    assert rows["seller_id"].to_list() == ["S05"] and rows["market"].to_list() == ["BR"]
    assert stamp["Experiment"] == f"{_x1(tiny).describe()}; arm control"
    assert stamp["Report"].startswith("Experiment X1 (Imported test), control arm")
    assert (stamp["Scope"], stamp["Rows"], stamp["Generated by"]) == ("BR", "1", "ana")
    assert stamp["Generated at"] == "2026-12-06T09:30:00"
    (entry,) = _exports(tiny).iter_rows(named=True)
    assert (entry["username"], entry["what"], entry["scope"], entry["rows"]) == (
        "ana",
        "experiment X1 control recommendations, csv",
        "BR",
        1,
    )
    assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    # The treatment arm in Brazil is S06 alone, who left in 2025: no live seller, no rows.
    _, rows = _stamp_and_rows(_export(tiny, ANALYST_BR, "treatment", "BR"))
    assert rows.height == 0
    # The US analyst's treatment arm: S02 alone (S06 is Brazil's).
    stamp, rows = _stamp_and_rows(_export(tiny, ANALYST_US, "treatment", "US"))
    assert rows["seller_id"].to_list() == ["S02"] and stamp["Scope"] == "US"
    assert _exports(tiny)["rows"].to_list() == [1, 0, 1]  # newest first


def test_an_arm_file_is_refused_to_an_executive_a_wider_field_and_a_bad_arm_and_not_audited(
    tiny,
):
    with pytest.raises(NotAllowed):
        _export(tiny, EXECUTIVE, "control")
    # A field read for every market, handed to Brazil's analyst: refused, naming the others.
    with pytest.raises(OutOfScope, match="CA, US"):
        _export(tiny, ANALYST_BR, "control", "BR", field_markets=())
    with pytest.raises(ExperimentError, match=r'arm: "both" is not control or treatment \[bad'):
        _export(tiny, ANALYST_BR, "both", "BR")
    assert _exports(tiny).height == 0


def _cli(*args: str):
    return CliRunner().invoke(app, ["experiment", *args])


def test_cli_export_writes_the_scoped_arm_stamped_and_audited(tiny, tmp_path):
    out = tmp_path / "br-control.csv"
    run = _cli("export", "X1", "--arm", "control", "--out", str(out), "--scope", "BR",
               "--warehouse", str(tiny))  # fmt: skip
    assert run.exit_code == 0, run.output
    assert "Wrote the control arm's recommendations of X1" in run.stdout
    stamp, rows = _stamp_and_rows(out.read_bytes())
    # The command line's operator is an admin; --scope BR cuts X1's control arm to S05.
    assert rows["seller_id"].to_list() == ["S05"]
    assert (stamp["Scope"], stamp["Rows"], stamp["Generated by"]) == ("BR", "1", getpass.getuser())
    assert stamp["Experiment"].endswith("; arm control")
    (entry,) = _exports(tiny).iter_rows(named=True)
    assert (entry["role"], entry["scope"], entry["rows"]) == ("admin", "BR", 1)
    assert entry["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    # Unscoped: both control sellers, S01 and S05, as Parquet with the stamp in its metadata.
    whole = tmp_path / "control.parquet"
    run = _cli("export", "X1", "--arm", "control", "--out", str(whole), "--warehouse", str(tiny))
    assert run.exit_code == 0, run.output
    assert sorted(pl.read_parquet(whole)["seller_id"].to_list()) == ["S01", "S05"]


def test_cli_export_refuses_a_bad_arm_by_name_and_writes_nothing(tiny, tmp_path):
    out = tmp_path / "x.csv"
    run = _cli("export", "X1", "--arm", "both", "--out", str(out), "--warehouse", str(tiny))
    assert run.exit_code == 1
    assert '--arm: "both" is not control or treatment [bad_arm].' in run.stderr
    run = _cli("export", "X1", "--arm", "control", "--out", str(tmp_path / "x.xlsx"),
               "--warehouse", str(tiny))  # fmt: skip
    assert run.exit_code == 2 and "--out:" in run.stderr
    run = _cli("export", "NOPE", "--arm", "control", "--out", str(out), "--warehouse", str(tiny))
    assert run.exit_code == 1 and "[unknown_experiment]" in run.stderr
    assert not out.exists() and _exports(tiny).height == 0


@pytest.fixture
def tried(tiny):
    """T1: the scenario "Retention first" (retention x3, else the catalog's x1) tried on half
    the tiny field from 2026-01-01, started by a strategist over every market."""
    with company(tiny) as c:
        field = load_field(c, CFG)
        weights = Weights.of(Weights.baseline(field.catalog).as_dict() | {"retention": 3.0})
        sc = scenarios.save("Retention first", weights, GUARDED, user=STRATEGIST, field=field,
                            path=scenarios.scenarios_path(tiny))  # fmt: skip
        store.create("T1", "Retention first, tried", "", scenario_id=sc.id, share=0.5,
                     primary="customer_retention_90d", guardrails=("active_rate",),
                     start=dt.date(2026, 1, 1), planned_end=dt.date(2026, 3, 31), user=STRATEGIST,
                     cfg=CFG, path=store.experiments_path(tiny),
                     audit_path=audit.audit_path(tiny))  # fmt: skip
        store.start(c, "T1", user=STRATEGIST, path=store.experiments_path(tiny),
                    audit_path=audit.audit_path(tiny))  # fmt: skip
    return tiny, sc


def _progress(field, ranking) -> np.ndarray:
    """Expected progress per priority, written out: per seller and slot, the slot's
    follow-through x the action's impact x the seller's need, summed."""
    ft = np.asarray(field.catalog.follow_through, float)
    total = np.zeros(field.need_t.shape[0])
    for i in range(field.size):
        for slot, a in enumerate(ranking.action[i]):
            if a >= 0:
                total += ft[slot] * field.impact[a].astype(float) * field.need_t[:, i]
    return total


def test_cli_report_gives_the_models_prediction_on_the_treatment_arm_beside_the_measured(
    tried,
):
    path, sc = tried
    with sqlite3.connect(store.experiments_path(path)) as lite:
        treated = {
            s for (s,) in lite.execute(
                "SELECT seller_id FROM assignments WHERE experiment_id = 'T1' AND arm = 'treatment'"
            )
        }  # fmt: skip
    # As `assign` draws them (a hash of T1 and each seller, so always these): of the 9 sellers
    # in the field on 2026-01-01, S02, S03, S09 and S12; S12 left on 2026-01-31.
    assert treated == {"S02", "S03", "S09", "S12"}
    run = _cli("report", "T1", "--json", "--warehouse", str(path))
    assert run.exit_code == 0, run.output
    rows = {r["kpi"]: r for r in json.loads(run.stdout)}
    # By hand, for S02, S03 and S09 (live, treatment). Each needs retention fully (1); S02
    # needs adoption 0.033, S03 and S09 need it fully (1). Published (every weight 1): S02's
    # reminder scores 0.8 > 0.033, first (follow-through 0.30); S03's and S09's app tour scores
    # 1.0 > 0.8, so the reminder is second (0.15). Retention progress 0.30 x 0.8 + 2 x 0.15 x
    # 0.8 = 0.48. Retention x3: the reminder scores 2.4, first for all three: 3 x 0.30 x 0.8
    # = 0.72. Predicted change 0.72 / 0.48 - 1 = +50%. (Over the whole live field it would be
    # +33%: S01 and S07 put the reminder first either way, S05 second.)
    assert rows["customer_retention_90d"]["predicted"] == pytest.approx(0.5)
    assert rows["active_rate"]["predicted"] is None  # no priority is shown by the active rate
    # The same, recomputed apart from `compare`'s kernel: the treatment arm's live sellers
    # ranked under the published weights and the scenario's, their progress summed.
    with company(path) as c:
        field = load_field(c, CFG)
    arm = field.subset(field.seller_id.is_in(sorted(treated)).to_numpy())
    assert sorted(arm.seller_id.to_list()) == ["S02", "S03", "S09"]
    published = scenarios.published(field.catalog, path=scenarios.scenarios_path(path))
    before = _progress(arm, rank(arm, published.weights, published.guardrails))
    after = _progress(arm, rank(arm, sc.weights, sc.guardrails))
    assert before[0] == pytest.approx(0.48, abs=1e-6) and after[0] == pytest.approx(0.72, abs=1e-6)
    effect = compare.compare(
        arm,
        rank(arm, sc.weights, sc.guardrails),
        baseline=rank(arm, published.weights, published.guardrails),
    ).effect
    assert effect.row(0, named=True)["change"] == pytest.approx(after[0] / before[0] - 1)
    assert rows["customer_retention_90d"]["predicted"] == pytest.approx(after[0] / before[0] - 1)
    text = _cli("report", "T1", "--warehouse", str(path))
    assert text.exit_code == 0, text.output
    assert "model predicted +50.0% relative" in text.stdout


def test_an_experiment_without_a_scenario_has_no_prediction(tiny):
    run = _cli("report", "X1", "--json", "--warehouse", str(tiny))
    assert run.exit_code == 0, run.output
    assert [r["predicted"] for r in json.loads(run.stdout)] == [None]
