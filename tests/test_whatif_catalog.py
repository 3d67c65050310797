"""The action catalog (issue 12): checked as a whole, read as arrays by the kernel, exported as
JSON. Eligibility bits are worked out by hand on the six sellers of `test_whatif_rules`."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from cxm.config import load_config
from cxm.errors import CatalogError
from cxm.warehouse.demo._training import COURSES as DEMO_COURSES
from cxm.whatif.catalog import DEFAULT_CATALOG, load_catalog, parse_catalog
from cxm.whatif.need import PRIORITIES
from tests.test_whatif_rules import STATE, VOCAB

DEMO_COURSE_IDS = [c[0] for c in DEMO_COURSES]
WEIGHTS = dict.fromkeys(PRIORITIES, 1.0)


def small() -> dict:
    """Return a valid catalog of four actions, as the YAML would read."""
    return {
        "version": "2026.4",
        "baseline": dict(WEIGHTS),
        "presets": {"retention_quarter": {"label": "Retention quarter",
                                          "weights": WEIGHTS | {"retention": 3.0}}},
        "follow_through": [0.30, 0.15, 0.08],
        "actions": [
            {"id": "reorder_reminder", "label": "Remind lapsed customers",
             "description": "A message to lapsed customers.",
             "impact": {"retention": 0.8, "sales": 0.3},
             "content_languages": ["en", "es", "pt-BR"],
             "eligible": {"all": [{"field": "lapsed_customers", "at_least": 1},
                                  {"content_in_language": True}]}},
            {"id": "compliance_course", "label": "Complete a compliance course",
             "description": "Finish the training your rank requires.",
             "impact": {"compliance": 1.0}, "mandatory": True,
             "eligible": {"not": {"course_done": "C02"}}},
            {"id": "share_new_line", "label": "Share the new line",
             "description": "Launch posts.", "impact": {"sales": 0.5, "cart_size": 0.25},
             "max_first_share": 0.25},
            {"id": "host_event", "label": "Host a party", "description": "A party kit.",
             "impact": {"business_building": 0.5},
             "eligible": {"all": [{"field": "rank", "at_least": "Consultant"},
                                  {"field": "frontline", "at_least": 2}]}},
        ],
    }  # fmt: skip


def test_eligibility_sets_one_bit_per_action_as_worked_out_by_hand():
    cat = parse_catalog(small(), vocab=VOCAB)
    # bit 0 reorder_reminder: lapsed >= 1 (S2, S3, S5) and language in en/es/pt-BR -> S2 only.
    # bit 1 compliance_course: C02 not done -> S3, S4, S6.
    # bit 2 share_new_line: no rule -> everyone.
    # bit 3 host_event: rank >= Consultant (S2..S5) and frontline >= 2 (S2, S3, S5) -> S2 S3 S5.
    expected = {"S1": 0b0100, "S2": 0b1101, "S3": 0b1110, "S4": 0b0110, "S5": 0b1100,
                "S6": 0b0110}  # fmt: skip
    bits = cat.eligibility(STATE)
    assert bits.dtype == np.uint64
    assert dict(zip(STATE["seller_id"], bits.tolist(), strict=True)) == expected


def test_eligibility_of_no_sellers_is_empty():
    bits = parse_catalog(small(), vocab=VOCAB).eligibility(STATE.head(0))
    assert bits.shape == (0,) and bits.dtype == np.uint64


def test_the_kernel_arrays_follow_catalog_and_priority_order():
    cat = parse_catalog(small(), vocab=VOCAB)
    impact = cat.impact_matrix()
    assert impact.dtype == np.float32 and impact.shape == (4, len(PRIORITIES))
    # reorder_reminder: retention (column 0) 0.8, sales (column 3) 0.3, the rest 0.
    assert impact[0].tolist() == pytest.approx([0.8, 0, 0, 0.3, 0, 0, 0])
    assert impact[1, PRIORITIES.index("compliance")] == 1.0
    assert cat.mandatory_mask() == np.uint64(0b0010)
    assert cat.caps().dtype == np.float32 and cat.caps().tolist() == [1.0, 1.0, 0.25, 1.0]
    assert cat.ids == ("reorder_reminder", "compliance_course", "share_new_line", "host_event")


def _set(raw: dict, path: tuple, value) -> dict:
    raw = copy.deepcopy(raw)
    *head, last = path
    target = raw
    for key in head:
        target = target[key]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return raw


DELETE = object()


@pytest.mark.parametrize(
    "where, value, code, action, path, hint",
    [
        (("baseline", "cart_size"), 3.5, "weight_out_of_range", None, "baseline.cart_size",
         "between 0 and 3"),
        (("baseline", "sales"), -1, "weight_out_of_range", None, "baseline.sales", None),
        (("baseline", "sales"), "high", "wrong_type", None, "baseline.sales", None),
        (("baseline", "compliance"), DELETE, "missing_priority", None, "baseline", None),
        (("presets", "retention_quarter", "weights", "sales"), 9, "weight_out_of_range", None,
         "presets.retention_quarter.weights.sales", None),
        (("presets", "Retention Q"), {"label": "x", "weights": WEIGHTS}, "bad_id", None,
         "presets.Retention Q", None),
        (("actions", 0, "impact", "retension"), 0.5, "unknown_priority", "reorder_reminder",
         "impact.retension", '"retention"'),
        (("actions", 0, "impact", "retention"), 1.2, "impact_out_of_range", "reorder_reminder",
         "impact.retention", "between 0 and 1"),
        (("actions", 3, "impact"), {"sales": 0}, "no_impact", "host_event", "impact", None),
        (("actions", 0, "content_languages"), ["en", "pt"], "unknown_language",
         "reorder_reminder", "content_languages[1]", '"pt-BR"'),
        (("actions", 0, "content_languages"), ["en", "en"], "duplicate_language",
         "reorder_reminder", "content_languages[1]", None),
        (("actions", 0, "content_languages"), [], "empty_list", "reorder_reminder",
         "content_languages", None),
        (("actions", 3, "id"), "reorder_reminder", "duplicate_action", None, "actions[3].id",
         "actions[0]"),
        (("actions", 3, "id"), "Host-Event", "bad_id", "Host-Event", "id", None),
        (("actions", 3, "label"), DELETE, "missing_key", "host_event", "", None),
        (("actions", 3, "label"), "Host\na party", "bad_text", "host_event", "label", None),
        (("actions", 3, "mandatroy"), True, "unknown_key", "host_event", "mandatroy",
         '"mandatory"'),
        (("actions", 3, "mandatory"), "yes", "wrong_type", "host_event", "mandatory", None),
        (("actions", 2, "max_first_share"), 0, "bad_share", "share_new_line", "max_first_share",
         None),
        (("actions", 2, "max_first_share"), 1.5, "bad_share", "share_new_line",
         "max_first_share", None),
        (("actions", 3, "eligible", "all", 1, "field"), "frontlines", "unknown_field",
         "host_event", "eligible.all[1]", '"frontline"'),
        (("actions",), [], "no_actions", None, "actions", None),
        (("actions",), "all of them", "wrong_type", None, "actions", None),
        (("version",), 2026.4, "wrong_type", None, "version", 'quote it: "2026.4"'),
        (("follow_through",), [0.1, 0.2, 0.05], "bad_follow_through", None, "follow_through",
         None),
        (("follow_through",), [0.3, 0.15], "bad_follow_through", None, "follow_through", None),
        (("follow_through",), [1.3, 0.15, 0.1], "bad_follow_through", None, "follow_through",
         None),
        (("weights",), WEIGHTS, "unknown_key", None, "weights", "keys are version, baseline"),
    ],
)  # fmt: skip
def test_a_bad_catalog_is_refused_with_code_action_path_and_hint(
    where, value, code, action, path, hint
):
    with pytest.raises(CatalogError) as info:
        parse_catalog(_set(small(), where, value), vocab=VOCAB)
    issues = info.value.issues
    assert [(i.code, i.action, i.path) for i in issues] == [(code, action, path)]
    assert issues[0].source == "actions.yaml"
    if hint is not None:
        assert hint in issues[0].hint


def test_every_catalog_problem_comes_at_once_with_the_rule_problems():
    raw = _set(small(), ("baseline", "cart_size"), 3.5)
    raw = _set(raw, ("actions", 0, "impact", "bogus"), 0.5)
    raw = _set(raw, ("actions", 3, "eligible", "all", 0, "at_least"), "Boss")
    with pytest.raises(CatalogError) as info:
        parse_catalog(raw, vocab=VOCAB)
    assert [(i.code, i.action, i.path) for i in info.value.issues] == [
        ("weight_out_of_range", None, "baseline.cart_size"),
        ("unknown_priority", "reorder_reminder", "impact.bogus"),
        ("unknown_rank", "host_event", "eligible.all[0]"),
    ]


def test_more_than_63_actions_or_2_mandatory_ones_are_refused():
    one = small()["actions"][3]
    raw = _set(small(), ("actions",), [one | {"id": f"a{i}"} for i in range(64)])
    with pytest.raises(CatalogError) as info:
        parse_catalog(raw, vocab=VOCAB)
    assert info.value.codes == {"too_many_actions"}
    raw = _set(small(), ("actions",), [one | {"id": f"a{i}", "mandatory": True} for i in range(3)])
    with pytest.raises(CatalogError) as info:
        parse_catalog(raw, vocab=VOCAB)
    assert info.value.codes == {"too_many_mandatory"}


BAD_YAML = """\
version: "2026.4"
baseline: {retention: 1, repeat_customers: 1, cart_size: 1, sales: 1,
           business_building: 1, adoption: 1, compliance: 1}
