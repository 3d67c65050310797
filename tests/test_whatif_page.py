"""The What-if page in AppTest: sliders move the numbers, scenarios save, load by URL, compare,
and only strategists and admins may save or publish (issue 12)."""

from __future__ import annotations

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from cxm import access
from cxm.access import NotAllowed
from cxm.config import load_config
from cxm.warehouse import store
from cxm.warehouse.scoped import Scoped
from cxm.whatif import scenarios
from cxm.whatif.compare import compare, load_field, rank
from cxm.whatif.need import PRIORITIES
from cxm.whatif.weights import Weights
from tests.conftest import point_app_at, signed_in_page

APP = "../app.py"
PAGE = "app_pages/whatif.py"


@pytest.fixture
def env(monkeypatch, tmp_path, small_demo_warehouse, demo_credentials):
    point_app_at(monkeypatch, small_demo_warehouse, demo_credentials, tmp_path)
    return tmp_path


def _page(username: str, **params: str) -> AppTest:
    return signed_in_page(APP, PAGE, username, 120, **params)


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _expected_changes(warehouse, weights: dict) -> int:
    with store.open_readonly(warehouse) as con:
        field = load_field(Scoped.everywhere(con), load_config())
    return compare(field, rank(field, Weights.of(weights))).changed


def test_a_slider_moves_the_comparison_to_the_librarys_numbers(env, small_demo_warehouse):
    at = _page("strategist")
    assert [t.value for t in at.title] == ["What-if: KPI priorities"]
    # At the published weights nobody's first action changes.
    assert _metric(at, "First action changes") == "0"
    published = {k: at.slider(key=f"wi_{k}").value for k in ("retention", "sales", "compliance")}
    assert published == {"retention": 1.0, "sales": 1.5, "compliance": 2.0}
    at.slider(key="wi_retention").set_value(3.0).run()
    weights = {p: at.slider(key=f"wi_{p}").value for p in PRIORITIES}
    expected = _expected_changes(small_demo_warehouse, weights)
    assert expected > 0
    assert _metric(at, "First action changes") == f"{expected:,}"
    assert at.query_params["w"].startswith("retention:3,")


def test_issue_21_the_picked_view_reads_the_headlines_comparison_by_the_picked_segment(
    env, small_demo_warehouse
):
    """The headline and the picked view are two fragments reading one comparison: after a
    move, the action mix by language is the library's for the sliders' weights, and picking
    views or segments leaves the headline as it was."""
    at = _page("strategist")
    at.slider(key="wi_retention").set_value(3.0).run()
    weights = {p: at.slider(key=f"wi_{p}").value for p in PRIORITIES}
    with store.open_readonly(small_demo_warehouse) as con:
        field = load_field(Scoped.everywhere(con), load_config())
    lib = compare(field, rank(field, Weights.of(weights)))
    assert lib.changed > 0
    assert _metric(at, "First action changes") == f"{lib.changed:,}"
    at.segmented_control(key="wi_view").set_value("Action mix").run()
    at.segmented_control(key="wi_dim").set_value("language").run()
    assert not at.exception, at.exception
    (mix,) = [d.value for d in at.dataframe if "Action" in d.value.columns]
    assert list(mix.columns) == ["Language", "Action", "Published", "Scenario", "Change"]
    shown = mix.groupby("Language")[["Published", "Scenario"]].sum().to_dict("index")
    want = lib.mix["language"].group_by("segment").agg(pl.col("before", "after").sum())
    assert shown == {
        r["segment"]: {"Published": r["before"], "Scenario": r["after"]}
        for r in want.iter_rows(named=True)
    }
    assert int(mix["Change"].abs().sum()) > 0  # the move shows in the mix, not only the count
    # The small demo has no seller without a useful action at these weights: said so.
    at.segmented_control(key="wi_view").set_value("No useful action").run()
    assert lib.no_action["without"].sum() == 0
    assert [s.value for s in at.success] == [
        "Every seller has at least one useful action in every market and language."
    ]
    assert _metric(at, "First action changes") == f"{lib.changed:,}"


