"""The app in Streamlit's AppTest: the login gate, and pages that show the library's numbers."""

from __future__ import annotations

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from cxm import metrics
from cxm.config import load_config
from cxm.segments import Period, SegmentFilter
from cxm.warehouse import store
from cxm.warehouse.scoped import Scoped
from tests.conftest import data_elements

APP = "../app.py"


@pytest.fixture
def env(app_env):
    return app_env


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
    # Nothing of the company: the one metric and table are `shell.prefetch`'s placeholders,
    # drawn hidden so the browser loads their code while the user types.
    assert _metrics(at) == {"prefetch": "0"}
    assert [d.value.to_dict("list") for d in at.dataframe] == [{"prefetch": [0]}]
    assert any(".st-key-cxm-prefetch {display: none}" in h.proto.body for h in at.html)
    assert [t.value for t in at.title] == []


def test_a_wrong_password_is_refused_with_a_message(env):
    at = _login("analyst", "not-the-password")
    assert [e.value for e in at.error] == ["Username or password is incorrect."]
    assert not data_elements(at.metric)


def _signed_in(username: str, page: str = APP, **params: str) -> AppTest:
    """Return an app run as ``username`` (the session the login leaves), with URL params."""
    at = AppTest.from_file(page, default_timeout=60)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = username
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


# The tiny company's data runs to 2026-03-02 (S01's login); the default period is 2026-03.
# Live on 2026-03-02: all 12 sellers but S06 (left 2025-10-15) and S12 (left 2026-01-31) = 10,
# of them in Brazil S05, S07, S08, S11 = 4 (no sellers in Mexico). Active in the 30 days to
# 2026-03-02: only S07, who enrolled S11 on 2026-02-20; no order or autoship since January.


def test_an_analyst_scoped_to_brazil_and_mexico_sees_only_their_markets(env):
    at = _login("analyst", "analyst-demo-2026")
    assert not at.exception
    tiles = _metrics(at)
    assert tiles["Live sellers"] == "4"
    assert tiles["Active rate"] == "25.0%"  # 1 of 4
    # In the configured order (US, CA, MX, BR, DE, JP), cut to the scope.
    assert at.multiselect(key="f_markets").options == ["Mexico (MX)", "Brazil (BR)"]


def test_an_admin_sees_every_market_and_the_data_page(env):
    at = _login("admin", "admin-demo-2026")
    assert _metrics(at)["Live sellers"] == "10"
    assert _metrics(at)["Active rate"] == "10.0%"  # 1 of 10
    at.switch_page("app_pages/data.py").run()
    assert not at.exception
    counts = dict(zip(at.dataframe[0].value["table"], at.dataframe[0].value["rows"], strict=True))
    assert counts["orders"] == 15 and counts["sellers"] == 12


@pytest.mark.parametrize("username", ["exec", "strategist", "analyst", "admin"])
@pytest.mark.parametrize(
    ("page", "heading"),
    [
        ("app_pages/overview.py", "Overview"),
        ("app_pages/experience_gap.py", "Experience gap"),
        ("app_pages/kpis.py", "KPIs by segment"),
    ],
)
def test_every_analytics_page_draws_for_every_role(env, username, page, heading):
    at = _signed_in(username)
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == [heading]
    assert not at.error


def test_a_shared_link_opens_the_same_segment_for_another_user(env):
    at = _signed_in("admin", markets="BR", period="2026-03")
    assert not at.warning or all("days old" in w.value for w in at.warning)
    assert _metrics(at)["Live sellers"] == "4"
    assert at.query_params["markets"] == "BR"


def test_junk_and_forbidden_link_parameters_are_named_and_fall_back(env):
    at = _signed_in("analyst", markets="US,UK,BR", period="1999-13", colour="red")
    warnings = " ".join(w.value for w in at.warning)
    assert 'Link parameter markets: "US" is outside your markets' in warnings
    assert 'Link parameter markets: "UK" is not a configured market' in warnings
    assert r'Link parameter period: "1999\-13" is not a period with data' in warnings
    assert 'Link parameter colour: "red" is not a parameter cxm uses' in warnings
    assert _metrics(at)["Live sellers"] == "4"  # BR kept; US and UK left out
    assert "colour" not in at.query_params


def test_the_data_page_refuses_a_non_admin_even_when_its_script_is_run_directly(env):
    from streamlit import config

    # The app redacts error details (showErrorDetails = "none"); show them here so the test
    # can tell the role check from any other failure.
    before = config.get_option("client.showErrorDetails")
    config.set_option("client.showErrorDetails", "full")
    try:
        at = _signed_in("exec", page="../app_pages/data.py")
    finally:
        config.set_option("client.showErrorDetails", before)
    assert len(at.exception) == 1
    assert at.exception[0].message == (
        "Erin Executive (executive) may not do this; it needs the role admin."
    )
    assert not data_elements(at.dataframe) and not at.title