follow_through: [0.3, 0.15, 0.08]
actions:
  - id: welcome_call
    label: Welcome call
     description: Call them.
"""


def test_bad_yaml_is_refused_with_its_line(tmp_path):
    path = tmp_path / "actions.yaml"
    path.write_text(BAD_YAML, encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(path, cfg=load_config(), course_ids=DEMO_COURSE_IDS)
    [issue] = info.value.issues
    assert (issue.code, issue.lineno) == ("bad_yaml", 8)  # the over-indented description
    assert str(info.value).splitlines()[1].startswith("actions.yaml line 8: is not valid YAML")


GOOD_YAML_BAD_VALUES = """\
version: "2026.4"
baseline: {retention: 1, repeat_customers: 1, cart_size: 3.5, sales: 1,
           business_building: 1, adoption: 1, compliance: 1}
follow_through: [0.3, 0.15, 0.08]
actions:
  - id: welcome_call
    label: Welcome call
    description: Call them.
    impact: {business_building: 0.6}
    eligible:
      all:
        - {field: status, is: active}
        - {field: downline_new, at_least: 1}
"""


def test_each_problem_carries_its_yaml_line(tmp_path):
    path = tmp_path / "acme.yaml"
    path.write_text(GOOD_YAML_BAD_VALUES, encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(path, cfg=load_config(), course_ids=DEMO_COURSE_IDS)
    assert [(i.code, i.lineno) for i in info.value.issues] == [
        ("weight_out_of_range", 2),
        ("unknown_field", 13),
    ]
    assert str(info.value).splitlines()[2] == (
        'acme.yaml line 13, action "welcome_call", eligible.all[1]: unknown field "downline_new"'
        ' [unknown_field]; did you mean "new_downline_30d" or "frontline"?'
    )


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(CatalogError) as info:
        load_catalog(tmp_path / "nope.yaml", cfg=load_config(), course_ids=DEMO_COURSE_IDS)
    assert info.value.codes == {"no_file"}


def test_cxm_actions_points_at_another_catalog(tmp_path, monkeypatch):
    path = tmp_path / "mine.yaml"
    path.write_text(json.dumps(small()), encoding="utf-8")  # JSON is YAML too
    monkeypatch.setenv("CXM_ACTIONS", str(path))
    cat = load_catalog(cfg=load_config(), course_ids=DEMO_COURSE_IDS)
    assert len(cat.actions) == 4


@pytest.fixture(scope="module")
def default():
    return load_catalog(DEFAULT_CATALOG, cfg=load_config(), course_ids=DEMO_COURSE_IDS)


def test_the_default_catalog_loads_against_the_demo_company(default):
    assert default.version == "2026.4"
    assert 20 <= len(default.actions) <= 64
    assert default.presets["retention_quarter"].label == "Retention quarter"
    assert default.presets["cart_size_push"].label == "Cart size push"
    assert default.follow_through == (0.30, 0.15, 0.08)
    assert set(default.baseline) == set(PRIORITIES)
    by_id = {a.id: a for a in default.actions}
    assert by_id["share_new_line"].max_first_share == 0.25
    assert [a.id for a in default.actions if a.mandatory] == ["compliance_course"]
    assert by_id["compliance_course"].describe_eligible() == "compliance missing at least 1"
    for a in default.actions:  # 1 to 3 priorities each
        assert 1 <= sum(v > 0 for v in a.impact.values()) <= 3, a.id


def test_the_default_catalog_on_the_hand_sellers(default):
    bit = {a.id: i for i, a in enumerate(default.actions)}
    bits = dict(zip(STATE["seller_id"], default.eligibility(STATE).tolist(), strict=True))

    def has(seller, action):
        return bool(bits[seller] >> bit[action] & 1)

    # reorder_reminder: lapsed S2, S3, S5; no Japanese content -> S3 (ja) left out.
    assert [s for s in bits if has(s, "reorder_reminder")] == ["S2", "S5"]
    # social_sharing needs C04 done (S2, S4); no French content (S6 has no C04 anyway).
    assert [s for s in bits if has(s, "social_sharing")] == ["S2", "S4"]
    # badge_nudge: rank_progress in [0.8, 1) -> S2 0.85, S4 0.8; not S3 at 1.0.
    assert [s for s in bits if has(s, "badge_nudge")] == ["S2", "S4"]


def test_to_json_is_deterministic_and_reads_back_to_the_same_catalog(default):
    text = default.to_json()
    assert text == default.to_json()
    payload = json.loads(text)
    assert list(payload) == sorted(payload)
    assert payload["weights"] == default.baseline
    assert payload["priorities"] == list(PRIORITIES)
    assert [a["id"] for a in payload["catalog"]["actions"]] == list(default.ids)  # bit order
    again = parse_catalog(payload["catalog"], vocab=default.vocab)
    assert again == default
    assert again.to_json() == text


def test_to_json_carries_the_scenarios_weights_and_checks_them(default):
    weights = WEIGHTS | {"retention": 3.0}
    assert json.loads(default.to_json(weights))["weights"]["retention"] == 3.0
    with pytest.raises(CatalogError) as info:
        default.to_json({"retention": 4.0})
    assert info.value.codes == {"weight_out_of_range", "missing_priority"}
