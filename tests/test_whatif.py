"""The what-if engine end to end: state -> need -> ranking -> comparison -> scenarios (issue 12)."""

from __future__ import annotations

import io

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxm.access import NotAllowed, OutOfScope, Role, Scope, User
from cxm.config import load_config
from cxm.reports import recommendations as files
from cxm.state.seller_state import FIELDS
from cxm.warehouse import audit
from cxm.whatif import scenarios, summary
from cxm.whatif.catalog import parse_catalog
from cxm.whatif.compare import Field, Guardrails, compare, load_field, rank, reasons
from cxm.whatif.need import PRIORITIES
from cxm.whatif.rules import Vocabulary
from cxm.whatif.weights import BadWeight, Weights
from tests.conftest import company

VOCAB = Vocabulary.of(load_config(), ["K1", "K2", "K3"])
ONES = dict.fromkeys(PRIORITIES, 1.0)


def _catalog():
    def action(id_, impact, eligible=None, **more):
        raw = {"id": id_, "label": id_.replace("_", " ").capitalize(), "description": id_,
               "impact": impact, **more}  # fmt: skip
        return raw | ({"eligible": eligible} if eligible else {})

    return parse_catalog(
        {
            "version": "test.1",
            "baseline": ONES,
            "follow_through": [0.30, 0.15, 0.08],
            "actions": [
                action(
                    "reorder_reminder",
                    {"retention": 0.8, "repeat_customers": 0.3},
                    {"field": "lapsed_customers", "at_least": 1},
                ),
                action(
                    "bundle_upsell",
                    {"cart_size": 0.9, "sales": 0.2},
                    {"field": "orders_90d", "at_least": 1},
                ),
                action("prospect_follow_up", {"business_building": 0.7, "sales": 0.1}),
                action(
                    "weekly_sales_sprint",
                    {"sales": 0.9},
                    {"field": "weekly_sales_goal", "above": 0},
                ),
                action("app_tour", {"adoption": 0.8}, {"field": "days_since_app", "above": 14}),
            ],
        },
        vocab=VOCAB,
    )


def _seller(seller_id: str, **values) -> dict:
    """A live seller with nothing to gain anywhere, then ``values``."""
    row = {f.name: 0 for f in FIELDS if f.kind in ("int", "float")}
    row |= {"seller_id": seller_id, "rank": "Consultant", "rank_index": 1, "market": "US",
            "language": "en", "status": "active", "courses_done": ["K1", "K2"],
            "weekly_sales_progress": 1.0, "enrollment_progress": 1.0, "cart_vs_market": 1.5,
            "rank_progress": 1.0}  # fmt: skip
    return row | values


# Maria: a $250 weekly sales goal at 75% ($187.50 in 7 days), 3 enrolments a month at 66%
# (2 of 3); 6 active customers, 2 lapsed, 1 at risk; half her customers repeat; her average
# order is 80% of her market's; she used the app 3 days ago; no compliance course missing.
MARIA = _seller(
    "MARIA",
    weekly_sales_goal=250.0, sales_7d=187.5, weekly_sales_progress=0.75,
    monthly_enrollment_goal=3, enrollments_30d=2, enrollment_progress=2 / 3,
    customers=8, active_customers=6, lapsed_customers=2, customers_at_risk=1,
    repeat_customer_share=0.5, orders_90d=9, revenue_90d=720.0, cart_vs_market=0.8,
    days_since_app=3,
)  # fmt: skip


def _field(*rows) -> Field:
    return Field.of(pl.DataFrame(list(rows)), _catalog(), scope=Scope.everywhere())


def _list(field: Field, weights: dict, row: int = 0) -> list[tuple[str, str]]:
    ranking = rank(field, Weights.of(weights))
    out = []
    for a in ranking.action[row]:
        if a >= 0:
            out.append((field.catalog.actions[a].id, reasons(field, ranking.weights, row, a)))
    return out


