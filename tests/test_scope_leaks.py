"""A user scoped to some markets reads no count from outside them and no path of the server's
(issue 15), in the library and on the pages."""

from __future__ import annotations

import shutil

import pytest
from streamlit.testing.v1 import AppTest

from cxm.access import Scope
from cxm.config import load_config
from cxm.metrics import cohorts
from cxm.pipeline import import_dir, open_scoped
from cxm.segments import Period, SegmentFilter
from cxm.ui import fmt
from cxm.warehouse import store
from tests.conftest import TINY, TINY_TODAY

APP = "../app.py"
#: Each page, and each view of the KPIs page (only the view shown is computed).
PAGES = (
    ("app_pages/overview.py", {}),
    ("app_pages/experience_gap.py", {}),
    *(("app_pages/kpis.py", {"view": view}) for view in ("segments", "cohorts", "value")),
)


@pytest.fixture(scope="module")
def crossing_warehouse(tmp_path_factory):
    """The tiny company with one change: S10 (Canada, live) is enrolled by S05 (Brazil, a
    Manager who lapsed) instead of S09. S05's live downline: S07, S08, S11 in Brazil (S06 left
    in October) and now S10 in Canada."""
    folder = tmp_path_factory.mktemp("crossing")
    shutil.copytree(TINY, folder / "data")
    sellers = folder / "data" / "sellers.csv"
    sellers.write_text(sellers.read_text().replace("S10,S09,", "S10,S05,"))
    path = folder / "cxm.duckdb"
    import_dir(folder / "data", path=path, today=TINY_TODAY)
    return path


def _lapsed_team(path, scope: Scope) -> dict[str, int]:
    with open_scoped(scope, path=path) as mine:
        lapsed = cohorts.downline_at_risk(
            mine, where=SegmentFilter(period=Period.parse("2026-03")), cfg=load_config()
        ).lapsed
    return dict(lapsed.select("seller_id", "live_team").iter_rows())


def test_a_leaders_downline_counts_only_the_sellers_inside_the_scope(crossing_warehouse):
    assert _lapsed_team(crossing_warehouse, Scope.everywhere())["S05"] == 4
    assert _lapsed_team(crossing_warehouse, Scope(markets=("BR", "MX"))) == {"S05": 3}


@pytest.fixture
def env(monkeypatch, tmp_path, crossing_warehouse, demo_credentials):
    path = tmp_path / "cxm.duckdb"
    shutil.copyfile(crossing_warehouse, path)
    monkeypatch.setenv("CXM_WAREHOUSE", str(path))
    monkeypatch.setenv("CXM_CREDENTIALS", str(demo_credentials))
    monkeypatch.setenv("CXM_DEMO", "1")
    monkeypatch.delenv("CXM_COOKIE_KEY", raising=False)
    with store.open_readonly(path) as con:
        return store.last_load(con)


def _texts(at: AppTest) -> list[str]:
    kinds = ("title", "header", "subheader", "caption", "markdown", "info", "warning", "error")
    out = [e.value for kind in kinds for e in getattr(at, kind)]
    out += [f"{m.label} {m.value}" for m in at.metric]
    out += [d.value.to_csv() if hasattr(d.value, "to_csv") else str(d.value) for d in at.dataframe]
    return out


def _as(username: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = username
    return at.run()


def test_the_analyst_reads_the_loads_kind_and_day_and_never_the_servers_path(env):
    load = env  # the import of a folder on this machine: its source is that folder's path
    assert "crossing" in str(load["source"])
    at = _as("analyst")
    seen = []
    for page, params in PAGES:
        at.switch_page(page)
        for k, v in params.items():
            at.query_params[k] = v
        at.run()
        assert not at.exception
        seen += _texts(at)
        assert f"· last import {fmt.date(load['loaded_at'])} ·" in at.caption[0].value
    assert not [t for t in seen if "crossing" in t or "tiny_company" in t]


def test_the_analyst_reads_the_downline_inside_brazil_and_mexico_only(env):
    def lapsed_table(username: str):
        at = _as(username)
        at.switch_page("app_pages/kpis.py")
        at.query_params["view"] = "cohorts"
        at.run()
        assert not at.exception
        table = next(d.value for d in at.dataframe if "Live sellers below" in d.value.columns)
        return dict(zip(table["Leader"], table["Live sellers below"], strict=True))

    assert lapsed_table("admin")["S05"] == 4
    assert lapsed_table("analyst") == {"S05": 3}