def test_a_saved_scenario_reloads_by_its_link_and_compares_with_another(env):
    at = _page("strategist")
    at.slider(key="wi_retention").set_value(3.0).run()
    at.text_input(key="wi_name").input("Retention push")
    at.button(key="FormSubmitter:wi_save-Save these weights").click().run()
    assert not at.exception, at.exception
    (saved,) = scenarios.list_all()
    assert (saved.name, saved.author, saved.weights.as_dict()["retention"]) == (
        "Retention push",
        "strategist",
        3.0,
    )
    assert at.query_params["scenario"] == str(saved.id)
    # A second scenario, then a fresh session from the first one's link.
    at.slider(key="wi_cart_size").set_value(3.0).run()
    at.text_input(key="wi_name").input("Cart push")
    at.button(key="FormSubmitter:wi_save-Save these weights").click().run()
    linked = _page("strategist", scenario=str(saved.id))
    assert linked.slider(key="wi_retention").value == 3.0
    assert linked.slider(key="wi_cart_size").value == 1.0
    linked.selectbox(key="wi_pick").set_value(saved.id).run()
    other = next(s.id for s in scenarios.list_all() if s.name == "Cart push")
    linked.selectbox(key="wi_other").set_value(other).run()
    assert not linked.exception, linked.exception
    assert any("**Cart push** against **Retention push**" in m.value for m in linked.markdown)


def test_a_bad_link_is_named_and_the_published_weights_shown(env):
    at = _page("strategist", w="retention:9,cart_size:1")
    # Shown as text: the Markdown escapes are the page's, not the message's.
    said = [w.value.replace("\\", "") for w in at.warning]
    assert said == [
        'link parameter w.retention: "9" is outside 0 to 3. [weight_out_of_range] '
        "The published weights are shown instead."
    ]
    assert at.slider(key="wi_retention").value == 1.0
    at = _page("strategist", scenario="42; DROP TABLE")
    assert any("is not a scenario id" in w.value.replace("\\", "") for w in at.warning)


def test_analysts_preview_but_cannot_save_or_publish_even_through_the_library(env):
    at = _page("strategist")
    at.text_input(key="wi_name").input("Q1")
    at.button(key="FormSubmitter:wi_save-Save these weights").click().run()
    (saved,) = scenarios.list_all()
    analyst = _page("analyst")
    assert not analyst.slider(key="wi_retention").disabled
    assert not [t for t in analyst.text_input if t.key == "wi_name"]
    assert not [b for b in analyst.button if b.key == "wi_publish"]
    # The page hides the button; the library refuses anyway (a script run some other way).
    users = access.load_users()
    with pytest.raises(NotAllowed):
        scenarios.publish(saved.id, user=users["analyst"])
    with pytest.raises(NotAllowed):
        scenarios.publish(saved.id, user=users["exec"])
    executive = _page("exec")
    assert executive.slider(key="wi_retention").disabled
    strategist = _page("strategist")
    strategist.button(key="wi_publish").click().run()
    strategist.button(key="wi_publish_confirm").click().run()
    assert scenarios.get(saved.id).published_by == "strategist"


def test_the_inverse_question_and_the_trade_off_answer_from_the_page(env, small_demo_warehouse):
    from cxm.whatif.inverse import tradeoff, weight_for_share

    at = _page("strategist")
    at.selectbox(key="wi_inv_action").set_value("reorder_reminder")
    at.selectbox(key="wi_inv_priority").set_value("retention")
    at.slider(key="wi_inv_share").set_value(0.2)
    at.button(key="FormSubmitter:wi_inverse-Find the weight").click().run()
    assert not at.exception, at.exception
    with store.open_readonly(small_demo_warehouse) as con:
        field = load_field(Scoped.everywhere(con), load_config())
    published = Weights.baseline(field.catalog)
    answer = weight_for_share(
        field, published, priority="retention", action="reorder_reminder", share=0.2
    )
    said = [m.value.replace("\\", "") for m in at.markdown]
    assert answer.describe() in said
    at.selectbox(key="wi_trade_moving").set_value("cart_size")
    at.button(key="FormSubmitter:wi_tradeoff-Draw the trade-off").click().run()
    assert not at.exception, at.exception
    curve = tradeoff(field, published, moving="cart_size", first="retention", second="cart_size")
    chart = [c for c in at.get("plotly_chart") if "wi_tradeoff_curve" in str(c.proto.id)]
    assert chart and curve.height == 13