def test_the_field_platform_example_gets_a_reorder_reminder_and_an_upsell_aid_with_reasons():
    # Her needs: retention (2 lapsed + min(1 at risk, 6 active)) / 8 recent = 0.375; repeat
    # 1 - 0.5 = 0.5; cart 1.5 - 0.8 = 0.7; sales 1 - 0.75 = 0.25; business 1 - 2/3 = 1/3;
    # adoption 3 / 30 = 0.1; compliance 0.
    field = _field(MARIA)
    assert field.need_t[:, 0].tolist() == pytest.approx([0.375, 0.5, 0.7, 0.25, 1 / 3, 0.1, 0])
    # The quarter: retention x2, repeat customers x1, cart size x1, the rest 0.
    # reorder 2 x 0.8 x 0.375 + 0.3 x 0.5 = 0.60 + 0.15 = 0.75; upsell 0.9 x 0.7 = 0.63;
    # prospect follow-up and the sales sprint score 0 (their priorities weigh 0); the app
    # tour is not hers (app used 3 days ago, not over 14).
    quarter = {"retention": 2, "repeat_customers": 1, "cart_size": 1}
    assert _list(field, quarter) == [
        ("reorder_reminder", "Customer retention 0.60 + Repeat customers 0.15"),
        ("bundle_upsell", "Cart size 0.63"),
    ]
    # Cart size x3: upsell 3 x 0.63 = 1.89 leads the reminder's 0.75.
    assert [a for a, _ in _list(field, quarter | {"cart_size": 3})] == [
        "bundle_upsell",
        "reorder_reminder",
    ]
    # ... and business building x2 adds the follow-up: 2 x 0.7 x 1/3 = 0.47.
    moved = _list(field, quarter | {"cart_size": 3, "business_building": 2})
    assert moved == [
        ("bundle_upsell", "Cart size 1.89"),
        ("reorder_reminder", "Customer retention 0.60 + Repeat customers 0.15"),
        ("prospect_follow_up", "Business building 0.47"),
    ]
    # Weekly sales x1 on top: sprint 0.9 x 0.25 = 0.225 stays fourth (follow-up 0.49).
    assert [
        a for a, _ in _list(field, quarter | {"cart_size": 3, "business_building": 2, "sales": 1})
    ] == [  # fmt: skip
        "bundle_upsell",
        "reorder_reminder",
        "prospect_follow_up",
    ]


def test_the_comparison_against_the_published_weights_counts_who_moves():
    # Baseline: every weight 1. Maria: reorder 0.8 x 0.375 + 0.3 x 0.5 = 0.45, upsell
    # 0.63 + 0.05 = 0.68, follow-up 0.233 + 0.025 = 0.258, sprint 0.225 -> first: upsell.
    # Ben: only the app tour (0.8).
    ben = _seller("BEN", market="BR", language="pt-BR", days_since_app=45)
    field = _field(MARIA, ben)
    assert field.baseline().action.tolist() == [[1, 0, 2], [4, -1, -1]]
    # Retention x3: Maria's reminder 0.9 + 0.15 = 1.05 now leads; Ben is unchanged.
    result = compare(field, rank(field, Weights.of(ONES | {"retention": 3})))
    assert (result.changed, result.sellers) == (1, 2)
    by_market = dict(zip(*result.changed_by["market"].select("segment", "share"), strict=True))
    assert by_market == {"BR": 0.0, "US": 1.0}
    assert result.transition.rows() == [
        ("app_tour", "app_tour", 1),
        ("bundle_upsell", "reorder_reminder", 1),
    ]
    # Maria is the one example, her three slots before and after.
    assert result.examples["before"].to_list() == [
        "Bundle upsell", "Reorder reminder", "Prospect follow up"
    ]  # fmt: skip
    assert result.examples["after"].to_list()[:2] == ["Reorder reminder", "Bundle upsell"]
    assert set(result.examples["segment"]) == {"US · en · Consultant"}
    # Nobody is left without an action; two sellers are too few to judge evenness.
    assert result.no_action["without"].sum() == 0
    assert result.spread == {"market": None, "language": None} and result.uneven.is_empty()
    # Against another ranking (two saved scenarios compared): the same counts, by hand
    # reversed, and nothing kept on the cached field for it.
    kept = dict(field._memo)
    other = rank(field, Weights.of(ONES | {"retention": 3}))
    back = compare(field, field.baseline(), baseline=other)
    assert (back.changed, back.transition.rows()[1]) == (
        1,
        ("reorder_reminder", "bundle_upsell", 1),
    )
    assert field._memo.keys() == kept.keys()