def test_a_user_removed_from_the_credentials_file_gets_the_login_form_on_the_next_run(
    env, tmp_path
):
    # Issue 15: the session still says "signed in", the file no longer knows the user.
    at = _signed_in("exec")
    assert _metrics(at)["Live sellers"] == "10"
    path = tmp_path / "credentials.yaml"
    raw = yaml.safe_load(path.read_text())
    del raw["credentials"]["usernames"]["exec"]
    path.write_text(yaml.safe_dump(raw))
    at.run()
    assert not at.exception
    assert len(at.text_input) == 2  # the login form, not a blank page
    assert "your user was removed or disabled on this server" in at.info[0].value
    assert not data_elements(at.metric) and not at.title
    assert at.session_state["authentication_status"] is None


@pytest.mark.parametrize(
    ("key", "code"),
    [
        ("", r"\[missing\_cookie\_key\]"),
        ("k" * 32, r"\[weak\_cookie\_key\]"),  # long enough, but one character 32 times
        ("0123456789" * 3, r"\[weak\_cookie\_key\]"),  # 30 bytes
    ],
)
def test_outside_demo_mode_the_app_refuses_to_start_without_a_strong_cookie_key(
    env, monkeypatch, key, code
):
    monkeypatch.setenv("CXM_DEMO", "")
    monkeypatch.setenv("CXM_COOKIE_KEY", key)
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    # One message (shown as text: its punctuation escaped), and no login form and no page.
    assert len(at.error) == 1
    assert at.error[0].value.startswith(r"cxm will not start\: CXM\_COOKIE\_KEY")
    assert code in at.error[0].value
    assert "secrets.token_urlsafe(48)" in at.error[0].value.replace("\\", "")
    assert not at.text_input and not at.title and not data_elements(at.metric)


def test_a_missing_warehouse_says_how_to_build_one(env, monkeypatch, tmp_path):
    monkeypatch.setenv("CXM_WAREHOUSE", str(tmp_path / "nowhere.duckdb"))
    at = _login("exec", "exec-demo-2026")
    assert not at.exception
    assert r"Build the demo company with \`cxm demo\`" in at.error[0].value
    assert not data_elements(at.metric)


def test_the_app_shows_a_rebuilt_warehouse_without_a_restart(env, tiny_warehouse):
    from cxm.pipeline import build_demo
    from cxm.warehouse.demo import DemoSpec

    at = _login("admin", "admin-demo-2026")
    assert _metrics(at)["Live sellers"] == "10"
    build_demo(DemoSpec(sellers=250, seed=3), tiny_warehouse)  # swapped in under the app
    at.run()
    with store.open_readonly(tiny_warehouse) as con:
        live, _ = metrics.one(
            # The page keeps the period the user was looking at (2026-03), now of the new data.
            Scoped.everywhere(con),
            "live_sellers",
            where=SegmentFilter(period=Period.parse("2026-03")),
            cfg=load_config(),
        )
    assert 50 < live < 250  # the new company's live field, not the tiny company's 10
    assert _metrics(at)["Live sellers"] == f"{live:.0f}"


@pytest.mark.parametrize("username", ["exec", "strategist", "analyst", "admin"])
def test_the_segment_reports_page_previews_and_offers_files_to_analysts_and_admins(env, username):
    at = _signed_in(username)
    at.switch_page("app_pages/reports.py")
    at.query_params["kpis"] = "live_sellers"
    at.query_params["dims"] = "market"
    at.run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Segment reports"]
    assert at.main.subheader[0].value == "1 KPI by Market"
    # The tiny company on 2026-03-02: live sellers by market, by hand from sellers.csv: US
    # S01-S04 (S12 left) 4, BR S05 S07 S08 S11 4, CA S09 S10 2; the analyst's scope (BR, MX)
    # leaves only Brazil. All under n 10: marked as such, their value left out, not the rows.
    preview = at.dataframe[0].value
    everyone = {"BR": 4, "CA": 2, "US": 4}
    expected = {"BR": 4} if username == "analyst" else everyone
    assert dict(zip(preview["Market"], preview["n"], strict=True)) == expected
    assert all(b.startswith("under 10") for b in preview["Base"].to_list())
    downloads = at.get("download_button")
    if username in ("exec", "strategist"):
        assert not downloads
        assert "Files of the report's rows are for analysts and admins" in at.info[0].value
    else:
        # The report, and the at-risk customers (none on the tiny company: too few customers
        # to fit a model, so the button is there but disabled).
        assert len(downloads) == 2
        assert downloads[1].proto.disabled