def _said(at: AppTest) -> list[str]:
    return [m.value.replace("\\", "") for m in at.markdown]


def test_issue_19_publishing_asks_to_confirm_shows_the_field_change_then_every_session_sees_it(
    env, small_demo_warehouse
):
    at = _page("strategist")
    # Before any publication the page says the catalog's weights are published.
    assert any("**Published:** the catalog's weights" in m for m in _said(at))
    at.slider(key="wi_retention").set_value(3.0).run()
    at.text_input(key="wi_name").input("Retention push")
    at.button(key="FormSubmitter:wi_save-Save these weights").click().run()
    (saved,) = scenarios.list_all()
    at.button(key="wi_publish").click().run()
    assert not at.exception, at.exception
    # One click asks; nothing is published yet, and the box says what changes for the field.
    assert scenarios.get(saved.id).published_by is None
    expected = _expected_changes(small_demo_warehouse, saved.weights.as_dict())
    with store.open_readonly(small_demo_warehouse) as con:
        size = load_field(Scoped.everywhere(con), load_config()).size
    asked = next(m for m in _said(at) if m.startswith("**Publish Retention push?**"))
    assert f"({size:,} live sellers in all markets)" in asked
    assert f"({expected:,}) get a different first action" in asked and "Gains:" in asked
    at.button(key="wi_publish_cancel").click().run()
    assert scenarios.get(saved.id).published_by is None
    assert not [b for b in at.button if b.key == "wi_publish_confirm"]
    at.button(key="wi_publish").click().run()
    at.button(key="wi_publish_confirm").click().run()
    done = scenarios.get(saved.id)
    assert done.published_by == "strategist"
    # A new session, another user: "Published" is that scenario, with who and when, its
    # weights on the sliders and nobody's first action changing against it.
    other = _page("analyst")
    line = (
        f'**Published:** "Retention push" (scenario {saved.id}), published by strategist '
        f"on {done.published_at:%Y-%m-%d %H:%M}: {saved.weights.describe()}"
    )
    assert line in _said(other)
    assert other.slider(key="wi_retention").value == 3.0
    assert _metric(other, "First action changes") == "0"
    # The catalog's weights are now a change, counted against the published scenario.
    other.button(key="wi_preset_baseline").click().run()
    assert other.slider(key="wi_retention").value == 3.0  # "Published" is the scenario


def test_issue_19_a_failed_save_says_why_and_leaves_the_section_drawn(env):
    at = _page("strategist")
    at.text_input(key="wi_name").input("Q1")
    at.button(key="FormSubmitter:wi_save-Save these weights").click().run()
    drawn = {"wi_pick", "wi_load", "wi_publish", "wi_prep_csv", "wi_prep_parquet"}
    keys = {w.key for w in [*at.selectbox, *at.button]}
    assert drawn <= keys
    at.text_input(key="wi_name").input("Q1")  # taken
    at.button(key="FormSubmitter:wi_save-Save these weights").click().run()
    assert not at.exception, at.exception
    assert drawn <= {w.key for w in [*at.selectbox, *at.button]}
    assert at.get("download_button"), "the JSON download is still offered"
    assert [e.value.replace("\\", "") for e in at.error] == [
        'Not saved: A scenario named "Q1" exists already; choose another name. [name_taken]'
    ]


def test_issue_19_the_headline_names_every_gain_and_cost(env, small_demo_warehouse):
    from cxm.whatif import summary

    at = _page("strategist")
    at.button(key="wi_preset_retention_quarter").click().run()
    weights = {p: at.slider(key=f"wi_{p}").value for p in PRIORITIES}
    with store.open_readonly(small_demo_warehouse) as con:
        field = load_field(Scoped.everywhere(con), load_config())
    said = summary.effect(compare(field, rank(field, Weights.of(weights))).effect).describe()
    assert "Costs:" in said and "Gains:" in said
    assert f"**Expected progress against what is published:** {said}" in _said(at)