def test_weights_out_of_range_or_unknown_are_refused_by_name():
    with pytest.raises(BadWeight) as e:
        Weights.of({"retention": 3.5})
    assert e.value.code == "weight_out_of_range" and e.value.where == "weights.retention"
    with pytest.raises(BadWeight) as e:
        Weights.of({"retentoin": 1})
    assert e.value.code == "unknown_priority" and '"retention"' in str(e.value)
    with pytest.raises(BadWeight) as e:
        Weights.of({"sales": "lots"})
    assert e.value.code == "weight_not_a_number"
    with pytest.raises(BadWeight) as e:
        Weights.parse("retention:2,cart_size", where="link parameter w")
    assert (e.value.code, e.value.value) == ("bad_weights", "cart_size")
    assert Weights.parse("retention:2", where="w").as_dict()["retention"] == 2.0


STRATEGIST = User(username="sam", name="Sam", email="s@x", role=Role.STRATEGIST)
EXECUTIVE = User(username="eve", name="Eve", email="e@x", role=Role.EXECUTIVE)
ANALYST_BR = User(
    username="ana", name="Ana", email="a@x", role=Role.ANALYST, scope=Scope(markets=("BR",))
)


def test_scenarios_are_saved_listed_published_with_an_audit_entry_by_strategists_only(tmp_path):
    path, trail = tmp_path / "s.sqlite", tmp_path / "a.sqlite"
    field = _field(MARIA)
    w = Weights.of(ONES | {"retention": 2})
    saved = scenarios.save("Retention  Q1 ", w, Guardrails(caps=False), user=STRATEGIST,
                           field=field, path=path)  # fmt: skip
    assert (saved.name, saved.author, saved.catalog_version) == ("Retention Q1", "sam", "test.1")
    assert saved.weights == w and saved.guardrails == Guardrails(caps=False)
    assert [s.id for s in scenarios.list_all(path=path)] == [saved.id]
    with pytest.raises(NotAllowed):
        scenarios.save("Mine", w, Guardrails(), user=EXECUTIVE, field=field, path=path)
    with pytest.raises(NotAllowed):
        scenarios.publish(saved.id, user=EXECUTIVE, path=path, audit_path=trail)
    assert not trail.exists()
    for bad, code in (("   ", "empty_name"), ("x" * 81, "name_too_long"),
                      ("Retention Q1", "name_taken")):  # fmt: skip
        with pytest.raises(scenarios.ScenarioError) as e:
            scenarios.save(bad, w, Guardrails(), user=STRATEGIST, field=field, path=path)
        assert e.value.code == code
    published = scenarios.publish(saved.id, user=STRATEGIST, path=path, audit_path=trail)
    assert published.published_by == "sam"
    entry = audit.entries(path=trail).row(0, named=True)
    assert (entry["action"], entry["username"]) == ("publish scenario", "sam")
    assert "Retention Q1" in entry["what"]
    with pytest.raises(scenarios.ScenarioError) as e:
        scenarios.get(999, path=path)
    assert e.value.code == "unknown_scenario"


