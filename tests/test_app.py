"""The app in Streamlit's AppTest: the login gate, and pages that show the library's numbers."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from cxm import access

APP = "../app.py"


@pytest.fixture
def env(monkeypatch, tmp_path, tiny_warehouse):
    credentials = access.write_demo_credentials(tmp_path / "credentials.yaml")
    monkeypatch.setenv("CXM_WAREHOUSE", str(tiny_warehouse))
    monkeypatch.setenv("CXM_CREDENTIALS", str(credentials))
    monkeypatch.setenv("CXM_DEMO", "1")
    monkeypatch.delenv("CXM_COOKIE_KEY", raising=False)


def _login(username: str, password: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    at.button(key="FormSubmitter:login-Login").click().run()
    return at.run()


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_a_signed_out_visitor_sees_only_the_login_form(env):
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert len(at.text_input) == 2
    assert not at.metric and not at.dataframe
    assert [t.value for t in at.title] == []


def test_a_wrong_password_is_refused_with_a_message(env):
    at = _login("analyst", "not-the-password")
    assert [e.value for e in at.error] == ["Username or password is incorrect."]
    assert not at.metric


def test_an_analyst_scoped_to_brazil_and_mexico_sees_only_their_markets(env):
    at = _login("analyst", "analyst-demo-2026")
    assert not at.exception
    # Tiny company, BR (no MX sellers): 5 sellers, 3 customers, 4 orders, 55+55+89+120 = $319.
    assert _metrics(at) == {
        "Sellers ever enrolled": "5",
        "Customers": "3",
        "Orders": "4",
        "Revenue": "$319.00",
    }
    table = at.dataframe[0].value
    assert table["market"].to_list() == ["BR"]


def test_an_admin_sees_every_market_and_the_data_page(env):
    at = _login("admin", "admin-demo-2026")
    assert _metrics(at)["Sellers ever enrolled"] == "12"
    at.switch_page("app_pages/data.py").run()
    assert not at.exception
    counts = dict(zip(at.dataframe[0].value["table"], at.dataframe[0].value["rows"], strict=True))
    assert counts["orders"] == 15 and counts["sellers"] == 12


def test_the_data_page_refuses_a_non_admin_even_when_its_script_is_run_directly(env):
    at = AppTest.from_file("../app_pages/data.py", default_timeout=30)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = "exec"
    at.run()
    # The message itself is redacted by showErrorDetails = "none"; require_role's words are
    # checked in test_access. What matters here: the page stopped before drawing anything.
    assert len(at.exception) == 1
    assert not at.dataframe and not at.title


def test_outside_demo_mode_the_app_refuses_to_start_without_a_secret_cookie_key(env, monkeypatch):
    monkeypatch.setenv("CXM_DEMO", "")
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert "CXM_COOKIE_KEY must be a secret of at least 32 bytes (it is unset)" in at.error[0].value
    assert not at.text_input


def test_a_missing_warehouse_says_how_to_build_one(env, monkeypatch, tmp_path):
    monkeypatch.setenv("CXM_WAREHOUSE", str(tmp_path / "nowhere.duckdb"))
    at = _login("exec", "exec-demo-2026")
    assert not at.exception
    assert "Build the demo company with `cxm demo`" in at.error[0].value
    assert not at.metric


def test_the_app_shows_a_rebuilt_warehouse_without_a_restart(env, tiny_warehouse):
    from cxm.pipeline import build_demo
    from cxm.warehouse.demo import DemoSpec

    at = _login("admin", "admin-demo-2026")
    assert _metrics(at)["Sellers ever enrolled"] == "12"
    build_demo(DemoSpec(sellers=250, seed=3), tiny_warehouse)  # swapped in under the app
    at.run()
    assert _metrics(at)["Sellers ever enrolled"] == "250"