def test_every_role_has_the_segment_reports_page_but_only_analysts_and_admins_get_files(env):
    # Strategists read the reports and take the board pack (with their scenarios), as
    # executives do; the files of rows stay with analysts and admins, checked in the library.
    from cxm.access import Role
    from cxm.reports import EXPORT_ROLES
    from cxm.ui.shell import PAGES

    roles = {script: r for script, _, _, _, r in PAGES}
    assert set(roles["app_pages/reports.py"]) == set(Role)
    assert set(EXPORT_ROLES) == {Role.ANALYST, Role.ADMIN}


def _infos(at: AppTest) -> str:
    return " ".join(i.value for i in at.info).replace("\\", "")


def test_the_kpis_page_says_why_customer_value_is_missing(env):
    # The tiny company has too few customers for a value model: no fit at its load.
    at = _signed_in("admin", page="../app_pages/kpis.py", view="value")
    assert not at.exception
    assert "No customer value model could be fitted at the last load" in _infos(at)
    # An earlier period: the model is for the as-of date only.
    at = _signed_in("admin", page="../app_pages/kpis.py", view="value", period="2026-02")
    assert "modelled for the data's as-of date, 2 Mar 2026, only" in _infos(at)
    assert "No customer value model could be fitted" not in _infos(at)


# A deep link followed by sign-in (issue 19, finding 11). Streamlit sends a widget's value to
# the browser only with the run that set it (`set_value`); otherwise the element carries just
# its default. Right after sign-in the login cookie's components rerun the page while it is
# drawn, and a run cut short loses its messages: a browser that missed the run which set a
# link's value draws the widget at its default, and sends that default back on the next click.
# So every run the browser may receive must carry the value itself.


def _drawn(widget) -> object:
    """Return what a browser that missed every earlier run draws for ``widget`` from this run's
    element alone: the value it is sent, or else the element's default."""
    p = widget.proto
    if hasattr(p, "raw_values"):  # multiselect, segmented control: labels
        labels = [getattr(o, "content", o) for o in p.options]
        return list(p.raw_values) if p.set_value else [labels[i] for i in p.default]
    if isinstance(p.default, bool):  # toggle
        return p.value if p.set_value else p.default
    return list(p.value) if p.set_value else list(p.default)  # slider


def _button_group(at: AppTest, key: str):
    return next(b for b in at.get("button_group") if b.proto.id.endswith(f"-{key}"))


def test_a_links_breakdown_kpis_and_filters_reach_the_browser_on_every_run(env):
    at = _signed_in("admin")
    at.switch_page("app_pages/reports.py")
    for k, v in {"kpis": "live_sellers", "dims": "language", "markets": "US,CA"}.items():
        at.query_params[k] = v
    at.run()  # the run that reads the link
    at.run()  # the cookie's rerun: the browser may not have received the first run
    assert not at.exception, at.exception
    assert _drawn(at.multiselect(key="w_kpis")) == ["Live sellers"]
    assert _drawn(at.multiselect(key="w_dims")) == ["Language"]
    assert _drawn(at.multiselect(key="f_markets")) == ["United States (US)", "Canada (CA)"]
    assert at.main.subheader[0].value == "1 KPI by Language"
    # Live in the US and Canada on 2026-03-02 by language, by hand from sellers.csv (S12
    # left on 2026-01-31): en S01 S03 S10 = 3, es S02 S04 = 2, fr S09 = 1.
    preview = at.dataframe[0].value
    assert dict(zip(preview["Language"], preview["n"], strict=True)) == {"en": 3, "es": 2, "fr": 1}
    assert at.query_params["dims"] == "language"


def test_the_kpis_pages_breakdown_from_a_link_reaches_the_browser_on_every_run(env):
    at = _signed_in("admin", page=APP)
    at.switch_page("app_pages/kpis.py")
    at.query_params["kpis"] = "live_sellers"
    at.query_params["by"] = "language"
    at.run()
    at.run()
    assert not at.exception, at.exception
    assert _drawn(_button_group(at, "w_by")) == ["Language"]
    assert _drawn(at.multiselect(key="w_kpis")) == ["Live sellers"]
    assert at.query_params["by"] == "language"


