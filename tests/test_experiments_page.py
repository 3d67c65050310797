"""The Experiments page in AppTest: the readout shows the library's decision and numbers on the
user's own markets, the MDE follows the share slider, and only strategists and admins design
(issue 23)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cxm import access
from cxm.access import NotAllowed
from cxm.config import load_config
from cxm.experiments import readout, stats, store
from tests.conftest import company, point_app_at, signed_in_page

APP = "../app.py"
PAGE = "app_pages/experiments.py"


@pytest.fixture
def env(monkeypatch, tmp_path, small_demo_warehouse, demo_credentials):
    # a copy of the demo warehouse and its experiments file: the page may write to them
    warehouse = tmp_path / "demo.duckdb"
    shutil.copyfile(small_demo_warehouse, warehouse)
    shutil.copyfile(store.experiments_path(small_demo_warehouse), store.experiments_path(warehouse))
    point_app_at(monkeypatch, warehouse, demo_credentials, tmp_path)
    return warehouse


def _page(username: str, **params: str) -> AppTest:
    return signed_in_page(APP, PAGE, username, 180, **params)


def _read(warehouse, experiment_id: str, *markets: str) -> readout.Readout:
    with company(warehouse, *markets) as c:
        return readout.read(c, store.get(experiment_id), cfg=load_config())


def _forest_rows(at: AppTest) -> list[str]:
    (chart,) = [c for c in at.get("plotly_chart") if "exp_forest" in str(c.proto.id)]
    spec = json.loads(chart.proto.spec)
    return spec["data"][-1]["y"]  # the diamonds: one per effect shown


def test_the_finished_experiment_reads_with_the_librarys_decision_and_kpis(env):
    at = _page("strategist", experiment="EXP-REMIND")
    assert [t.value for t in at.title] == ["Experiments"]
    expected = _read(env, "EXP-REMIND")
    assert expected.status == "finished"
    assert [s.value.replace("\\", "") for s in at.subheader][0] == expected.decision
    from cxm.ui.experiment_charts import shown

    assert _forest_rows(at) == [shown(e.kpi).label for e in expected.overall()]
    # p as people read it: the primary KPI's p on this small company (81 control, 73
    # treatment sellers) is 0.0086, shown to three decimals "0.009"; a p under 0.0005 reads
    # "< 0.001" (fmt.p_value), never "0.000"
    (table,) = [d.value for d in at.dataframe if "p" in d.value.columns]
    assert round(expected.overall()[0].p_value, 4) == 0.0086
    assert table["p"].iloc[0] == "0.009"
    assert "0.000" not in set(table["p"]) | set(table["q (FDR)"])
    # the segments join the plot when asked: every effect read, overall first
    at.toggle(key="exp_segments").set_value(True).run()
    assert len(_forest_rows(at)) == len(expected.effects) > len(expected.overall())


def test_the_running_experiment_says_so_and_is_judged_on_its_always_valid_interval(env):
    at = _page("strategist", experiment="EXP-COACH")
    expected = _read(env, "EXP-COACH")
    assert expected.status == "running"
    captions = " ".join(c.value for c in at.caption)
    assert "Running" in captions and "always-valid" in captions
    assert [s.value.replace("\\", "") for s in at.subheader][0] == expected.decision


def test_a_scoped_analyst_reads_the_experiment_on_their_markets_alone(env):
    at = _page("analyst", experiment="EXP-REMIND")  # scoped to BR and MX
    mine = _read(env, "EXP-REMIND", "BR", "MX")
    everyone = _read(env, "EXP-REMIND")
    n_mine, n_all = (r.srm.n_control + r.srm.n_treatment for r in (mine, everyone))
    assert 0 < n_mine < n_all
    captions = " ".join(c.value for c in at.caption)
    assert f"{mine.srm.n_control:,} control and {mine.srm.n_treatment:,} treatment" in captions
    # analysts read; they do not design
    assert not [s for s in at.slider if s.key == "exp_share"]
    assert not [b for b in at.button if b.key == "exp_create"]


def test_the_mde_follows_the_share_slider_with_the_librarys_number(env):
    at = _page("strategist")
    primary = at.selectbox(key="exp_primary").value
    months = at.slider(key="exp_months").value
    with company(env) as c:
        d = readout.design(c, primary, months=months, share=0.5, cfg=load_config())
    from cxm.ui.experiment_charts import lift_text, shown

    def said() -> str:
        return next(s.value for s in at.subheader if s.value.startswith("Smallest effect"))

    unit = shown(primary).unit
    half = stats.mde(d.sd, d.n_units, 0.5, cuped_r2=d.cuped_r2)
    assert said() == f"Smallest effect this test could see: {lift_text(unit, half).lstrip('+')}"
    at.slider(key="exp_share").set_value(0.1).run()
    tenth = stats.mde(d.sd, d.n_units, 0.1, cuped_r2=d.cuped_r2)
    # 10% in treatment: sqrt(1/0.1 + 1/0.9) / sqrt(1/0.5 + 1/0.5) = 1.667 times the MDE
    assert tenth / half == pytest.approx(np.sqrt(1 / 0.1 + 1 / 0.9) / 2, rel=1e-9)
    assert said() == f"Smallest effect this test could see: {lift_text(unit, tenth).lstrip('+')}"


def test_a_strategist_saves_an_experiment_and_an_analyst_cannot_even_through_the_library(env):
    at = _page("strategist")
    at.text_input(key="exp_name").input("Welcome calls")
    at.text_input(key="exp_id").input("EXP-WELCOME")
    at.text_area(key="exp_hypothesis").input("A welcome call keeps new sellers active.")
    at.button(key="exp_create").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    saved = store.get("EXP-WELCOME")
    assert (saved.name, saved.author, saved.share) == ("Welcome calls", "strategist", 0.5)
    users = access.load_users()
    with pytest.raises(NotAllowed):
        store.start(None, "EXP-WELCOME", user=users["analyst"])


def test_an_experiment_with_a_scenario_shows_the_models_prediction_beside_the_measured_lift(env):
    import sqlite3

    from cxm.warehouse import store as warehouse_store
    from cxm.whatif import scenarios
    from cxm.whatif.compare import Guardrails, load_field
    from cxm.whatif.need import PRIORITIES
    from cxm.whatif.weights import Weights

    users = access.load_users()
    with warehouse_store.open_readonly(env) as con:
        from cxm.warehouse.scoped import Scoped

        field = load_field(Scoped.everywhere(con), load_config())
        weights = Weights.of({p: 1.0 for p in PRIORITIES} | {"retention": 3.0})
        tried = scenarios.save(
            "Retention push", weights, Guardrails(), user=users["strategist"], field=field
        )
    # the demo's finished experiment, as if it had tried this scenario
    with sqlite3.connect(store.experiments_path(env)) as db:
        db.execute("UPDATE experiments SET scenario_id = ? WHERE id = 'EXP-REMIND'", [tried.id])
    at = _page("strategist", experiment="EXP-REMIND")
    with company(env) as c:
        e = store.get("EXP-REMIND")
        field = load_field(c, load_config())
        published = scenarios.published(field.catalog)
        effect = readout.predict(
            field,
            store.assignments(c, e),
            control=(published.weights, published.guardrails),
            treatment=(tried.weights, tried.guardrails),
        )
        expected = readout.with_prediction(readout.read(c, e, cfg=load_config()), effect)
    from cxm.ui.experiment_charts import prediction_table

    table = [d for d in at.dataframe if "Model predicted" in d.value.columns]
    assert table, "no prediction table"
    assert table[0].value.to_dict("list") == prediction_table(
        expected.predicted
    ).to_pandas().to_dict("list")
    assert expected.predicted.height > 0