def test_recommendations_export_only_the_users_markets_and_is_audited(
    tiny_warehouse_template, tmp_path
):
    cat = parse_catalog(
        {"version": "t", "baseline": ONES, "follow_through": [0.3, 0.15, 0.08],
         "actions": [{"id": "app_tour", "label": "App tour", "description": "d",
                      "impact": {"adoption": 1.0}}]},
        vocab=VOCAB,
    )  # fmt: skip
    cfg = load_config()
    with company(tiny_warehouse_template, "BR") as br:
        brazil = load_field(br, cfg, catalog=cat)
    with company(tiny_warehouse_template) as whole:
        everyone = load_field(whole, cfg, catalog=cat)
    # Tiny company in Brazil, live on 2026-03-02: S05, S07, S08, S11 (S06 left).
    assert sorted(brazil.seller_id.to_list()) == ["S05", "S07", "S08", "S11"]
    ranking = rank(brazil, Weights.of(ONES))
    trail, saved_at = tmp_path / "a.sqlite", tmp_path / "s.sqlite"
    data = files.export_recommendations(
        ANALYST_BR, brazil, ranking, "csv", audit_path=trail, scenarios_path=saved_at
    )
    frame = pl.read_csv(io.BytesIO(data), comment_prefix="#")
    assert sorted(frame["seller_id"].to_list()) == ["S05", "S07", "S08", "S11"]
    assert set(frame["market"]) == {"BR"}
    # S07 used the app 5 days before: need 5/30, still its one action, for app adoption.
    s07 = frame.filter(pl.col("seller_id") == "S07").row(0, named=True)
    assert (s07["action_1"], s07["reason_1"]) == ("app_tour", "App adoption")
    assert audit.entries(path=trail)["rows"].to_list() == [4]
    with pytest.raises(OutOfScope):
        files.export_recommendations(ANALYST_BR, everyone, rank(everyone, Weights.of(ONES)),
                                     "csv", audit_path=trail, scenarios_path=saved_at)  # fmt: skip
    with pytest.raises(NotAllowed):
        files.export_recommendations(
            EXECUTIVE, brazil, ranking, "csv", audit_path=trail, scenarios_path=saved_at
        )


def test_the_inverse_question_finds_the_smallest_weight_on_the_grid():
    from cxm.whatif.inverse import InverseError, tradeoff, weight_for_share

    ben = _seller("BEN", market="BR", language="pt-BR", days_since_app=45)
    field = _field(MARIA, ben)
    # Maria's reminder scores 0.8 x 0.375 x w + 0.15 = 0.3w + 0.15 against the upsell's
    # 0.68: first from w > 1.77, so 2.0 on the grid (1.75 gives 0.675).
    answer = weight_for_share(
        field, Weights.of(ONES), priority="retention", action="reorder_reminder", share=1.0,
        keep=field.mask(market=["US"]),
    )  # fmt: skip
    assert (answer.weight, answer.sellers) == (2.0, 1)
    assert answer.curve.filter(pl.col("weight") == 1.75)["share"].item() == 0.0
    # For the whole field Ben never gets it: the most is half, from x2.
    whole = weight_for_share(
        field, Weights.of(ONES), priority="retention", action="reorder_reminder", share=1.0
    )
    assert whole.weight is None and "the most is 50.0%, at x2" in whole.describe()
    with pytest.raises(InverseError) as e:
        weight_for_share(field, Weights.of(ONES), priority="retention", action="nope", share=0.3)
    assert e.value.code == "unknown_action"
    # Trade-off as cart size moves. At x0 Maria's top 3 is reminder (0.45), follow-up, sprint:
    # retention effect 0.30 x 0.8 x 0.375 = 0.09 per Maria = 45 per 1,000 sellers, cart 0.
    # At x3 the upsell (1.94) leads and the reminder is second: retention 0.15 x 0.3 = 0.045
    # -> 22.5; cart size 0.30 x 0.9 x 0.7 = 0.189 -> 94.5.
    curve = tradeoff(field, Weights.of(ONES), moving="cart_size", first="retention",
                     second="cart_size")  # fmt: skip
    ends = curve.filter(pl.col("weight").is_in([0.0, 3.0])).rows()
    assert ends == [
        (0.0, pytest.approx(45.0), pytest.approx(0.0)),
        (3.0, pytest.approx(22.5), pytest.approx(94.5)),
    ]