def test_issue_19_the_expected_effect_chart_is_labelled_with_values_and_changes():
    import polars as pl

    from cxm.ui import whatif_charts

    # Retention 20 -> 42 (+110%), business building 30 -> 12.9 (-57%), compliance 0 -> 3
    # (new: no percentage from 0), adoption 0 -> 0 (none).
    frame = pl.DataFrame(
        {
            "label": ["Customer retention", "Business building", "Compliance", "App adoption"],
            "baseline": [20.0, 30.0, 0.0, 0.0],
            "scenario": [42.0, 12.9, 3.0, 0.0],
            "change": [1.1, -0.57, None, None],
        }
    )
    fig = whatif_charts.effect(frame)
    assert [t.text for t in fig.data] == [
        ("20.0", "30.0", "0.0", "0.0"),
        ("42.0", "12.9", "3.0", "0.0"),
    ]
    assert [a.text for a in fig.layout.annotations] == [
        "<b>+110%</b>", "<b>−57%</b>", "<b>new</b>", "<b>none</b>"
    ]  # fmt: skip
    assert fig.layout.title.text.startswith("Expected progress per 1,000 sellers")


def test_issue_21_every_what_if_chart_is_one_plotlys_own_checks_leave_as_it_is():
    """The What-if charts are laid out without Plotly checking the layout again (that check
    was most of a slider move's Python): checked here instead, on every chart."""
    import plotly.graph_objects as go
    import polars as pl

    from cxm.ui import charts, whatif_charts

    cfg = load_config()
    us, ca = cfg.market_codes[:2]
    mx = cfg.market_codes[2]
    # 25 of 100 sellers change in US, 30 of 60 in CA (50%), none of 40 in MX; the field's 55 of
    # 200 is 27.5%.
    rates = pl.DataFrame(
        {
            "segment": [us, ca, mx],
            "share": [0.25, 0.5, 0.0],
            "changed": [25, 30, 0],
            "sellers": [100, 60, 40],
        }
    )
    mix = pl.DataFrame(
        {"action": ["a", "b", "a"], "before": [5, 3, 2], "after": [1, 7, 2], "segment": "x"}
    )
    trans = pl.DataFrame({"baseline": ["a", "b"], "scenario": ["b", "b"], "sellers": [4, 3]})
    effects = pl.DataFrame(
        {"label": ["Retention"], "baseline": [20.0], "scenario": [42.0], "change": [1.1]}
    )
    curve = pl.DataFrame({"weight": [0.0, 0.5], "share": [0.1, 0.3]})
    labels = {"a": "Action A", "b": "Action B"}
    figures = [
        whatif_charts.changed_by(rates, "market", cfg, 55 / 200),
        whatif_charts.action_mix(mix, labels),
        whatif_charts.transition(trans, labels),
        whatif_charts.effect(effects),
        whatif_charts.curve(curve, "weight", ["share"], ["share first"], ".0%"),
    ]
    for fig in figures:
        made = fig.to_dict()
        assert go.Figure(made).to_dict() == made
        assert made["layout"]["template"]["layout"]["paper_bgcolor"] == "white"  # plotly_white
    bars = figures[0].to_dict()
    assert list(bars["data"][0]["x"]) == [0.25, 0.5, 0.0]
    # Nobody changes in MX: no bar, so its label stands outside it, where it can be read.
    assert list(bars["data"][0]["text"]) == ["25.0%", "50.0%", "0.0%"]
    assert list(bars["data"][0]["textposition"]) == ["auto", "auto", "outside"]
    assert bars["layout"]["annotations"][0]["text"] == "all 27.5%"
    # Action A: 7 before, 3 after; Action B: 3 before, 7 after; both largest 7, A first by name.
    mixed = figures[1].to_dict()
    assert [list(t["x"]) for t in mixed["data"]] == [[7, 3], [3, 7]]
    assert mixed["layout"]["xaxis"]["title"]["text"] == "sellers with it first"
    # The check has teeth: a misspelt layout property does not pass it.
    with pytest.raises(ValueError, match="tickformatt"):
        go.Figure(charts.figure([], xaxis=dict(tickformatt=".0%")).to_dict())