def test_the_kpis_page_computes_and_draws_only_the_view_shown(env, monkeypatch):
    from cxm.ui import queries

    asked = []
    for name in ("segment_report", "retention_curves", "downline_at_risk", "value_calibration"):
        real = getattr(queries, name)
        monkeypatch.setattr(
            queries, name, lambda *a, _n=name, _f=real, **k: (asked.append(_n), _f(*a, **k))[1]
        )
    at = _signed_in("admin", page=APP)
    at.switch_page("app_pages/kpis.py").run()
    assert not at.exception, at.exception
    assert at.segmented_control(key="w_view").value == "segments"
    assert at.query_params["view"] == "segments"
    assert set(asked) == {"segment_report"}  # the heatmap's grid and the bars
    assert [s.value for s in at.main.subheader][-1] == "Active rate by month"
    assert at.multiselect(key="w_kpis").value == ["active_rate", "avg_order_amount"]

    asked.clear()
    at.segmented_control(key="w_view").set_value("cohorts").run()
    assert not at.exception, at.exception
    assert set(asked) == {"retention_curves", "downline_at_risk"}
    assert at.query_params["view"] == "cohorts"
    assert "Downline at risk" in [s.value for s in at.main.subheader]
    assert not [m for m in at.multiselect if m.key == "w_kpis"]  # no KPI to choose here
    # The tiny company's one lapsed leader on 2026-03-02: S05 (Brazil, Manager), with S07,
    # S08 and S11 live below (S06 left in October).
    lapsed = next(d.value for d in at.dataframe if "Live sellers below" in d.value.columns)
    assert dict(zip(lapsed["Leader"], lapsed["Live sellers below"], strict=True)) == {"S05": 3}

    asked.clear()
    at.segmented_control(key="w_view").set_value("value").run()
    assert set(asked) == {"segment_report", "value_calibration"}
    assert "No customer value model could be fitted at the last load" in _infos(at)
    assert "Downline at risk" not in [s.value for s in at.subheader]


def test_a_link_to_a_view_the_kpis_page_lacks_is_named_and_shows_the_first(env):
    at = _signed_in("admin", page="../app_pages/kpis.py", view="funnel")
    assert not at.exception, at.exception
    assert [w.value for w in at.warning if w.value.startswith("Link")] == [
        'Link parameter view: "funnel" is not one of segments, cohorts, value; showing segments.'
    ]
    assert at.segmented_control(key="w_view").value == "segments"
    assert at.query_params["view"] == "segments"


@pytest.fixture
def whatif_env(app_env, monkeypatch, tmp_path, small_demo_warehouse):
    """The demo users on the 2,000-seller demo company (the action catalog names its courses)."""
    monkeypatch.setenv("CXM_WAREHOUSE", str(small_demo_warehouse))
    monkeypatch.setenv("CXM_SCENARIOS", str(tmp_path / "scenarios.sqlite"))
    monkeypatch.setenv("CXM_AUDIT", str(tmp_path / "audit.sqlite"))


def _what_if_drawn(at: AppTest) -> tuple[dict[str, float], bool, bool]:
    from cxm.whatif.need import PRIORITIES

    weights = {p: _drawn(at.slider(key=f"wi_{p}"))[0] for p in PRIORITIES}
    return weights, _drawn(at.toggle(key="wi_mandatory")), _drawn(at.toggle(key="wi_caps"))


def test_what_if_weights_and_guardrails_from_a_link_reach_the_browser_and_outlast_a_visit_elsewhere(
    whatif_env,
):
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = "strategist"
    at.run()
    at.query_params["w"] = "retention:2,cart_size:0.5"
    at.query_params["guard"] = "caps"
    at.switch_page("app_pages/whatif.py").run()
    at.run()  # the cookie's rerun: the browser may not have received the first run
    assert not at.exception, at.exception
    # The link: retention x2, cart size x0.5, every other priority left out (x0); mandatory
    # actions off, caps on.
    linked = {
        "retention": 2.0,
        "repeat_customers": 0.0,
        "cart_size": 0.5,
        "sales": 0.0,
        "business_building": 0.0,
        "adoption": 0.0,
        "compliance": 0.0,
    }
    assert _what_if_drawn(at) == (linked, False, True)
    assert (at.query_params["w"], at.query_params["guard"]) == ("retention:2,cart_size:0.5", "caps")
    # Away to the Overview (the navigation drops the URL's parameters) and back: the sliders
    # keep what they showed, not zeros with both guardrails off.
    at.switch_page("app_pages/overview.py").run()
    at.switch_page("app_pages/whatif.py").run()
    assert not at.exception, at.exception
    assert _what_if_drawn(at) == (linked, False, True)
    assert (at.query_params["w"], at.query_params["guard"]) == ("retention:2,cart_size:0.5", "caps")