def test_cxm_whatif_prints_the_comparison_and_writes_the_recommendations(
    small_demo_warehouse, tmp_path, monkeypatch
):
    from typer.testing import CliRunner

    from cxm.cli import app

    monkeypatch.setenv("CXM_AUDIT", str(tmp_path / "audit.sqlite"))
    target = tmp_path / "recs.parquet"
    args = ["whatif", "--warehouse", str(small_demo_warehouse), "--market", "BR"]
    result = CliRunner().invoke(app, [*args, "--preset", "retention_quarter", "--out", str(target)])
    assert result.exit_code == 0, result.output
    with company(small_demo_warehouse, "BR") as br:
        field = load_field(br, load_config())
    expected = compare(field, rank(field, Weights.of(field.catalog.presets["retention_quarter"]
                                                       .weights)))  # fmt: skip
    assert f"{expected.changed:,} of {field.size:,} sellers" in result.output
    written = pl.read_parquet(target)
    assert written.height == field.size and set(written["market"]) == {"BR"}
    assert audit.entries(path=tmp_path / "audit.sqlite")["rows"].to_list() == [field.size]
    bad = CliRunner().invoke(app, [*args[:3], "--market", "UK", "--weights", "retention:2"])
    assert bad.exit_code == 1 and '"UK" is not a configured market' in bad.output
    bad = CliRunner().invoke(app, [*args, "--weights", "retention:7"])
    assert bad.exit_code == 1 and "weight_out_of_range" in bad.output
    assert '--weights.retention: "7"' in bad.output


@settings(max_examples=100, deadline=None)
@given(
    st.fixed_dictionaries(
        {
            "active_customers": st.integers(0, 10_000),
            "lapsed_customers": st.integers(0, 10_000),
            "customers_at_risk": st.integers(0, 10_000),
            "customers": st.integers(0, 20_000),
            "repeat_customer_share": st.floats(0, 1),
            "cart_vs_market": st.floats(0, 50),
            "weekly_sales_progress": st.floats(0, 1e6),
            "enrollment_progress": st.floats(0, 1e3),
            "days_since_app": st.integers(0, 10_000),
            "compliance_missing": st.integers(0, 20),
        }
    )
)
def test_property_every_need_lies_in_0_to_1(values):
    from cxm.whatif.need import needs

    got = needs(pl.DataFrame([_seller("X", **values)]))
    assert got.shape == (1, len(PRIORITIES))
    assert ((got >= 0) & (got <= 1)).all(), dict(zip(PRIORITIES, got[0], strict=True))


def _capped_field(order: str = "stored") -> Field:
    """1,000 identical sellers but for id and market, stored BR, MX, US (or reversed).

    Two actions: a new line (cart size 0.3, weekly sales 0.5) for everyone, capped at 20%
    of first slots, and the app tour (adoption 0.8) everyone may take (app unused 45 days).
    """
    cat = parse_catalog(
        {"version": "cap.1", "baseline": ONES, "follow_through": [0.3, 0.15, 0.08],
         "actions": [
             {"id": "new_line", "label": "New line", "description": "d",
              "impact": {"cart_size": 0.3, "sales": 0.5}, "max_first_share": 0.2},
             {"id": "app_tour", "label": "App tour", "description": "d",
              "impact": {"adoption": 0.8}, "eligible": {"field": "days_since_app", "above": 14}},
         ]},
        vocab=VOCAB,
    )  # fmt: skip
    markets = ["BR"] * 500 + ["MX"] * 300 + ["US"] * 200
    rows = [
        _seller(f"S{i:04d}", market=m, cart_vs_market=1.0, days_since_app=45)
        for i, m in enumerate(markets)
    ]
    if order == "reversed":
        rows.reverse()
    return Field.of(pl.DataFrame(rows), cat, scope=Scope.everywhere())


def test_issue_19_a_binding_cap_shares_tied_slots_across_markets_in_proportion():
    # Weights: cart size x3 only. Every seller's need for cart size is 1.5 - 1.0 = 0.5, so
    # the new line scores 3 x 0.3 x 0.5 = 0.45 for all 1,000: a tie. The app tour scores 0
    # (adoption weighs 0). The cap: floor(0.2 x 1,000) = 200 first slots for 1,000 takers.
    # In proportion: BR 500/1000 x 200 = 100, MX 60, US 40. The stated tolerance, three
    # standard deviations of a fair draw, 3 x sqrt(C p (1-p) (N-C)/(N-1)) with C = 200,
    # N = 1,000: BR 3 x sqrt(200 x 0.25 x 0.8008) = 13.4, MX 3 x sqrt(200 x 0.21 x 0.8008)
    # = 17.4, US 3 x sqrt(200 x 0.16 x 0.8008) = 15.2. (By storage order BR took all 200.)
    weights = Weights.of({"cart_size": 3})
    field = _capped_field()
    ranking = rank(field, weights)
    new_line = field.catalog.ids.index("new_line")
    won = ranking.first == new_line
    assert won.sum() == 200
    markets = np.asarray(field.labels["market"])[field.codes["market"]]
    got = {m: int((won & (markets == m)).sum()) for m in ("BR", "MX", "US")}
    for m, expected, tolerance in (("BR", 100, 13.4), ("MX", 60, 17.4), ("US", 40, 15.2)):
        assert abs(got[m] - expected) <= tolerance, got
    winners = set(field.seller_id.filter(pl.Series(won)))
    # Not the table's order: the same sellers win with the rows stored the other way round,
    # and in another scenario of the catalog (cart size x2: still a tie, at 0.30).
    flipped = _capped_field("reversed")
    again = rank(flipped, weights).first == new_line
    assert set(flipped.seller_id.filter(pl.Series(again))) == winners
    other = rank(field, Weights.of({"cart_size": 2})).first == new_line
    assert set(field.seller_id.filter(pl.Series(other))) == winners


def test_issue_19_a_seller_the_cap_turns_away_gets_their_next_eligible_action_not_nothing():
    # The 800 sellers the new line's cap turns away have one other action, the app tour,
    # which gains nothing under cart size x3 (score 0). It becomes their first action
    # rather than an empty slot; the new line, which gains 0.45, is their second; the
    # third stays empty (nothing else is theirs). The 200 the cap keeps have the new line
    # first and nothing second: the app tour gains nothing, so it is not recommended.
    field = _capped_field()
    ranking = rank(field, Weights.of({"cart_size": 3}))
    new_line, tour = (field.catalog.ids.index(a) for a in ("new_line", "app_tour"))
    turned_away = ranking.first != new_line
    assert turned_away.sum() == 800
    assert (ranking.action[turned_away] == [tour, new_line, -1]).all()
    assert (ranking.action[~turned_away] == [new_line, -1, -1]).all()
    assert reasons(field, ranking.weights, int(np.argmax(turned_away)), tour) == (
        "next eligible action (a cap is full)"
    )
    # No cap, nobody is turned away: all 1,000 get the new line and nothing else.
    free = rank(field, Weights.of({"cart_size": 3}), Guardrails(caps=False))
    assert (free.action == [new_line, -1, -1]).all()


def test_issue_19_recommendation_files_carry_their_stamp(tiny_warehouse_template, tmp_path):
    # The tiny company's Brazil (4 live sellers, data as of 2026-03-02), one action. Sam
    # saves the weights (every priority x1, guardrails on) as "Q2 push" and publishes it;
    # Ana, an analyst for Brazil, exports them at 2026-12-06 09:30.
    import datetime as dt
    import json

    import pyarrow.parquet as pq

    cat = parse_catalog(
        {"version": "t", "baseline": ONES | {"sales": 2}, "follow_through": [0.3, 0.15, 0.08],
         "actions": [{"id": "app_tour", "label": "App tour", "description": "d",
                      "impact": {"adoption": 1.0}}]},
        vocab=VOCAB,
    )  # fmt: skip
    with company(tiny_warehouse_template, "BR") as br:
        brazil = load_field(br, load_config(), catalog=cat)
    saved_at, trail = tmp_path / "s.sqlite", tmp_path / "a.sqlite"
    sc = scenarios.save("Q2 push", Weights.of(ONES), Guardrails(), user=STRATEGIST,
                        field=brazil, path=saved_at)  # fmt: skip
    done = scenarios.publish(sc.id, user=STRATEGIST, path=saved_at, audit_path=trail)
    when = f"{done.published_at:%Y-%m-%d %H:%M}"
    now = dt.datetime(2026, 12, 6, 9, 30)
    ranking = rank(brazil, Weights.of(ONES))
    head = [
        "Report: What-if recommendations: every live seller's three actions and main reasons",
        "Weights: Customer retention x1, Repeat customers x1, Cart size x1, Weekly sales x1, "
        "Business building x1, App adoption x1, Compliance x1",
        "Guardrails: mandatory actions kept, caps applied",
        f'Scenario: "Q2 push" (scenario {sc.id})',
        f'Published: "Q2 push" (scenario {sc.id}), published by sam on {when}',
        "Catalog: t",
        "As of: 2026-03-02",
        "Scope: BR",
        "Rows: 4",
        "Generated by: ana",
        "Generated at: 2026-12-06T09:30:00",
    ]
    data = files.export_recommendations(ANALYST_BR, brazil, ranking, "csv", audit_path=trail,
                                        scenarios_path=saved_at, now=now)  # fmt: skip
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[: len(head)] == [f"# {h}" for h in head]
    assert lines[len(head)].startswith('"seller_id",')
    # Parquet: the same stamp in the file's metadata.
    data = files.export_recommendations(
        ANALYST_BR, brazil, ranking, "parquet", audit_path=trail, scenarios_path=saved_at, now=now
    )
    meta = pq.read_metadata(io.BytesIO(data)).metadata
    stamp = json.loads(meta[b"cxm.stamp"])
    assert [f"{k}: {v}" for k, v in stamp.items()] == head
    # Other weights are "unsaved"; the JSON carries its stamp too (no rows in it).
    loud = Weights.of(ONES | {"adoption": 3})
    got = json.loads(files.field_platform_json(brazil, loud, ANALYST_BR, scenarios_path=saved_at,
                                               now=now))  # fmt: skip
    assert got["stamp"]["Scenario"] == "unsaved"
    assert got["stamp"]["Weights"].endswith("App adoption x3, Compliance x1")
    assert "Rows" not in got["stamp"] and got["weights"]["adoption"] == 3.0


def test_issue_19_published_is_the_last_published_scenario_with_who_and_when(tmp_path):
    # Before any publication: the catalog's weights (every priority x1). Sam publishes
    # "A" (retention x2), then "B" (guardrails off), then "A" again: A is published.
    path, trail = tmp_path / "s.sqlite", tmp_path / "a.sqlite"
    field = _field(MARIA)
    before = scenarios.published(field.catalog, path=path)
    assert (before.scenario, before.weights) == (None, Weights.of(ONES))
    assert before.describe() == "the catalog's weights (catalog test.1; no scenario published yet)"
    a = scenarios.save("A", Weights.of(ONES | {"retention": 2}), Guardrails(), user=STRATEGIST,
                       field=field, path=path)  # fmt: skip
    b = scenarios.save("B", Weights.of(ONES), Guardrails(False, False), user=STRATEGIST,
                       field=field, path=path)  # fmt: skip
    scenarios.publish(a.id, user=STRATEGIST, path=path, audit_path=trail)
    scenarios.publish(b.id, user=STRATEGIST, path=path, audit_path=trail)
    now = scenarios.published(field.catalog, path=path)
    assert (now.scenario.id, now.guardrails, now.published_by) == (b.id, Guardrails(False, False),
                                                                   "sam")  # fmt: skip
    scenarios.publish(a.id, user=STRATEGIST, path=path, audit_path=trail)
    now = scenarios.published(field.catalog, path=path)
    assert (now.scenario.name, now.weights.as_dict()["retention"]) == ("A", 2.0)
    assert now.describe() == (
        f'"A" (scenario {a.id}), published by sam on {now.published_at:%Y-%m-%d %H:%M}'
    )
    # Three publications, three audit entries.
    assert audit.entries(path=trail)["action"].to_list() == ["publish scenario"] * 3
    # A file from before publications were kept: the latest mark on a scenario counts.
    import sqlite3

    with sqlite3.connect(path) as con:
        con.execute("DELETE FROM publications")
        con.execute("UPDATE scenarios SET published_at = '2026-01-01 00:00:00' WHERE id = ?",
                    [b.id])  # fmt: skip
    assert scenarios.published(field.catalog, path=path).scenario.id == a.id
    with sqlite3.connect(path) as con:
        con.execute("UPDATE scenarios SET published_at = '2030-01-01 00:00:00' WHERE id = ?",
                    [b.id])  # fmt: skip
    assert scenarios.published(field.catalog, path=path).scenario.id == b.id
    # The comparison is made against it: Maria's baseline under A puts the reminder first
    # (retention x2: 2 x 0.8 x 0.375 + 0.15 = 0.75 > the upsell's 0.68).
    base = field.baseline(now.guardrails, now.weights)
    assert field.catalog.ids[base.first[0]] == "reorder_reminder"


def test_issue_19_the_headline_states_every_gain_and_every_cost_in_order():
    # The issue's retention preset, per 1,000 sellers (published -> scenario): retention
    # 20 -> 42 (+110%), repeat customers 10 -> 11 (+10%), business building 30 -> 12.9
    # (-57%), cart size 25 -> 16 (-36%), weekly sales 100 -> 87 (-13%), adoption 8 -> 8.02
    # (+0.25%, inside 0.5%: unchanged), compliance 0 -> 0 (unchanged).
    frame = pl.DataFrame(
        {
            "priority": list(PRIORITIES),
            "label": ["Customer retention", "Repeat customers", "Cart size", "Weekly sales",
                      "Business building", "App adoption", "Compliance"],
            "baseline": [20.0, 10.0, 25.0, 100.0, 30.0, 8.0, 0.0],
            "scenario": [42.0, 11.0, 16.0, 87.0, 12.9, 8.02, 0.0],
        }
    )  # fmt: skip
    said = summary.effect(frame).describe()
    assert said == (
        "Gains: Customer retention +110%, Repeat customers +10%. "
        "Costs: Business building -57%, Cart size -36%, Weekly sales -13%. "
        "Unchanged: App adoption, Compliance."
    )
    # A priority that rises from 0 leads the gains; nothing falling says so.
    up = frame.with_columns(scenario=pl.Series([42.0, 11.0, 25.0, 100.0, 30.0, 8.0, 3.0]))
    assert summary.effect(up).describe() == (
        "Gains: Compliance from 0 to 3.0 per 1,000 sellers, Customer retention +110%, "
        "Repeat customers +10%. No priority loses. Unchanged: Cart size, Weekly sales, "
        "Business building, App adoption."
    )


def test_issue_19_cxm_whatif_compares_with_the_published_scenario_and_says_so(
    small_demo_warehouse, tmp_path, monkeypatch
):
    from typer.testing import CliRunner

    from cxm.cli import app

    saved_at = tmp_path / "s.sqlite"
    monkeypatch.setenv("CXM_AUDIT", str(tmp_path / "audit.sqlite"))
    monkeypatch.setenv("CXM_SCENARIOS", str(saved_at))
    with company(small_demo_warehouse, "BR") as br:
        field = load_field(br, load_config())
    push = Weights.of(field.catalog.presets["retention_quarter"].weights)
    # Published with the caps off: the command's guardrails follow it unless told otherwise.
    loose = Guardrails(caps=False)
    sc = scenarios.save("Retention push", push, loose, user=STRATEGIST, field=field,
                        path=saved_at)  # fmt: skip
    done = scenarios.publish(sc.id, user=STRATEGIST, path=saved_at, audit_path=tmp_path / "a")
    args = ["whatif", "--warehouse", str(small_demo_warehouse), "--market", "BR"]
    target = tmp_path / "recs.csv"
    result = CliRunner().invoke(app, [*args, "--out", str(target)])
    assert result.exit_code == 0, result.output
    # No weights given: the published scenario's, so nobody's first action changes.
    said = " ".join(result.output.split())
    assert (
        f'Published: "Retention push" (scenario {sc.id}), published by sam on '
        f"{done.published_at:%Y-%m-%d %H:%M}: {push.describe()}." in said
    )
    assert f"0 of {field.size:,} sellers (0.0%)" in said
    # The catalog's weights are now a change against it, counted as the library counts.
    catalog = Weights.baseline(field.catalog)
    expected = compare(field, rank(field, catalog, loose), baseline=field.baseline(loose, push))
    flag = ",".join(f"{p}:{w:g}" for p, w in catalog.as_dict().items())
    moved = CliRunner().invoke(app, [*args, "--weights", flag])
    assert expected.changed > 0
    assert f"{expected.changed:,} of {field.size:,} sellers" in " ".join(moved.output.split())
    head = target.read_text(encoding="utf-8-sig").splitlines()[:5]
    assert head[2:4] == [
        "# Guardrails: mandatory actions kept",
        f'# Scenario: "Retention push" (scenario {sc.id})',
    ]
